// The reference model's by-grant ops (tools/model/fs-model.ts): writeFrom and readInto
// reach the caller's memory only through the memory the model is given (the service's
// ctx.memory: the kernel checks grant, rights and bounds), and are otherwise exactly write
// and read of the segments' bytes as one stream. Behind the fs protocol, FsClient then
// moves large reads and writes by grant against the model, as against services/fs.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Kernel } from '../../kernel/kernel.ts';
import { ServiceError } from '../../kernel/errors.ts';
import type { ServiceContext } from '../../kernel/service.ts';
import { FS_ENDPOINT, FsClient, ROOT_INO, parseFsRequest, type Segment } from '../../services/fs/protocol.ts';
import { FsModel, modelFsManifest } from '../../tools/model/fs-model.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

function patterned(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed * 7 + (i >> 9)) & 0xff;
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof ServiceError) return e.code;
    throw e;
  }
  return 'ok';
}

async function codeOfAsync(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ServiceError) return e.code;
    throw e;
  }
  return 'ok';
}

function recordingClient(user: ServiceContext): { fs: FsClient; ops: string[] } {
  const ops: string[] = [];
  const call: ServiceContext['call'] = (endpoint, op, body, options) => (ops.push(op), user.call(endpoint, op, body, options));
  return { fs: new FsClient({ call, memory: user.memory }), ops };
}

/** One grant over a plain buffer, with the kernel's checks (id, rights, bounds), for the model used directly. */
function fakeMemory(buf: Uint8Array, grantId: number, rights: string) {
  return {
    grantView(id: number, need: 'r' | 'w', offsetBytes = 0, lengthBytes = buf.length - offsetBytes): Uint8Array {
      if (id !== grantId || !rights.includes(need) || offsetBytes < 0 || lengthBytes < 0 || offsetBytes + lengthBytes > buf.length) {
        throw new ServiceError('GRANT', `grant ${id} does not give '${need}' to [${offsetBytes}, +${lengthBytes})`);
      }
      return buf.subarray(offsetBytes, offsetBytes + lengthBytes);
    },
  };
}

describe('the fs model serves data by grant', () => {
  it('behind the protocol, FsClient writes and reads large data by grant, byte for byte', async () => {
    const kernel = new Kernel({ seed: 5 });
    try {
      await kernel.spawn(modelFsManifest());
      const user = kernel.attach({ name: 'model-user', calls: [FS_ENDPOINT] });
      const client = recordingClient(user);
      const data = patterned(300 * KiB, 4);
      const { handle } = await client.fs.create(ROOT_INO, 'm', 0o644);
      expect(await client.fs.write(handle, 0, data)).toBe(data.length);
      expect(await client.fs.write(handle, data.length, data)).toBe(data.length);
      const back = await client.fs.read(handle, 0, MiB);
      expect(sameBytes(back.subarray(0, data.length), data)).toBe(true);
      expect(sameBytes(back.subarray(data.length), data)).toBe(true);
      expect(client.ops.filter((op) => /^(read|write)/.test(op))).toEqual(['writeFrom', 'writeFrom', 'readInto']);

      // Scattered segments of one lent region, and the kernel's refusals.
      const region = user.memory.alloc(MiB);
      const view = user.memory.view(region);
      const grantId = user.memory.grant(region, FS_ENDPOINT, 'rw');
      view.fill(0);
      const from: Segment[] = [
        { grantId, offsetBytes: 100, lengthBytes: 10 },
        { grantId, offsetBytes: 5000, lengthBytes: 70_000 },
      ];
      view.set(data.subarray(0, 10), 100);
      view.set(data.subarray(10, 70_010), 5000);
      expect(await client.fs.writeFrom(handle, 7, from)).toBe(70_010);
      const into: Segment[] = [
        { grantId, offsetBytes: 200_000, lengthBytes: 3 },
        { grantId, offsetBytes: 300_000, lengthBytes: 80_000 },
      ];
      expect(await client.fs.readInto(handle, 7, 70_010, into)).toBe(70_010);
      expect(sameBytes(view.subarray(200_000, 200_003), data.subarray(0, 3))).toBe(true);
      expect(sameBytes(view.subarray(300_000, 300_000 + 70_007), data.subarray(3, 70_010))).toBe(true);
      expect(await codeOfAsync(client.fs.readInto(handle, 0, 4096, [{ grantId, offsetBytes: MiB - 10, lengthBytes: 4096 }]))).toBe('GRANT');
      expect(await codeOfAsync(client.fs.writeFrom(handle, 0, [{ grantId: grantId + 99, offsetBytes: 0, lengthBytes: 1 }]))).toBe('GRANT');
      expect(await codeOfAsync(client.fs.readInto(handle, 0, 4096, [{ grantId, offsetBytes: 0, lengthBytes: 100 }]))).toBe('EINVAL');
      const ro = await client.fs.open((await client.fs.lookup(ROOT_INO, 'm')).ino, { read: true });
      expect(await codeOfAsync(client.fs.writeFrom(ro.handle, 0, [{ grantId, offsetBytes: 0, lengthBytes: 1 }]))).toBe('EBADF');
    } finally {
      await kernel.shutdown();
    }
  });

  it('with byGrant: false it answers them with nothing, and FsClient goes inline', async () => {
    const kernel = new Kernel({ seed: 6 });
    try {
      await kernel.spawn(modelFsManifest('fs-model', FS_ENDPOINT, { byGrant: false }));
      const user = kernel.attach({ name: 'model-user', calls: [FS_ENDPOINT] });
      const client = recordingClient(user);
      const data = patterned(300 * KiB, 8);
      const { handle } = await client.fs.create(ROOT_INO, 'm', 0o644);
      expect(await client.fs.write(handle, 0, data)).toBe(data.length);
      expect(sameBytes(await client.fs.read(handle, 0, MiB), data)).toBe(true);
      expect(client.ops.filter((op) => /^(read|write)/.test(op))).toEqual(['writeFrom', 'write', 'read']);
    } finally {
      await kernel.shutdown();
    }
  });

  it('without memory the model refuses them with GRANT', () => {
    const m = new FsModel();
    const { handle } = m.apply(parseFsRequest('create', { parent: ROOT_INO, name: 'f', mode: 0o644 })) as { handle: number };
    expect(codeOf(() => m.apply(parseFsRequest('writeFrom', { handle, offsetBytes: 0, from: [{ grantId: 1, offsetBytes: 0, lengthBytes: 1 }] })))).toBe('GRANT');
    expect(codeOf(() => m.apply(parseFsRequest('readInto', { handle, offsetBytes: 0, lengthBytes: 1, into: [{ grantId: 1, offsetBytes: 0, lengthBytes: 1 }] })))).toBe('GRANT');
  });

  it('writeFrom and readInto are write and read of the segments as one stream (against the inline model)', () => {
    const segmentsArb = fc.array(fc.record({ offsetBytes: fc.integer({ min: 0, max: 900 }), lengthBytes: fc.integer({ min: 1, max: 120 }) }), { minLength: 1, maxLength: 4 });
    const opArb = fc.oneof(
      fc.record({ kind: fc.constant('write' as const), offsetBytes: fc.integer({ min: 0, max: 2000 }), segments: segmentsArb, seed: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('read' as const), offsetBytes: fc.integer({ min: 0, max: 2500 }), lengthBytes: fc.integer({ min: 0, max: 400 }), segments: segmentsArb }),
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 25 }), (ops) => {
        const buf = new Uint8Array(1024);
        const memory = fakeMemory(buf, 7, 'rw');
        const byGrant = new FsModel();
        const inline = new FsModel();
        const open = (m: FsModel) => (m.apply(parseFsRequest('create', { parent: ROOT_INO, name: 'f', mode: 0o644 })) as { handle: number }).handle;
        const hg = open(byGrant), hi = open(inline);
        for (const op of ops) {
          const segs: Segment[] = op.segments.map((s) => ({ grantId: 7, offsetBytes: s.offsetBytes, lengthBytes: s.lengthBytes }));
          if (op.kind === 'write') {
            buf.set(patterned(buf.length, op.seed));
            const stream = Buffer.concat(segs.map((s) => buf.subarray(s.offsetBytes, s.offsetBytes + s.lengthBytes)));
            const a = byGrant.apply(parseFsRequest('writeFrom', { handle: hg, offsetBytes: op.offsetBytes, from: segs }), memory);
            const b = inline.apply(parseFsRequest('write', { handle: hi, offsetBytes: op.offsetBytes, data: new Uint8Array(stream) }));
            expect(a).toEqual(b);
          } else {
            buf.fill(0xee);
            const before = buf.slice();
            const room = segs.reduce((n, s) => n + s.lengthBytes, 0);
            const call = () => byGrant.apply(parseFsRequest('readInto', { handle: hg, offsetBytes: op.offsetBytes, lengthBytes: op.lengthBytes, into: segs }), memory) as { countBytes: number };
            if (room < op.lengthBytes) {
              expect(codeOf(call)).toBe('EINVAL');
              continue;
            }
            const { countBytes } = call();
            const { data } = inline.apply(parseFsRequest('read', { handle: hi, offsetBytes: op.offsetBytes, lengthBytes: op.lengthBytes })) as { data: Uint8Array };
            expect(countBytes).toBe(data.length);
            // The stream lands in the segments in order; bytes past the count are left as they were.
            const expected = before.slice();
            let at = 0;
            for (const s of segs) {
              const n = Math.max(0, Math.min(s.lengthBytes, data.length - at));
              expected.set(data.subarray(at, at + n), s.offsetBytes);
              at += n;
            }
            expect(sameBytes(buf, expected)).toBe(true);
          }
        }
        const size = (m: FsModel, h: number) => (m.apply(parseFsRequest('read', { handle: h, offsetBytes: 0, lengthBytes: 1 << 20 })) as { data: Uint8Array }).data;
        expect(sameBytes(size(byGrant, hg), size(inline, hi))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
