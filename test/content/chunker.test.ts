// Chunking: the Gear table and boundaries are known answers; boundaries do not depend
// on how a stream is split; min/max hold; an insertion re-chunks only near it with
// FastCDC but everything after it with fixed-size chunks; an in-place change touches one.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js';
import { GEAR, gearTable, popcount, spreadMask } from '../../services/content/gear.ts';
import { checkChunking, chunkAll, chunkLengths, createChunker, DEFAULT_FASTCDC, DEFAULT_FIXED, fastcdc, type ChunkingConfig } from '../../services/content/chunker.ts';
import { hashChunk } from '../../services/content/hash.ts';
import { patterned } from '../helpers/stack.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const KiB = 1024, MiB = 1024 * 1024;

function tableBytes(t: Uint32Array): Uint8Array {
  const out = new Uint8Array(1024);
  const dv = new DataView(out.buffer);
  t.forEach((w, i) => dv.setUint32(i * 4, w, true));
  return out;
}

function hashesOf(config: ChunkingConfig, data: Uint8Array): string[] {
  return chunkAll(config, data).map((c) => hex(hashChunk(c)));
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
}

describe('Gear table and masks', () => {
  it('is the known table (BLAKE3 of its little-endian words)', () => {
    expect(hex(nobleBlake3(tableBytes(GEAR)))).toBe('6e907b44b9710da16c3b9c345dcaed248c6294d916fc79d5e00b8a09e3364d54');
    expect(GEAR[0]).toBe(0x74cc696f);
    expect(GEAR[255]).toBe(0x1bef676d);
    expect(hex(tableBytes(gearTable(1)))).not.toBe(hex(tableBytes(GEAR)));
  });

  it('spreads mask bits from the top of the word', () => {
    expect(spreadMask(18)).toBe(0xffffc000);
    expect(spreadMask(14)).toBe(0xaaaaaaa0);
    for (let n = 1; n <= 32; n++) {
      expect(popcount(spreadMask(n))).toBe(n);
      expect(spreadMask(n) >>> 31).toBe(1);
    }
  });
});

describe('chunker', () => {
  it('known-answer boundaries for a seeded input', () => {
    const data = patterned(4 * MiB, 7);
    const lengths = chunkLengths(DEFAULT_FASTCDC, data);
    expect(lengths.length).toBe(56);
    expect(lengths.slice(0, 12)).toEqual([103857, 108414, 99851, 69692, 104254, 78686, 75480, 76093, 44050, 78061, 74111, 74171]);
    const small = chunkLengths(fastcdc(4096), data.subarray(0, 256 * KiB));
    expect(small.length).toBe(57);
    expect(small.slice(0, 16)).toEqual([4715, 5848, 7056, 4347, 3991, 4127, 4800, 2099, 5295, 4535, 4482, 4870, 5914, 4374, 4186, 4607]);
    expect(chunkLengths(DEFAULT_FIXED, data)).toEqual(Array(64).fill(64 * KiB));
  });

  it('boundaries do not depend on how the stream is split (property)', () => {
    const data = patterned(600 * KiB, 11);
    const configs = [fastcdc(4096), DEFAULT_FASTCDC, { kind: 'fixed', sizeBytes: 5000 } as ChunkingConfig];
    const whole = configs.map((c) => chunkAll(c, data));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: data.length }), { maxLength: 40 }), fc.integer({ min: 0, max: 2 }), (cuts, which) => {
        const points = [...new Set([0, ...cuts, data.length])].sort((a, b) => a - b);
        const chunker = createChunker(configs[which]);
        const got: Uint8Array[] = [];
        for (let i = 0; i + 1 < points.length; i++) {
          const piece = data.slice(points[i], points[i + 1]);
          got.push(...chunker.push(piece).map((c) => c.slice()));
          piece.fill(0xee); // the chunker must not keep views into a buffer the caller reuses
        }
        got.push(...chunker.finish());
        expect(got.map((c) => c.length)).toEqual(whole[which].map((c) => c.length));
        expect(hex(concat(got))).toBe(hex(data));
      }),
      { numRuns: 60, seed: 5 },
    );
  });

  it('respects min and max, and the chunks concatenate to the input', () => {
    for (const config of [fastcdc(1024), fastcdc(4096, { minSizeBytes: 3000, maxSizeBytes: 5000 }), DEFAULT_FASTCDC]) {
      if (config.kind !== 'fastcdc') throw new Error('fastcdc');
      for (const [seed, size] of [[1, 3 * MiB], [2, 100], [3, config.minSizeBytes], [4, config.maxSizeBytes + 1]]) {
        const data = patterned(size, seed);
        const chunks = chunkAll(config, data);
        chunks.forEach((c, i) => {
          expect(c.length).toBeLessThanOrEqual(config.maxSizeBytes);
          if (i < chunks.length - 1) expect(c.length).toBeGreaterThanOrEqual(config.minSizeBytes);
        });
        expect(hex(concat(chunks))).toBe(hex(data));
      }
      // Zeros never satisfy the mask: every chunk is cut at max.
      const zeros = chunkLengths(config, new Uint8Array(config.maxSizeBytes * 3 + 7));
      expect(zeros).toEqual([config.maxSizeBytes, config.maxSizeBytes, config.maxSizeBytes, 7]);
    }
  });

  it('normalised chunking keeps most chunks near avg', () => {
    const lengths = chunkLengths(DEFAULT_FASTCDC, patterned(16 * MiB, 3));
    const near = lengths.filter((n) => n >= 32 * KiB && n <= 128 * KiB).length;
    expect(near / lengths.length).toBeGreaterThan(0.8);
    const mean = (16 * MiB) / lengths.length;
    expect(mean).toBeGreaterThan(48 * KiB);
    expect(mean).toBeLessThan(96 * KiB);
  });

  it('one byte inserted in the middle: FastCDC re-chunks only around it, fixed-size everything after', () => {
    const data = patterned(8 * MiB, 21);
    const at = 4 * MiB + 12345;
    const edited = concat([data.subarray(0, at), new Uint8Array([0x42]), data.subarray(at)]);
    const before = new Set(hashesOf(DEFAULT_FASTCDC, data));
    const after = hashesOf(DEFAULT_FASTCDC, edited);
    const fresh = after.filter((h) => !before.has(h)).length;
    expect(fresh).toBeGreaterThanOrEqual(1);
    expect(fresh).toBeLessThanOrEqual(2);
    expect(after.length - fresh).toBeGreaterThan(before.size - 4);

    const fixedBefore = new Set(hashesOf(DEFAULT_FIXED, data));
    const fixedAfter = hashesOf(DEFAULT_FIXED, edited);
    const fixedFresh = fixedAfter.filter((h) => !fixedBefore.has(h)).length;
    const chunksAfterInsert = fixedAfter.length - Math.floor(at / (64 * KiB));
    expect(fixedFresh).toBe(chunksAfterInsert); // every chunk from the insertion on is new
  });

  it('one byte changed in place changes one chunk', () => {
    const data = patterned(8 * MiB, 22);
    for (const config of [DEFAULT_FASTCDC, DEFAULT_FIXED]) {
      const before = hashesOf(config, data);
      const edited = data.slice();
      edited[3 * MiB + 777] ^= 0x10;
      const after = hashesOf(config, edited);
      expect(after.length).toBe(before.length);
      expect(after.filter((h, i) => h !== before[i]).length).toBe(1);
    }
  });

  it('refuses bad configs with BADMSG naming the field', () => {
    expect(() => checkChunking({ kind: 'fastcdc', minSizeBytes: 100, avgSizeBytes: 3000, maxSizeBytes: 9000 })).toThrow(/avgSizeBytes 3000 is not a power of two/);
    expect(() => checkChunking({ kind: 'fastcdc', minSizeBytes: 5000, avgSizeBytes: 4096, maxSizeBytes: 9000 })).toThrow(/minSizeBytes/);
    expect(() => checkChunking({ kind: 'fixed', sizeBytes: 0 })).toThrow(/sizeBytes/);
    expect(() => checkChunking({ kind: 'rabin' })).toThrow(/kind/);
    expect(() => checkChunking(null)).toThrow(/map/);
  });
});
