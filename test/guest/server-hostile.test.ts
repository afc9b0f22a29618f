// A hostile or broken guest cannot stop the 9P server: random bytes, mutated valid
// messages, R-messages, unknown types, fid floods and misuse all get a well-formed reply
// (Rlerror with the request's tag when it had one), no internal error is counted, and the
// session keeps working afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Kernel } from '../../kernel/kernel.ts';
import { FsClient } from '../../services/fs/protocol.ts';
import { P9Server } from '../../services/9p/server.ts';
import { decodeMessage, encodeMessage, NOFID } from '../../services/9p/codec.ts';
import { FIDS_MAX } from '../../services/9p/limits.ts';
import { modelFsManifest } from '../../tools/model/fs-model.ts';
import { P9Client, P9ClientError } from './p9client.ts';

let kernel: Kernel;
let server: P9Server;
let c: P9Client;
let root: number;
/** A directory fid the mutated messages may use and change (Tlcreate turns it into a file). */
const PLAY_FID = 0x5eed0001;

beforeAll(async () => {
  kernel = new Kernel({ seed: 11 });
  await kernel.spawn(modelFsManifest());
  server = new P9Server(new FsClient(kernel.attach({ name: 'p9test', calls: ['fs'] })), { log: (l) => console.error(l) });
  c = new P9Client((req) => server.handle(req));
  root = await c.mount();
  await c.writeFile(root, 'keep', new TextEncoder().encode('still here'));
  await c.rpc('Tmkdir', { dfid: root, name: 'play', mode: 0o755, gid: 0 }, 'Rmkdir');
});

afterAll(() => kernel.shutdown());

/** Valid T-messages to mutate. */
function samples(): Uint8Array[] {
  const root = PLAY_FID;
  return [
    encodeMessage('Twalk', 3, { fid: root, newfid: 9000, wnames: ['x'] }),
    encodeMessage('Tlcreate', 4, { fid: root, name: 'x', flags: 2, mode: 0o644, gid: 0 }),
    encodeMessage('Twrite', 5, { fid: root, offset: 0, data: new Uint8Array(40) }),
    encodeMessage('Treaddir', 6, { fid: root, offset: 0, count: 100 }),
    encodeMessage('Tsetattr', 7, { fid: root, valid: 0xffff, mode: 0, uid: 0, gid: 0, size: 0, atimeSec: 0, atimeNsec: 0, mtimeSec: 0, mtimeNsec: 0 }),
    encodeMessage('Tlock', 8, { fid: root, lockType: 9, flags: 0, start: 0, length: 0, procId: 1, clientId: 'c' }),
    encodeMessage('Trenameat', 9, { olddirfid: root, oldname: 'x', newdirfid: 12345, newname: 'k2' }),
  ];
}

async function expectReply(req: Uint8Array): Promise<void> {
  const reply = await server.handle(req);
  const msg = decodeMessage(reply);
  expect(msg.name.startsWith('R')).toBe(true);
  if (req.length >= 7) expect(msg.tag).toBe(req[5] | (req[6] << 8));
}

describe('9P server under hostile input', () => {
  it('answers random bytes and mutated messages, never throwing', async () => {
    const replay = async () => {
      await c.rpc('Tclunk', { fid: PLAY_FID }, 'Rclunk').catch(() => {});
      const walk = () => c.rpc('Twalk', { fid: root, newfid: PLAY_FID, wnames: ['play'] }, 'Rwalk');
      // A mutation may have become a Tversion (a new session): attach again then.
      await walk().catch(async () => {
        root = await c.mount();
        await walk();
      });
    };
    await replay();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 120 }), async (bytes) => {
        await expectReply(bytes);
      }),
      { numRuns: 1500 },
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...samples()), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 6 }), fc.boolean(), async (msg, flips, fixSize) => {
        const m = msg.slice();
        for (const [at, v] of flips) m[at % m.length] = v;
        if (fixSize) new DataView(m.buffer).setUint32(0, m.length, true);
        await expectReply(m);
        await replay();
      }),
      { numRuns: 1500 },
    );
    expect(server.stats.internalErrors).toBe(0);
    expect(server.stats.malformed).toBeGreaterThan(0);
    // Random bytes may have been a valid Tversion (which resets the session): attach again.
    root = await c.mount();
    expect(new TextDecoder().decode(await c.readFile(root, 'keep'))).toBe('still here');
  });

  it('refuses R-messages, unknown types and misuse of fids with an errno', async () => {
    const errno = async (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => (e instanceof P9ClientError ? e.errno : String(e)));
    const raw = async (bytes: Uint8Array) => decodeMessage(await server.handle(bytes));
    expect(await raw(encodeMessage('Rclunk', 1, {}))).toEqual({ name: 'Rlerror', tag: 1, body: { ecode: 95 } });
    const unknown = new Uint8Array([7, 0, 0, 0, 99, 2, 0]);
    expect(await raw(unknown)).toEqual({ name: 'Rlerror', tag: 2, body: { ecode: 95 } });
    expect(await errno(c.rpc('Tattach', { fid: root, afid: NOFID, uname: '', aname: '', nUname: 0 }, 'Rattach'))).toBe('EBADF');
    expect(await errno(c.rpc('Tattach', { fid: 77, afid: 5, uname: '', aname: '', nUname: 0 }, 'Rattach'))).toBe('EINVAL');
    expect(await errno(c.rpc('Tattach', { fid: 78, afid: NOFID, uname: '', aname: '/keep', nUname: 0 }, 'Rattach'))).toBe('ENOTDIR');
    expect(await errno(c.rpc('Twalk', { fid: root, newfid: NOFID, wnames: [] }, 'Rwalk'))).toBe('EBADF');
    expect(await errno(c.rpc('Tread', { fid: 424242, offset: 0, count: 10 }, 'Rread'))).toBe('EBADF');
    expect(await errno(c.rpc('Tlock', { fid: root, lockType: 7, flags: 0, start: 0, length: 0, procId: 1, clientId: 'c' }, 'Rlock'))).toBe('EINVAL');
    expect(await errno(c.rpc('Tunlinkat', { dirfid: root, name: 'keep', flags: 0x1 }, 'Runlinkat'))).toBe('EINVAL');
    expect(await errno(c.rpc('Tlcreate', { fid: root, name: 'a/b', flags: 2, mode: 0o644, gid: 0 }, 'Rlcreate'))).toBe('EINVAL');
    expect(await errno(c.rpc('Tsetattr', { fid: root, valid: 0x10 | 0x80, mode: 0, uid: 0, gid: 0, size: 0, atimeSec: 1, atimeNsec: 2e9, mtimeSec: 0, mtimeNsec: 0 }, 'Rsetattr'))).toBe('EINVAL');
    expect(server.stats.internalErrors).toBe(0);
  });

  it('holds at most FIDS_MAX fids and recovers when they are clunked', async () => {
    const first = 1_000_000;
    let refused = 0;
    for (let i = 0; i <= FIDS_MAX; i++) {
      try {
        await c.rpc('Twalk', { fid: root, newfid: first + i, wnames: [] }, 'Rwalk');
      } catch (e) {
        if (!(e instanceof P9ClientError) || e.errno !== 'EMFILE') throw e;
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(0);
    expect(server.fidCount).toBe(FIDS_MAX);
    for (let i = 0; i <= FIDS_MAX; i++) await c.rpc('Tclunk', { fid: first + i }, 'Rclunk').catch(() => {});
    expect(new TextDecoder().decode(await c.readFile(root, 'keep'))).toBe('still here');
  });
});
