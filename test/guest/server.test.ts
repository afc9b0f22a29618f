// The 9P2000.L server over the fs reference model (tools/model/fs-model.ts, served through
// the kernel so every call crosses the fs protocol): each message's effect as seen through
// the fs client, the errno Linux would get for each mistake, fid bookkeeping, locks, flush.
import { afterEach, describe, expect, it } from 'vitest';
import { Kernel } from '../../kernel/kernel.ts';
import { FsClient, ROOT_INO } from '../../services/fs/protocol.ts';
import { P9Server } from '../../services/9p/server.ts';
import { NOFID } from '../../services/9p/codec.ts';
import { S_IFDIR, S_IFLNK, S_IFREG } from '../../services/9p/handlers/attrs.ts';
import { modelFsManifest } from '../../tools/model/fs-model.ts';
import { p9Manifest } from '../../services/9p/service.ts';
import { P9ServiceClient } from '../../services/9p/protocol.ts';
import { P9Client, P9ClientError } from './p9client.ts';

const O_RDONLY = 0;
const O_WRONLY = 1;
const O_RDWR = 2;
const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;
const AT_REMOVEDIR = 0x200;
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

let kernel: Kernel | undefined;

async function setup(): Promise<{ c: P9Client; root: number; fs: FsClient; server: P9Server }> {
  kernel = new Kernel({ seed: 9 });
  await kernel.spawn(modelFsManifest());
  const fs = new FsClient(kernel.attach({ name: 'p9test', calls: ['fs'] }));
  const server = new P9Server(fs, { log: (l) => console.error(l) });
  const c = new P9Client((req) => server.handle(req));
  const root = await c.mount();
  return { c, root, fs, server };
}

async function errnoOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof P9ClientError) return e.errno;
    throw e;
  }
  return 'no error';
}

afterEach(async () => {
  await kernel?.shutdown();
  kernel = undefined;
});

describe('9P server over the fs reference model', () => {
  it('negotiates msize and refuses everything before Tversion', async () => {
    kernel = new Kernel({ seed: 1 });
    await kernel.spawn(modelFsManifest());
    const server = new P9Server(new FsClient(kernel.attach({ name: 'p9test', calls: ['fs'] })));
    const c = new P9Client((req) => server.handle(req));
    expect(await errnoOf(c.rpc('Tattach', { fid: 1, afid: NOFID, uname: '', aname: '', nUname: 0 }, 'Rattach'))).toBe('EPROTO');
    expect((await c.rpc('Tversion', { msize: 1 << 24, version: '9P2000.L' }, 'Rversion')).msize).toBe(512 * 1024 + 4096);
    expect((await c.rpc('Tversion', { msize: 8192, version: '9P2000.L' }, 'Rversion')).msize).toBe(8192);
    expect((await c.rpc('Tversion', { msize: 8192, version: '9P2000.u' }, 'Rversion')).version).toBe('unknown');
    expect(await errnoOf(c.rpc('Tversion', { msize: 100, version: '9P2000.L' }, 'Rversion'))).toBe('EINVAL');
  });

  it('creates, writes, reads back, and the fs client sees the same bytes', async () => {
    const { c, root, fs } = await setup();
    const data = new Uint8Array(300_000).map((_, i) => (i * 7 + 3) & 0xff);
    await c.writeFile(root, 'big.bin', data);
    expect(await c.readFile(root, 'big.bin')).toEqual(data);
    const attr = await fs.resolve('/big.bin');
    expect(attr.sizeBytes).toBe(data.length);
    const { handle } = await fs.open(attr.ino, { read: true });
    expect(new Uint8Array(await fs.read(handle, 1000, 10))).toEqual(data.subarray(1000, 1010));
    await fs.close(handle);
  });

  it('maps getattr, setattr and statfs', async () => {
    const { c, root } = await setup();
    await c.writeFile(root, 'f', enc('hello'), 0o640);
    const f = await c.walk(root, 'f');
    const a = await c.rpc('Tgetattr', { fid: f, requestMask: 0x3fff }, 'Rgetattr');
    expect(a.mode).toBe(S_IFREG | 0o640);
    expect(a.size).toBe(5);
    expect(a.nlink).toBe(1);
    expect(a.qid.type).toBe(0);
    // chmod + truncate + explicit mtime
    await c.rpc('Tsetattr', { fid: f, valid: 0x1 | 0x8 | 0x20 | 0x100, mode: 0o600, uid: 0, gid: 0, size: 2, atimeSec: 0, atimeNsec: 0, mtimeSec: 12345, mtimeNsec: 6 }, 'Rsetattr');
    const b = await c.rpc('Tgetattr', { fid: f, requestMask: 0x3fff }, 'Rgetattr');
    expect([b.mode, b.size, b.mtimeSec, b.mtimeNsec]).toEqual([S_IFREG | 0o600, 2, 12345, 6]);
    expect(await errnoOf(c.rpc('Tsetattr', { fid: root, valid: 0x8, mode: 0, uid: 0, gid: 0, size: 0, atimeSec: 0, atimeNsec: 0, mtimeSec: 0, mtimeNsec: 0 }, 'Rsetattr'))).toBe('EISDIR');
    const st = await c.rpc('Tstatfs', { fid: root }, 'Rstatfs');
    expect(st.fsType).toBe(0x01021997);
    expect(st.namelen).toBe(255);
    const r = await c.rpc('Tgetattr', { fid: root, requestMask: 0x3fff }, 'Rgetattr');
    expect(r.mode & 0o170000).toBe(S_IFDIR);
    expect(r.qid).toMatchObject({ type: 0x80, path: ROOT_INO });
  });

  it('walks: clone, multi-name, partial, missing, and fids stay valid across rename', async () => {
    const { c, root, fs } = await setup();
    const a = await fs.mkdir(ROOT_INO, 'a');
    const b = await fs.mkdir(a.ino, 'b');
    await c.writeFile(await c.walk(root, 'a/b'), 'f', enc('x'));
    const clone = c.fid();
    expect((await c.rpc('Twalk', { fid: root, newfid: clone, wnames: [] }, 'Rwalk')).wqids).toEqual([]);
    const w = await c.rpc('Twalk', { fid: clone, newfid: c.fid(), wnames: ['a', 'b', 'f'] }, 'Rwalk');
    expect(w.wqids.map((q) => q.path)).toEqual([a.ino, b.ino, (await fs.resolve('/a/b/f')).ino]);
    // A later name missing: the qids walked so far, and no new fid.
    const partialFid = c.fid();
    const p = await c.rpc('Twalk', { fid: root, newfid: partialFid, wnames: ['a', 'nope', 'x'] }, 'Rwalk');
    expect(p.wqids.length).toBe(1);
    expect(await errnoOf(c.rpc('Tclunk', { fid: partialFid }, 'Rclunk'))).toBe('EBADF');
    expect(await errnoOf(c.walk(root, 'nope'))).toBe('ENOENT');
    expect(await errnoOf(c.walk(await c.walk(root, 'a/b/f'), 'g'))).toBe('ENOTDIR');
    expect(await errnoOf(c.rpc('Twalk', { fid: root, newfid: clone, wnames: ['a'] }, 'Rwalk'))).toBe('EBADF');
    const dotdot = await c.rpc('Twalk', { fid: root, newfid: c.fid(), wnames: ['a', 'b', '..', '..'] }, 'Rwalk');
    expect(dotdot.wqids[3].path).toBe(ROOT_INO);
    // A fid keeps naming its file after the file is renamed.
    const f = await c.walk(root, 'a/b/f');
    await c.rpc('Trenameat', { olddirfid: await c.walk(root, 'a/b'), oldname: 'f', newdirfid: root, newname: 'moved' }, 'Rrenameat');
    await c.rpc('Tlopen', { fid: f, flags: O_RDONLY }, 'Rlopen');
    expect(dec((await c.rpc('Tread', { fid: f, offset: 0, count: 10 }, 'Rread')).data)).toBe('x');
  });

  it('lists directories with . and .. and resumes at any offset', async () => {
    const { c, root, fs } = await setup();
    const d = await fs.mkdir(ROOT_INO, 'd');
    const names = Array.from({ length: 300 }, (_, i) => `file-${String(i).padStart(4, '0')}-${'x'.repeat(i % 40)}`);
    for (const n of names) await fs.symlink(d.ino, n, 'target');
    await fs.mkdir(d.ino, 'sub');
    // Small replies force many Treaddir rounds.
    const entries = await c.readdir(root, 'd', 200);
    expect(entries.slice(0, 2).map((e) => e.name)).toEqual(['.', '..']);
    expect(entries[1].qid.path).toBe(ROOT_INO);
    expect(entries.slice(2).map((e) => e.name).sort()).toEqual([...names, 'sub'].sort());
    expect(entries.find((e) => e.name === 'sub')?.type).toBe(4);
    expect(entries.find((e) => e.name === names[0])?.type).toBe(10);
    // Offsets are strictly increasing and each resumes right after its entry.
    const fid = await c.walk(root, 'd');
    await c.rpc('Tlopen', { fid, flags: 0 }, 'Rlopen');
    for (const k of [0, 1, 2, 57, entries.length - 1]) {
      const r = await c.rpc('Treaddir', { fid, offset: entries[k].offset, count: 4096 }, 'Rreaddir');
      const next = (await import('../../services/9p/codec.ts')).decodeDirents(r.data);
      expect(next[0]?.name).toBe(entries[k + 1]?.name);
    }
    expect(await errnoOf(c.rpc('Treaddir', { fid: await c.walk(root, 'd/sub'), offset: 0, count: 10 }, 'Rreaddir'))).toBe('no error');
  });

  it('mkdir, symlink, readlink, link, rename, unlinkat with the errors Linux expects', async () => {
    const { c, root, fs } = await setup();
    const m = await c.rpc('Tmkdir', { dfid: root, name: 'dir', mode: 0o750, gid: 0 }, 'Rmkdir');
    expect(m.qid.type).toBe(0x80);
    expect(await errnoOf(c.rpc('Tmkdir', { dfid: root, name: 'dir', mode: 0o750, gid: 0 }, 'Rmkdir'))).toBe('EEXIST');
    expect(await errnoOf(c.rpc('Tmkdir', { dfid: root, name: 'n'.repeat(256), mode: 0o750, gid: 0 }, 'Rmkdir'))).toBe('ENAMETOOLONG');
    const dir = await c.walk(root, 'dir');
    await c.writeFile(dir, 'file', enc('data'));
    const s = await c.rpc('Tsymlink', { fid: dir, name: 'link', symtgt: '../dir/file', gid: 0 }, 'Rsymlink');
    expect(s.qid.type).toBe(0x02);
    const l = await c.walk(dir, 'link');
    expect((await c.rpc('Treadlink', { fid: l }, 'Rreadlink')).target).toBe('../dir/file');
    expect((await c.rpc('Tgetattr', { fid: l, requestMask: 0x3fff }, 'Rgetattr')).mode & 0o170000).toBe(S_IFLNK);
    expect(await errnoOf(c.rpc('Treadlink', { fid: dir }, 'Rreadlink'))).toBe('EINVAL');
    await c.rpc('Tlink', { dfid: root, fid: await c.walk(dir, 'file'), name: 'hard' }, 'Rlink');
    expect((await fs.resolve('/hard')).nlink).toBe(2);
    expect(await errnoOf(c.rpc('Tlink', { dfid: root, fid: dir, name: 'dirlink' }, 'Rlink'))).toBe('EPERM');
    expect(await errnoOf(c.rpc('Tunlinkat', { dirfid: root, name: 'dir', flags: AT_REMOVEDIR }, 'Runlinkat'))).toBe('ENOTEMPTY');
    expect(await errnoOf(c.rpc('Tunlinkat', { dirfid: root, name: 'dir', flags: 0 }, 'Runlinkat'))).toBe('EISDIR');
    expect(await errnoOf(c.rpc('Tunlinkat', { dirfid: root, name: 'nothing', flags: 0 }, 'Runlinkat'))).toBe('ENOENT');
    expect(await errnoOf(c.rpc('Trenameat', { olddirfid: root, oldname: 'dir', newdirfid: dir, newname: 'inside' }, 'Rrenameat'))).toBe('EINVAL');
    await c.rpc('Tunlinkat', { dirfid: dir, name: 'file', flags: 0 }, 'Runlinkat');
    await c.rpc('Tunlinkat', { dirfid: dir, name: 'link', flags: 0 }, 'Runlinkat');
    await c.rpc('Trename', { fid: dir, dfid: root, name: 'renamed' }, 'Rrename');
    expect((await fs.resolve('/renamed')).type).toBe('dir');
    await c.rpc('Tremove', { fid: dir }, 'Rremove');
    expect(await fs.resolve('/renamed').then(() => 'exists', (e: { code: string }) => e.code)).toBe('ENOENT');
    expect(await errnoOf(c.rpc('Tclunk', { fid: dir }, 'Rclunk'))).toBe('EBADF');
    expect(await errnoOf(c.rpc('Tmknod', { dfid: root, name: 'fifo', mode: 0o10644, major: 0, minor: 0, gid: 0 }, 'Rmknod'))).toBe('EPERM');
    expect(await errnoOf(c.rpc('Txattrwalk', { fid: root, newfid: c.fid(), name: 'security.selinux' }, 'Rxattrwalk'))).toBe('EOPNOTSUPP');
  });

  it('honours open flags: read-only, truncate, append; read past the end is empty', async () => {
    const { c, root } = await setup();
    await c.writeFile(root, 'f', enc('0123456789'));
    const ro = await c.walk(root, 'f');
    await c.rpc('Tlopen', { fid: ro, flags: O_RDONLY }, 'Rlopen');
    expect(await errnoOf(c.rpc('Twrite', { fid: ro, offset: 0, data: enc('x') }, 'Rwrite'))).toBe('EBADF');
    expect((await c.rpc('Tread', { fid: ro, offset: 100, count: 10 }, 'Rread')).data.length).toBe(0);
    expect(await errnoOf(c.rpc('Tlopen', { fid: ro, flags: O_RDONLY }, 'Rlopen'))).toBe('EBADF');
    const ap = await c.walk(root, 'f');
    await c.rpc('Tlopen', { fid: ap, flags: O_WRONLY | O_APPEND }, 'Rlopen');
    await c.rpc('Twrite', { fid: ap, offset: 0, data: enc('AB') }, 'Rwrite');
    await c.clunk(ap);
    expect(dec(await c.readFile(root, 'f'))).toBe('0123456789AB');
    const tr = await c.walk(root, 'f');
    await c.rpc('Tlopen', { fid: tr, flags: O_RDWR | O_TRUNC }, 'Rlopen');
    await c.clunk(tr);
    expect((await c.readFile(root, 'f')).length).toBe(0);
    const notOpen = await c.walk(root, 'f');
    expect(await errnoOf(c.rpc('Tread', { fid: notOpen, offset: 0, count: 1 }, 'Rread'))).toBe('EBADF');
    expect(await errnoOf(c.rpc('Tread', { fid: root, offset: 0, count: 1 }, 'Rread'))).toBe('EISDIR');
    expect(await errnoOf(c.rpc('Tfsync', { fid: notOpen, datasync: 0 }, 'Rfsync'))).toBe('no error');
  });

  it('grants, refuses and releases POSIX locks per owner', async () => {
    const { c, root } = await setup();
    await c.writeFile(root, 'f', enc('x'));
    const f = await c.walk(root, 'f');
    const lock = (type: number, start: number, length: number, procId: number) =>
      c.rpc('Tlock', { fid: f, lockType: type, flags: 0, start, length, procId, clientId: 'guest' }, 'Rlock');
    expect((await lock(1, 0, 100, 1)).status).toBe(0);
    expect((await lock(0, 50, 10, 2)).status).toBe(1);
    expect((await lock(0, 100, 0, 2)).status).toBe(0);
    const g = await c.rpc('Tgetlock', { fid: f, lockType: 1, start: 0, length: 0, procId: 3, clientId: 'guest' }, 'Rgetlock');
    expect([g.lockType, g.procId]).toEqual([1, 1]);
    expect((await lock(2, 0, 50, 1)).status).toBe(0);
    expect((await lock(0, 0, 50, 2)).status).toBe(0);
    expect((await lock(1, 60, 10, 2)).status).toBe(1);
    expect((await lock(2, 0, 0, 1)).status).toBe(0);
    expect((await lock(1, 60, 10, 2)).status).toBe(0);
    const none = await c.rpc('Tgetlock', { fid: f, lockType: 0, start: 0, length: 0, procId: 2, clientId: 'guest' }, 'Rgetlock');
    expect(none.lockType).toBe(2);
  });

  it('answers Tflush after the request it names, and clunks close handles', async () => {
    const { c, root, server } = await setup();
    await c.writeFile(root, 'f', enc('abc'));
    const before = server.fidCount;
    const f = await c.walk(root, 'f');
    await c.rpc('Tlopen', { fid: f, flags: O_RDONLY }, 'Rlopen');
    expect(server.fidCount).toBe(before + 1);
    await c.clunk(f);
    expect(server.fidCount).toBe(before);
    expect((await c.rpc('Tflush', { oldtag: 4242 }, 'Rflush'))).toEqual({});
  });

  it('runs as a kernel service: messages in and out, stats, and bad bodies refused with BADMSG', async () => {
    kernel = new Kernel({ seed: 4 });
    await kernel.spawn(modelFsManifest());
    await kernel.spawn(p9Manifest());
    const ctx = kernel.attach({ name: 'glue', calls: ['9p'] });
    const svc = new P9ServiceClient(ctx);
    const c = new P9Client((req) => svc.message(req));
    const root = await c.mount();
    await c.writeFile(root, 'via-service', enc('ok'));
    expect(dec(await c.readFile(root, 'via-service'))).toBe('ok');
    expect((await svc.stats()).byMessage.Tlcreate).toBe(1);
    expect(await ctx.call('9p', 'message', { data: 'not bytes' }).then(() => 'ok', (e: { code: string }) => e.code)).toBe('BADMSG');
    expect(await ctx.call('9p', 'nonsense', {}).then(() => 'ok', (e: { code: string }) => e.code)).toBe('BADOP');
  });
});
