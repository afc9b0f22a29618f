// The small-read fast path (Filesystem.readHit: one page, buffered or in the clean cache,
// answered without the inode queue) against a plain byte-array model: random writes,
// fsyncs, truncates and reads that stay within a page, cross pages or run past the end,
// through the fs protocol over in-memory seams. A read after a write must see it whether
// the page is dirty, committed and cached, or evicted; a read of a hole sees zeros.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ROOT_INO } from '../../services/fs/protocol.ts';
import { PAGE_SIZE_BYTES } from '../../services/fs/limits.ts';
import { memFs } from './mem-seams.ts';

const FILE_BYTES_MAX = 4 * PAGE_SIZE_BYTES;

type Op =
  | { kind: 'write'; offsetBytes: number; lengthBytes: number; fill: number }
  | { kind: 'read'; offsetBytes: number; lengthBytes: number }
  | { kind: 'fsync' }
  | { kind: 'truncate'; sizeBytes: number };

const offset = fc.integer({ min: 0, max: FILE_BYTES_MAX - 1 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('write' as const), offsetBytes: offset, lengthBytes: fc.integer({ min: 1, max: 9000 }), fill: fc.integer({ min: 1, max: 255 }) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('read' as const), offsetBytes: offset, lengthBytes: fc.oneof(fc.constantFrom(1, 4096), fc.integer({ min: 1, max: 2 * PAGE_SIZE_BYTES })) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fsync' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), sizeBytes: fc.integer({ min: 0, max: FILE_BYTES_MAX }) }) },
);

describe('fs small reads (the read-hit path)', () => {
  it('agree with a byte-array model through dirty, committed and truncated pages', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
        const m = await memFs();
        try {
          const { attr, handle } = await m.fs.create(ROOT_INO, 'f', 0o644);
          const reader = (await m.fs.open(attr.ino, { read: true })).handle;
          let model = new Uint8Array(0);
          for (const o of ops) {
            if (o.kind === 'write') {
              const data = new Uint8Array(o.lengthBytes).fill(o.fill);
              data[0] = o.offsetBytes & 0xff; // not one flat fill, so a misplaced byte shows
              await m.fs.write(handle, o.offsetBytes, data);
              const end = o.offsetBytes + o.lengthBytes;
              if (end > model.length) {
                const grown = new Uint8Array(end);
                grown.set(model);
                model = grown;
              }
              model.set(data, o.offsetBytes);
            } else if (o.kind === 'read') {
              const got = await m.fs.read(reader, o.offsetBytes, o.lengthBytes);
              expect(Buffer.from(got).equals(Buffer.from(model.subarray(o.offsetBytes, o.offsetBytes + o.lengthBytes)))).toBe(true);
            } else if (o.kind === 'fsync') {
              await m.fs.fsync(handle);
            } else {
              await m.fs.setattr(attr.ino, { sizeBytes: o.sizeBytes });
              const cut = new Uint8Array(o.sizeBytes);
              cut.set(model.subarray(0, o.sizeBytes));
              model = cut;
            }
          }
        } finally {
          await m.close();
        }
      }),
      { numRuns: 60 },
    );
  });

  it('refuses a read on a handle opened for writing only, and on a bad handle', async () => {
    const m = await memFs();
    try {
      const { attr, handle } = await m.fs.create(ROOT_INO, 'w', 0o644);
      await m.fs.write(handle, 0, new Uint8Array(4096).fill(7));
      await m.fs.fsync(handle);
      const wo = (await m.fs.open(attr.ino, { write: true })).handle;
      await expect(m.fs.read(wo, 0, 4096)).rejects.toMatchObject({ code: 'EBADF' });
      await expect(m.fs.read(999_999, 0, 4096)).rejects.toMatchObject({ code: 'EBADF' });
      const ro = (await m.fs.open(attr.ino, { read: true })).handle;
      expect((await m.fs.read(ro, 4000, 4096)).length).toBe(96); // clipped at the end of the file
    } finally {
      await m.close();
    }
  });
});
