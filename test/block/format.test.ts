// Format module: known answers (hand-assembled superblock, CRC32C vectors), round trips,
// and corruption: flipping a byte makes verification name the structure and field.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import vectors from './format-vectors.json' with { type: 'json' };
import {
  BITMAP_BYTES_PER_BLOCK,
  FormatError,
  checksumSeed,
  countFree,
  crc32c,
  decodeBitmapBlock,
  decodeCommit,
  decodeDescriptor,
  decodeJournalHeader,
  decodeSuperblock,
  encodeBitmapBlock,
  encodeCommit,
  encodeDescriptor,
  encodeJournalHeader,
  encodeSuperblock,
  formatBlocks,
  hex,
  initialBitmap,
  journalLog,
  layoutFor,
  parseUuid,
  setBits,
  testBit,
  transactionLengthBlocks,
} from '../../services/block/format/index.ts';
import { BITMAP_BITS_PER_BLOCK, BLOCK_SIZE_BYTES, IMAGE_BLOCKS_MAX, IMAGE_BLOCKS_MIN } from '../../services/block/limits.ts';

const MiB = 1024 * 1024;
const uuid = parseUuid(vectors.superblock.uuid);
const seed = checksumSeed(uuid);

function formatError(fn: () => unknown): FormatError {
  try {
    fn();
  } catch (e) {
    if (e instanceof FormatError) return e;
    throw e;
  }
  throw new Error('expected a FormatError');
}

describe('crc32c', () => {
  it('matches the standard vectors', () => {
    for (const v of vectors.crc32c) {
      const bytes = 'ascii' in v && v.ascii !== undefined ? new TextEncoder().encode(v.ascii) : Buffer.from(v.hex!, 'hex');
      expect(crc32c(bytes).toString(16).padStart(8, '0')).toBe(v.crc);
    }
  });
  it('chains: crc(b, crc(a)) = crc(a ++ b)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ maxLength: 100 }), (a, b) => {
        const ab = new Uint8Array([...a, ...b]);
        expect(crc32c(b, crc32c(a))).toBe(crc32c(ab));
      }),
    );
  });
});

describe('layoutFor', () => {
  it('matches the vector layout for 64 MiB', () => {
    const l = layoutFor(vectors.superblock.imageSizeBytes);
    const v = vectors.superblock.layout;
    expect(l.blockCount).toBe(v.blockCount);
    for (const k of ['superblock', 'journal', 'bitmap', 'axiom', 'data', 'spare'] as const) {
      expect([l[k].blockIndex, l[k].blockCount], k).toEqual(v[k]);
    }
  });
  it('tiles every size in range, and refuses sizes out of range', () => {
    fc.assert(
      fc.property(fc.integer({ min: IMAGE_BLOCKS_MIN * BLOCK_SIZE_BYTES, max: IMAGE_BLOCKS_MAX * BLOCK_SIZE_BYTES + 4095 }), (size) => {
        const l = layoutFor(size);
        expect(l.blockCount).toBe(Math.floor(size / BLOCK_SIZE_BYTES));
        expect(l.spare.blockIndex).toBe(l.blockCount - 1);
        expect(l.data.blockIndex + l.data.blockCount).toBe(l.spare.blockIndex);
        expect(l.bitmap.blockCount * BITMAP_BITS_PER_BLOCK).toBeGreaterThanOrEqual(l.blockCount);
      }),
    );
    expect(() => layoutFor(IMAGE_BLOCKS_MIN * BLOCK_SIZE_BYTES - 1)).toThrow(RangeError);
    expect(() => layoutFor((IMAGE_BLOCKS_MAX + 1) * BLOCK_SIZE_BYTES)).toThrow(RangeError);
  });
  it('gives the FORMAT.md example for 1 GiB', () => {
    const l = layoutFor(1024 * MiB);
    expect([l.journal.blockCount, l.bitmap.blockCount, l.axiom.blockCount, l.data.blockCount, l.data.blockIndex]).toEqual([4096, 9, 16384, 241653, 20490]);
  });
});

describe('superblock', () => {
  const layout = layoutFor(vectors.superblock.imageSizeBytes);
  const sb = { formatVersion: 1, uuid, blockCount: layout.blockCount, freeBlockCount: layout.data.blockCount, incompatFeatures: 0, layout };

  it('encodes exactly the hand-assembled bytes', () => {
    const bytes = encodeSuperblock(sb);
    for (const f of vectors.superblock.fields) {
      const len = f.hex.length / 2;
      expect(hex(bytes.subarray(f.offsetBytes, f.offsetBytes + len)), f.field).toBe(f.hex);
    }
    const [from, to] = vectors.superblock.reservedZeroFromTo;
    expect(bytes.subarray(from, to).every((b) => b === 0)).toBe(true);
    const at = vectors.superblock.checksumOffsetBytes;
    expect(hex(bytes.subarray(at, at + 4).slice().reverse())).toBe(vectors.superblock.checksum);
    expect(seed.toString(16).padStart(8, '0')).toBe(vectors.superblock.uuidSeed);
  });

  it('round-trips', () => {
    const back = decodeSuperblock(encodeSuperblock(sb));
    expect(back.layout).toEqual(layout);
    expect(back.freeBlockCount).toBe(sb.freeBlockCount);
    expect(hex(back.uuid)).toBe(hex(uuid));
  });

  it('names the field that failed', () => {
    const good = encodeSuperblock(sb);
    const flipped = (at: number) => {
      const b = good.slice();
      b[at] ^= 0x01;
      return b;
    };
    expect(formatError(() => decodeSuperblock(flipped(0))).field).toBe('magic');
    for (const at of [8, 33, 41, 60, 100, 3000, 4095]) {
      const e = formatError(() => decodeSuperblock(flipped(at)));
      expect(e.structure).toBe('superblock');
      expect(e.field, `byte ${at}`).toBe('checksum');
    }
    // A well-checksummed superblock with bad fields names them.
    const reseal = (mutate: (b: Uint8Array, dv: DataView) => void) => {
      const b = good.slice();
      const dv = new DataView(b.buffer);
      mutate(b, dv);
      dv.setUint32(4092, crc32c(b.subarray(0, 4092)), true);
      return b;
    };
    expect(formatError(() => decodeSuperblock(reseal((_, dv) => dv.setUint32(8, 2, true)))).field).toBe('formatVersion');
    expect(formatError(() => decodeSuperblock(reseal((_, dv) => dv.setUint32(12, 512, true)))).field).toBe('blockSizeBytes');
    expect(formatError(() => decodeSuperblock(reseal((_, dv) => dv.setUint32(48, 1, true)))).field).toBe('incompatFeatures');
    expect(formatError(() => decodeSuperblock(reseal((_, dv) => dv.setUint32(80, 3, true)))).field).toBe('region[1].kind');
    expect(formatError(() => decodeSuperblock(reseal((_, dv) => dv.setUint32(40, 14334, true)))).field).toBe('freeBlockCount');
    expect(formatError(() => decodeSuperblock(reseal((_, dv) => dv.setUint32(136, 1027, true)))).field).toMatch(/^regionTable\./);
    expect(formatError(() => decodeSuperblock(reseal((b) => (b[300] = 1)))).field).toBe('reserved');
    expect(formatError(() => decodeSuperblock(reseal((_, dv) => dv.setUint32(36, 0x0040_0000, true)))).field).toBe('blockCount');
  });
});

describe('bitmap blocks', () => {
  const layout = layoutFor(200 * MiB); // N = 51200: two bitmap blocks, the last one partial
  it('round-trips and keeps bits in place', () => {
    const bits = initialBitmap(layout);
    setBits(bits, layout.data.blockIndex + 5, 40000, true);
    const into = new Uint8Array(bits.length);
    for (let k = 0; k < layout.bitmap.blockCount; k++) decodeBitmapBlock(encodeBitmapBlock(bits, k, layout, seed), k, layout, seed, into);
    expect(hex(into)).toBe(hex(bits));
    expect(testBit(into, layout.data.blockIndex + 4)).toBe(false);
    expect(testBit(into, layout.data.blockIndex + 5)).toBe(true);
    expect(testBit(into, layout.data.blockIndex + 40004)).toBe(true);
    expect(testBit(into, layout.data.blockIndex + 40005)).toBe(false);
    expect(countFree(into, layout)).toBe(layout.data.blockCount - 40000);
  });
  it('puts block i at byte 16 + i/8 of bitmap block i / 32640, LSB first', () => {
    const bits = new Uint8Array(layout.bitmap.blockCount * BITMAP_BYTES_PER_BLOCK);
    setBits(bits, BITMAP_BITS_PER_BLOCK + 10, 1, true);
    const block1 = encodeBitmapBlock(bits, 1, layout, seed);
    expect(block1[16 + 1]).toBe(1 << 2);
    expect(String.fromCharCode(...block1.subarray(0, 4))).toBe('SBMP');
    expect(new DataView(block1.buffer).getUint32(8, true)).toBe(layout.bitmap.blockIndex + 1);
  });
  it('detects corruption, misdirection and a foreign image', () => {
    const bits = initialBitmap(layout);
    const good = encodeBitmapBlock(bits, 0, layout, seed);
    const bad = good.slice();
    bad[2000] ^= 0x80;
    const into = new Uint8Array(bits.length);
    expect(formatError(() => decodeBitmapBlock(bad, 0, layout, seed, into)).field).toBe('checksum');
    expect(formatError(() => decodeBitmapBlock(good, 1, layout, seed, into)).field).toBe('selfBlockIndex');
    expect(formatError(() => decodeBitmapBlock(good, 0, layout, checksumSeed(parseUuid('ffffffffffffffffffffffffffffffff')), into)).field).toBe('checksum');
  });
});

describe('journal records', () => {
  const layout = layoutFor(64 * MiB);
  const log = journalLog(layout);
  it('round-trip header, descriptor and commit, and name corrupted fields', () => {
    const h = { generation: 7, epoch: 3, logBlockCount: log.blockCount, tailSequence: 99, tailPosition: 17 };
    const hb = encodeJournalHeader(h, layout.journal.blockIndex, seed);
    expect(decodeJournalHeader(hb, layout.journal.blockIndex, seed, log.blockCount)).toEqual(h);
    expect(formatError(() => decodeJournalHeader(hb, layout.journal.blockIndex + 1, seed, log.blockCount)).field).toBe('selfBlockIndex');
    const badTail = encodeJournalHeader({ ...h, tailPosition: log.blockCount }, layout.journal.blockIndex, seed);
    expect(formatError(() => decodeJournalHeader(badTail, layout.journal.blockIndex, seed, log.blockCount)).field).toBe('tailPosition');

    const d = { sequence: 5, epoch: 3, descriptorIndex: 0, tags: [{ homeBlockIndex: 2050, dataChecksum: 0xdeadbeef }] };
    const db = encodeDescriptor(d, log.blockIndex, seed);
    expect(decodeDescriptor(db, log.blockIndex, seed)).toEqual(d);
    const dbad = db.slice();
    dbad[33] ^= 4;
    const e = formatError(() => decodeDescriptor(dbad, log.blockIndex, seed));
    expect([e.structure, e.field]).toEqual(['descriptor', 'checksum']);

    const c = { sequence: 5, epoch: 3, blockCount: 1, descriptorCount: 1, transactionChecksum: 1234, batchFirstSequence: 4 };
    const cb = encodeCommit(c, log.blockIndex + 2, seed);
    expect(decodeCommit(cb, log.blockIndex + 2, seed)).toEqual(c);
    const cbad = cb.slice();
    cbad[0] = 0;
    expect(formatError(() => decodeCommit(cbad, log.blockIndex + 2, seed)).field).toBe('magic');
  });
  it('sizes transactions: ceil(n/254) descriptors + n + commit', () => {
    expect(transactionLengthBlocks(1)).toBe(3);
    expect(transactionLengthBlocks(254)).toBe(256);
    expect(transactionLengthBlocks(255)).toBe(258);
  });
});

describe('formatBlocks', () => {
  it('writes bitmap, journal headers, Axiom block, then spare and primary superblock last', () => {
    const { layout, blocks, superblock } = formatBlocks(64 * MiB, { uuid });
    const order = blocks.map((b) => b.blockIndex);
    expect(order.at(-1)).toBe(0);
    expect(order.at(-2)).toBe(layout.spare.blockIndex);
    expect(order).toContain(layout.journal.blockIndex);
    expect(order).toContain(layout.journal.blockIndex + 1);
    expect(order).toContain(layout.bitmap.blockIndex);
    expect(superblock.freeBlockCount).toBe(layout.data.blockCount);
    expect(hex(blocks.at(-1)!.data)).toBe(hex(blocks.at(-2)!.data));
    expect(() => formatBlocks(64 * MiB, { uuid: new Uint8Array(16) })).toThrow(RangeError);
  });
});
