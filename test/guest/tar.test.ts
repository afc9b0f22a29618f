// The ustar writer the guest benchmark builds its archive with (tools/guest/tar.ts): an
// independent reader over its output (field by field, as POSIX describes ustar), the
// checksum, padding and end blocks, and the refusals.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TAR_BLOCK_BYTES, writeTar, type TarEntry } from '../../tools/guest/tar.ts';

interface ReadEntry {
  name: string;
  type: string;
  mode: number;
  size: number;
  mtime: number;
  data: Uint8Array;
}

const text = (b: Uint8Array) => new TextDecoder().decode(b.subarray(0, b.indexOf(0) >= 0 ? b.indexOf(0) : b.length));
const octal = (b: Uint8Array) => parseInt(text(b).trim() || '0', 8);

/** Reads an archive the way POSIX describes it, checking every header's checksum. */
function readTar(archive: Uint8Array): ReadEntry[] {
  expect(archive.length % TAR_BLOCK_BYTES).toBe(0);
  const out: ReadEntry[] = [];
  let at = 0;
  for (;;) {
    const h = archive.subarray(at, at + TAR_BLOCK_BYTES);
    if (h.every((b) => b === 0)) {
      // The end: two zero blocks, and nothing after them.
      expect(archive.subarray(at).every((b) => b === 0)).toBe(true);
      expect(archive.length - at).toBe(2 * TAR_BLOCK_BYTES);
      return out;
    }
    let sum = 0;
    for (let i = 0; i < TAR_BLOCK_BYTES; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
    expect(octal(h.subarray(148, 156))).toBe(sum);
    expect(text(h.subarray(257, 263))).toBe('ustar');
    expect(text(h.subarray(263, 265))).toBe('00');
    const size = octal(h.subarray(124, 136));
    const data = archive.slice(at + TAR_BLOCK_BYTES, at + TAR_BLOCK_BYTES + size);
    const padded = Math.ceil(size / TAR_BLOCK_BYTES) * TAR_BLOCK_BYTES;
    expect(archive.subarray(at + TAR_BLOCK_BYTES + size, at + TAR_BLOCK_BYTES + padded).every((b) => b === 0)).toBe(true);
    out.push({ name: text(h.subarray(0, 100)), type: String.fromCharCode(h[156]), mode: octal(h.subarray(100, 108)), size, mtime: octal(h.subarray(136, 148)), data });
    at += TAR_BLOCK_BYTES + padded;
  }
}

describe('ustar writer', () => {
  it('writes directories and files that an independent reader gets back', () => {
    const enc = new TextEncoder();
    const entries: TarEntry[] = [
      { type: 'dir', name: 't' },
      { type: 'dir', name: 't/d0/', mode: 0o700 },
      { type: 'file', name: 't/d0/f0', data: enc.encode('file 0\n') },
      { type: 'file', name: 't/d0/empty', data: new Uint8Array(0), mode: 0o600 },
      { type: 'file', name: 't/d0/block', data: new Uint8Array(TAR_BLOCK_BYTES).fill(7) },
    ];
    const got = readTar(writeTar(entries, 1_700_000_000));
    expect(got.map((e) => [e.name, e.type, e.mode, e.size, e.mtime])).toEqual([
      ['t/', '5', 0o755, 0, 1_700_000_000],
      ['t/d0/', '5', 0o700, 0, 1_700_000_000],
      ['t/d0/f0', '0', 0o644, 7, 1_700_000_000],
      ['t/d0/empty', '0', 0o600, 0, 1_700_000_000],
      ['t/d0/block', '0', 0o644, TAR_BLOCK_BYTES, 1_700_000_000],
    ]);
    expect(new TextDecoder().decode(got[2].data)).toBe('file 0\n');
    expect(got[4].data.every((b) => b === 7)).toBe(true);
  });

  it('round-trips any list of files (property)', () => {
    const file = fc.record({
      name: fc.stringMatching(/^[a-z0-9][a-z0-9/._-]{0,40}$/),
      data: fc.uint8Array({ maxLength: 1500 }),
    });
    fc.assert(
      fc.property(fc.array(file, { maxLength: 12 }), (files) => {
        const entries: TarEntry[] = files.map((f) => ({ type: 'file', ...f }));
        const got = readTar(writeTar(entries));
        expect(got.map((e) => e.name)).toEqual(files.map((f) => f.name));
        got.forEach((e, i) => expect(e.data).toEqual(files[i].data));
      }),
      { numRuns: 100 },
    );
  });

  it('refuses names it cannot store, instead of writing a bad archive', () => {
    expect(() => writeTar([{ type: 'file', name: '', data: new Uint8Array(1) }])).toThrow(RangeError);
    expect(() => writeTar([{ type: 'file', name: 'x'.repeat(100), data: new Uint8Array(1) }])).toThrow(RangeError);
    expect(() => writeTar([{ type: 'file', name: 'has space', data: new Uint8Array(1) }])).toThrow(RangeError);
    expect(() => writeTar([{ type: 'file', name: 'é', data: new Uint8Array(1) }])).toThrow(RangeError);
    expect(writeTar([]).length).toBe(2 * TAR_BLOCK_BYTES);
  });
});
