// File data by grant over the whole deterministic stack: writeFrom / readInto against the
// inline read / write, FsClient's own staging (large I/O by grant, small inline), the
// engine's pages to and from the content store by grant, and every way a grant can be
// wrong (rights, bounds, revoked, not lent to fs, too many segments, too many bytes): each
// a clear error, counted by the kernel as a fault, with the fs still serving and no byte lost.
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import type { Region, Rights } from '../../kernel/memory.ts';
import type { ServiceContext } from '../../kernel/service.ts';
import { FS_ENDPOINT, FsClient, GRANT_IO_BYTES_MIN, GRANT_SEGMENTS_MAX, IO_SIZE_BYTES_MAX, ROOT_INO, type Segment } from '../../services/fs/protocol.ts';
import { CONTENT_ENDPOINT } from '../../services/content/protocol.ts';
import { Kernel } from '../../kernel/kernel.ts';
import { modelFsManifest } from '../../tools/model/fs-model.ts';
import type { System } from '../../tools/system.ts';
import { bootFsStack, codeOf, formatTestDisk, MiB, patterned } from '../helpers/stack.ts';

const KiB = 1024;

/** Byte equality without vitest's per-element deep compare (slow on MiBs). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

interface Lent {
  region: Region;
  view: Uint8Array;
  grantId: number;
}

/** A region of the user's memory lent to `endpoint` with `rights`. */
function lend(user: ServiceContext, sizeBytes: number, rights: Rights, endpoint = FS_ENDPOINT): Lent {
  const region = user.memory.alloc(sizeBytes);
  return { region, view: user.memory.view(region, 0, sizeBytes), grantId: user.memory.grant(region, endpoint, rights) };
}

/** `lengthBytes` bytes from offset `at` of a lent region, cut into `parts` segments (a scattered buffer). */
function cut(lent: Lent, at: number, lengthBytes: number, parts: number): Segment[] {
  const out: Segment[] = [];
  let done = 0;
  for (let i = 0; i < parts; i++) {
    const n = i === parts - 1 ? lengthBytes - done : Math.floor(lengthBytes / parts);
    if (n > 0) out.push({ grantId: lent.grantId, offsetBytes: at + done, lengthBytes: n });
    done += n;
  }
  return out;
}

/** A client that records the ops it sends; `inlineOnly` gives it no memory, so everything goes inline. */
function recordingClient(user: ServiceContext, inlineOnly = false): { fs: FsClient; ops: string[] } {
  const ops: string[] = [];
  const call: ServiceContext['call'] = (endpoint, op, body, options) => (ops.push(op), user.call(endpoint, op, body, options));
  return { fs: new FsClient(inlineOnly ? { call } : { call, memory: user.memory }), ops };
}

describe('fs file data by grant (deterministic kernel)', () => {
  let sys: System | undefined;
  afterEach(async () => {
    await sys?.shutdown();
    sys = undefined;
  });

  async function boot(): Promise<System> {
    sys = await bootFsStack(await formatTestDisk(new MemoryBackend(64 * MiB)));
    return sys;
  }

  it('writes from and reads into scattered granted memory, byte for byte as inline', async () => {
    const s = await boot();
    const inline = recordingClient(s.user, true);
    const data = patterned(3 * MiB + 12_345, 7);
    const lent = lend(s.user, 4 * MiB, 'rw');
    lent.view.set(data);
    const { attr, handle } = await inline.fs.create(ROOT_INO, 'f', 0o644);
    expect(await inline.fs.writeFrom(handle, 0, cut(lent, 0, data.length, 5))).toBe(data.length);
    // Inline reads see what was written by grant, before and after it is committed.
    expect(sameBytes(await inline.fs.read(handle, 0, 1 * MiB), data.subarray(0, MiB))).toBe(true);
    await inline.fs.fsync(handle);
    const back = new Uint8Array(data.length);
    for (let off = 0; off < data.length; off += MiB) back.set(await inline.fs.read(handle, off, Math.min(MiB, data.length - off)), off);
    expect(sameBytes(back, data)).toBe(true);
    expect(inline.ops.filter((op) => op === 'read' || op === 'write')).not.toHaveLength(0);

    // Inline write, read by grant into scattered segments; a read past the end is short and leaves the rest alone.
    const other = patterned(200 * KiB, 8);
    await inline.fs.write(handle, 100 * KiB, other);
    lent.view.fill(0xee);
    expect(await inline.fs.readInto(handle, 0, 2 * MiB, cut(lent, 4096, 2 * MiB, 3))).toBe(2 * MiB);
    const want = data.slice(0, 2 * MiB);
    want.set(other, 100 * KiB);
    expect(sameBytes(lent.view.subarray(4096, 4096 + 2 * MiB), want)).toBe(true);
    expect(await inline.fs.readInto(handle, data.length - 10, 1000, cut(lent, 0, 1000, 2))).toBe(10);
    expect(sameBytes(lent.view.subarray(0, 10), data.subarray(data.length - 10))).toBe(true);
    expect(lent.view[10]).toBe(0xee);
    expect(await inline.fs.readInto(handle, data.length + 5, 100, cut(lent, 0, 100, 1))).toBe(0);
    await inline.fs.close(handle);
    expect(attr.ino).toBeGreaterThan(ROOT_INO);
  });

  it('reads holes and short pages as zeros by grant', async () => {
    const s = await boot();
    const lent = lend(s.user, 1 * MiB, 'rw');
    const { handle } = await s.fs!.create(ROOT_INO, 'sparse', 0o644);
    await s.fs!.write(handle, 300 * KiB, new Uint8Array(10).fill(5)); // pages 0..3 holes, page 4 short
    await s.fs!.fsync(handle);
    lent.view.fill(0xaa);
    const size = 300 * KiB + 10;
    expect(await s.fs!.readInto(handle, 0, 1 * MiB, cut(lent, 0, 1 * MiB, 7))).toBe(size);
    const want = new Uint8Array(size);
    want.fill(5, 300 * KiB);
    expect(sameBytes(lent.view.subarray(0, size), want)).toBe(true);
    expect(lent.view[size]).toBe(0xaa);
  });

  it('FsClient sends large reads and writes by grant and small ones inline, with the same bytes', async () => {
    const s = await boot();
    const client = recordingClient(s.user);
    const data = patterned(2 * MiB + 999, 3);
    const { attr, handle } = await client.fs.create(ROOT_INO, 'g', 0o644);
    await client.fs.write(handle, 0, data.subarray(0, MiB)); // by grant
    await client.fs.write(handle, MiB, data.subarray(MiB, MiB + GRANT_IO_BYTES_MIN - 1)); // inline
    await client.fs.write(handle, MiB + GRANT_IO_BYTES_MIN - 1, data.subarray(MiB + GRANT_IO_BYTES_MIN - 1)); // by grant
    await client.fs.close(handle);
    expect(client.ops.filter((op) => op === 'write' || op === 'writeFrom')).toEqual(['writeFrom', 'write', 'writeFrom']);

    const inline = recordingClient(s.user, true);
    const r = await client.fs.open(attr.ino, { read: true });
    expect(sameBytes(await client.fs.read(r.handle, 0, IO_SIZE_BYTES_MAX), data)).toBe(true); // by grant, short
    expect(sameBytes(await client.fs.read(r.handle, 5, 100), data.subarray(5, 105))).toBe(true); // inline
    expect(sameBytes(await inline.fs.read(r.handle, 0, MiB), data.subarray(0, MiB))).toBe(true);
    expect(client.ops.filter((op) => op === 'read' || op === 'readInto')).toEqual(['readInto', 'read']);
    await client.fs.close(r.handle);
  });

  it('several calls in flight on one client each get their own staging slot, or go inline', async () => {
    const s = await boot();
    const client = recordingClient(s.user);
    const { handle } = await client.fs.create(ROOT_INO, 'c', 0o644);
    const pieces = Array.from({ length: 8 }, (_, i) => patterned(512 * KiB, 100 + i));
    await Promise.all(pieces.map((p, i) => client.fs.write(handle, i * 512 * KiB, p)));
    const reads = await Promise.all(pieces.map((_, i) => client.fs.read(handle, i * 512 * KiB, 512 * KiB)));
    reads.forEach((got, i) => expect(sameBytes(got, pieces[i]), `piece ${i}`).toBe(true));
    expect(client.ops).toContain('writeFrom');
    expect(client.ops).toContain('readInto');
    await client.fs.close(handle);
  });

  it('moves pages to and from the content store by grant, and reads them back after a remount', async () => {
    const disk = await formatTestDisk(new MemoryBackend(64 * MiB));
    sys = await bootFsStack(disk);
    const free0 = sys.kernel.memory.freePageCount;
    const data = patterned(5 * MiB + 77, 21);
    const { attr, handle } = await sys.fs!.create(ROOT_INO, 'big', 0o644);
    for (let off = 0; off < data.length; off += MiB) await sys.fs!.write(handle, off, data.subarray(off, off + MiB));
    await sys.fs!.close(handle);
    // The fs lent the content store its staging (and the client took one slot of its own).
    const pagesLent = (free0 - sys.kernel.memory.freePageCount) * 4096;
    expect(pagesLent).toBeGreaterThanOrEqual(IO_SIZE_BYTES_MAX + 8 * MiB);
    const faults = sys.kernel.memory.faultCount;
    await sys.shutdown();
    sys = await bootFsStack(disk); // cold page cache: every page comes from the content store
    const lent = lend(sys.user, 6 * MiB, 'w');
    const r = await sys.fs!.open(attr.ino, { read: true });
    let got = 0;
    for (let off = 0; off < data.length; off += 4 * MiB) {
      const n = await sys.fs!.readInto(r.handle, off, 4 * MiB, cut(lent, 12_345, 4 * MiB, 4)); // unaligned, scattered
      expect(sameBytes(lent.view.subarray(12_345, 12_345 + n), data.subarray(off, off + 4 * MiB)), `at ${off}`).toBe(true);
      got += n;
    }
    expect(got).toBe(data.length);
    expect(sys.kernel.memory.faultCount).toBe(0);
    expect(faults).toBe(0);
    disk.close();
  });

  it('over a server that does not serve data by grant (the fs model without it), the client goes inline and stays so', async () => {
    const kernel = new Kernel({ seed: 3 });
    try {
      await kernel.spawn(modelFsManifest('fs-model', FS_ENDPOINT, { byGrant: false }));
      const user = kernel.attach({ name: 'model-user', calls: [FS_ENDPOINT] });
      const client = recordingClient(user);
      const data = patterned(300 * KiB, 4);
      const { handle } = await client.fs.create(ROOT_INO, 'm', 0o644);
      expect(await client.fs.write(handle, 0, data)).toBe(data.length);
      expect(sameBytes(await client.fs.read(handle, 0, MiB), data)).toBe(true);
      expect(await client.fs.write(handle, data.length, data)).toBe(data.length);
      expect(client.ops.filter((op) => /^(read|write)/.test(op))).toEqual(['writeFrom', 'write', 'read', 'write']);
      await expect(client.fs.writeFrom(handle, 0, [{ grantId: 1, offsetBytes: 0, lengthBytes: 1 }])).rejects.toMatchObject({ code: 'BADOP' });
    } finally {
      await kernel.shutdown();
    }
  });

  describe('a bad grant is refused clearly, counted, and harms nothing', () => {
    async function withFile(): Promise<{ s: System; handle: number; data: Uint8Array; check: () => Promise<void> }> {
      const s = await boot();
      const data = patterned(300 * KiB, 9);
      const { attr, handle } = await s.fs!.create(ROOT_INO, 'f', 0o644);
      await s.fs!.write(handle, 0, data);
      await s.fs!.fsync(handle);
      const check = async () => {
        // The fs still serves, the file is as it was, and another file can still be written.
        const inline = recordingClient(s.user, true);
        const r = await inline.fs.open(attr.ino, { read: true });
        expect(sameBytes(await inline.fs.read(r.handle, 0, MiB), data)).toBe(true);
        await inline.fs.close(r.handle);
        expect((await s.fs!.statfs()).nameLengthMax).toBe(255);
      };
      return { s, handle, data, check };
    }

    it("a write from memory lent only 'w', and a read into memory lent only 'r'", async () => {
      const { s, handle, check } = await withFile();
      const wOnly = lend(s.user, 128 * KiB, 'w');
      const rOnly = lend(s.user, 128 * KiB, 'r');
      wOnly.view.fill(1);
      rOnly.view.fill(2);
      const f0 = s.kernel.memory.faultCount;
      await expect(s.fs!.writeFrom(handle, 0, cut(wOnly, 0, 128 * KiB, 1))).rejects.toMatchObject({ code: 'GRANT', message: expect.stringContaining("not 'r'") });
      await expect(s.fs!.readInto(handle, 0, 128 * KiB, cut(rOnly, 0, 128 * KiB, 1))).rejects.toMatchObject({ code: 'GRANT', message: expect.stringContaining("not 'w'") });
      expect(s.kernel.memory.faultCount).toBe(f0 + 2);
      expect(rOnly.view.every((b) => b === 2)).toBe(true);
      await check();
    });

    it('a segment past the end of its grant', async () => {
      const { s, handle, check } = await withFile();
      const lent = lend(s.user, 128 * KiB, 'rw');
      const f0 = s.kernel.memory.faultCount;
      expect(await codeOf(s.fs!.writeFrom(handle, 0, [{ grantId: lent.grantId, offsetBytes: 64 * KiB, lengthBytes: 64 * KiB + 1 }]))).toBe('GRANT');
      // One good segment before the bad one: nothing of the request is written.
      expect(await codeOf(s.fs!.writeFrom(handle, 0, [{ grantId: lent.grantId, offsetBytes: 0, lengthBytes: 4096 }, { grantId: lent.grantId, offsetBytes: 128 * KiB, lengthBytes: 1 }]))).toBe('GRANT');
      expect(await codeOf(s.fs!.readInto(handle, 0, 10, [{ grantId: lent.grantId, offsetBytes: 2 ** 40, lengthBytes: 10 }]))).toBe('GRANT');
      expect(s.kernel.memory.faultCount).toBe(f0 + 3);
      await check();
    });

    it('a revoked grant, and one lent to another service', async () => {
      const { s, handle, check } = await withFile();
      const lent = lend(s.user, 64 * KiB, 'rw');
      s.user.memory.revoke(lent.grantId);
      const toContent = lend(s.user, 64 * KiB, 'rw', CONTENT_ENDPOINT);
      const f0 = s.kernel.memory.faultCount;
      await expect(s.fs!.writeFrom(handle, 0, cut(lent, 0, 64 * KiB, 1))).rejects.toMatchObject({ code: 'GRANT', message: expect.stringContaining(`holds no grant ${lent.grantId}`) });
      expect(await codeOf(s.fs!.readInto(handle, 0, 64 * KiB, cut(lent, 0, 64 * KiB, 1)))).toBe('GRANT');
      expect(await codeOf(s.fs!.writeFrom(handle, 0, cut(toContent, 0, 64 * KiB, 1)))).toBe('GRANT');
      expect(s.kernel.memory.faultCount).toBe(f0 + 3);
      await check();
    });

    it('too many segments, too many bytes, empty or malformed segments: EINVAL before any memory is touched', async () => {
      const { s, handle, check } = await withFile();
      const lent = lend(s.user, IO_SIZE_BYTES_MAX + 4096, 'rw');
      const f0 = s.kernel.memory.faultCount;
      const many = Array.from({ length: GRANT_SEGMENTS_MAX + 1 }, (_, i) => ({ grantId: lent.grantId, offsetBytes: i * 4096, lengthBytes: 4096 }));
      expect(await codeOf(s.fs!.writeFrom(handle, 0, many))).toBe('EINVAL');
      expect(await codeOf(s.fs!.readInto(handle, 0, 4096, many))).toBe('EINVAL');
      expect(await codeOf(s.fs!.writeFrom(handle, 0, cut(lent, 0, IO_SIZE_BYTES_MAX + 1, 2)))).toBe('EINVAL');
      expect(await codeOf(s.fs!.readInto(handle, 0, IO_SIZE_BYTES_MAX + 1, cut(lent, 0, IO_SIZE_BYTES_MAX + 1, 2)))).toBe('EINVAL');
      expect(await codeOf(s.fs!.readInto(handle, 0, 2 ** 52, cut(lent, 0, 4096, 1)))).toBe('EINVAL');
      expect(await codeOf(s.fs!.writeFrom(handle, 0, [{ grantId: lent.grantId, offsetBytes: 0, lengthBytes: 2 ** 52 }]))).toBe('EINVAL');
      expect(await codeOf(s.fs!.readInto(handle, 0, 8192, cut(lent, 0, 4096, 1)))).toBe('EINVAL'); // less room than asked
      expect(await codeOf(s.fs!.writeFrom(handle, 0, []))).toBe('EINVAL');
      expect(await codeOf(s.fs!.writeFrom(handle, 0, [{ grantId: lent.grantId, offsetBytes: 0, lengthBytes: 0 }]))).toBe('EINVAL');
      expect(await codeOf(s.user.call(FS_ENDPOINT, 'writeFrom', { handle, offsetBytes: 0, from: [{ grantId: -1, offsetBytes: 0, lengthBytes: 1 }] }))).toBe('EINVAL');
      expect(await codeOf(s.user.call(FS_ENDPOINT, 'writeFrom', { handle, offsetBytes: 0, from: 'x' }))).toBe('EINVAL');
      expect(await codeOf(s.user.call(FS_ENDPOINT, 'readInto', { handle, offsetBytes: 0, lengthBytes: 1, into: [null] }))).toBe('EINVAL');
      expect(s.kernel.memory.faultCount).toBe(f0);
      await check();
    });
  });

  it('agrees with a plain byte array under inline and by-grant writes and reads at random offsets, across a remount', async () => {
    const FILE_BYTES_MAX = 1536 * KiB;
    const op = fc.record({
      write: fc.boolean(),
      via: fc.constantFrom('inline', 'grant', 'client'),
      offsetBytes: fc.integer({ min: 0, max: FILE_BYTES_MAX - 1 }),
      lengthBytes: fc.oneof(fc.integer({ min: 1, max: 8 * KiB }), fc.integer({ min: GRANT_IO_BYTES_MIN - 4096, max: 400 * KiB })),
      parts: fc.integer({ min: 1, max: 5 }),
      seed: fc.integer({ min: 0, max: 1_000_000 }),
      sync: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 14 }), async (script) => {
        const disk = await formatTestDisk(new MemoryBackend(64 * MiB));
        let s = await bootFsStack(disk);
        try {
          let model = new Uint8Array(0);
          const lent = lend(s.user, 512 * KiB, 'rw');
          const clients = { inline: recordingClient(s.user, true).fs, client: recordingClient(s.user).fs };
          const { attr, handle } = await s.fs!.create(ROOT_INO, 'p', 0o644);
          for (const o of script) {
            const length = Math.min(o.lengthBytes, FILE_BYTES_MAX - o.offsetBytes);
            if (o.write) {
              const bytes = patterned(length, o.seed);
              if (o.via === 'grant') {
                lent.view.set(bytes);
                expect(await s.fs!.writeFrom(handle, o.offsetBytes, cut(lent, 0, length, o.parts))).toBe(length);
              } else expect(await clients[o.via].write(handle, o.offsetBytes, bytes)).toBe(length);
              if (o.offsetBytes + length > model.length) {
                const grown = new Uint8Array(o.offsetBytes + length);
                grown.set(model);
                model = grown;
              }
              model.set(bytes, o.offsetBytes);
            } else {
              const want = model.subarray(Math.min(o.offsetBytes, model.length), Math.min(o.offsetBytes + length, model.length));
              let got: Uint8Array;
              if (o.via === 'grant') {
                lent.view.fill(0x5a);
                const n = await s.fs!.readInto(handle, o.offsetBytes, length, cut(lent, 0, length, o.parts));
                got = lent.view.slice(0, n);
              } else got = await clients[o.via].read(handle, o.offsetBytes, length);
              expect(sameBytes(got, want), `read ${o.via} [${o.offsetBytes}, +${length})`).toBe(true);
            }
            if (o.sync) await s.fs!.fsync(handle);
          }
          await s.fs!.close(handle);
          await s.shutdown();
          s = await bootFsStack(disk); // pages now come from the content store, by grant
          const back = lend(s.user, FILE_BYTES_MAX, 'w');
          const r = await s.fs!.open(attr.ino, { read: true });
          expect(await s.fs!.readInto(r.handle, 0, FILE_BYTES_MAX, cut(back, 0, FILE_BYTES_MAX, 3))).toBe(model.length);
          expect(sameBytes(back.view.subarray(0, model.length), model)).toBe(true);
          expect(s.kernel.memory.faultCount).toBe(0);
        } finally {
          await s.shutdown();
          disk.close();
        }
      }),
      { numRuns: 10 },
    );
  });
});
