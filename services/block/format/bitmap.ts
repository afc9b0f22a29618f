/**
 * Allocation bitmap blocks (FORMAT.md §5).
 *
 * One bit per block of the whole image, 1 = allocated. Bitmap block k (at
 * bitmap.blockIndex + k) holds, after its 16-byte metadata header, the 32640 bits of
 * blocks [k * 32640, (k + 1) * 32640): bit i of the image is byte 16 + floor(i' / 8),
 * bit i' % 8 (least significant first) of that block, where i' = i - k * 32640.
 *
 * Invariants checked on decode: every block outside the data region is marked allocated
 * (superblocks, journal, bitmap, Axiom log, and the bits past the end of the image), so
 * the allocator can never hand one out. Commit point: bitmap blocks reach their home only
 * by journal checkpoint, in the same transaction as the superblock's free count.
 */
import { BITMAP_BITS_PER_BLOCK, BLOCK_SIZE_BYTES } from '../limits.ts';
import { FormatError, magicBytes } from './bytes.ts';
import { MH, sealMetadata, verifyMetadata } from './metadata.ts';
import type { Layout } from './layout.ts';

export const BITMAP_MAGIC = magicBytes('SBMP');
export const BITMAP_BYTES_PER_BLOCK = BITMAP_BITS_PER_BLOCK / 8;

/** Encodes bitmap block `ordinal` from the whole-image bitmap `bits`. */
export function encodeBitmapBlock(bits: Uint8Array, ordinal: number, layout: Layout, seed: number): Uint8Array {
  const block = new Uint8Array(BLOCK_SIZE_BYTES);
  block.set(bits.subarray(ordinal * BITMAP_BYTES_PER_BLOCK, (ordinal + 1) * BITMAP_BYTES_PER_BLOCK), MH.end);
  return sealMetadata(block, BITMAP_MAGIC, layout.bitmap.blockIndex + ordinal, seed);
}

/** Verifies bitmap block `ordinal` and copies its bits into the whole-image bitmap `into`. */
export function decodeBitmapBlock(block: Uint8Array, ordinal: number, layout: Layout, seed: number, into: Uint8Array): void {
  verifyMetadata(block, BITMAP_MAGIC, layout.bitmap.blockIndex + ordinal, seed, 'bitmap');
  into.set(block.subarray(MH.end), ordinal * BITMAP_BYTES_PER_BLOCK);
}

export function bitmapBytesFor(layout: Layout): number {
  return layout.bitmap.blockCount * BITMAP_BYTES_PER_BLOCK;
}

export function testBit(bits: Uint8Array, blockIndex: number): boolean {
  return (bits[blockIndex >>> 3] & (1 << (blockIndex & 7))) !== 0;
}

/** Sets bits [blockIndex, blockIndex + blockCount) to `value`. */
export function setBits(bits: Uint8Array, blockIndex: number, blockCount: number, value: boolean): void {
  let i = blockIndex;
  const end = blockIndex + blockCount;
  for (; i < end && (i & 7) !== 0; i++) bits[i >>> 3] = value ? bits[i >>> 3] | (1 << (i & 7)) : bits[i >>> 3] & ~(1 << (i & 7));
  for (; i + 8 <= end; i += 8) bits[i >>> 3] = value ? 0xff : 0;
  for (; i < end; i++) bits[i >>> 3] = value ? bits[i >>> 3] | (1 << (i & 7)) : bits[i >>> 3] & ~(1 << (i & 7));
}

/** The bitmap of a fresh image: everything outside the data region allocated, the data region free. */
export function initialBitmap(layout: Layout): Uint8Array {
  const bits = new Uint8Array(bitmapBytesFor(layout));
  bits.fill(0xff);
  setBits(bits, layout.data.blockIndex, layout.data.blockCount, false);
  return bits;
}

/** Throws FormatError('bitmap', 'reservedBits') if a block outside the data region is marked free. */
export function checkReservedBits(bits: Uint8Array, layout: Layout): void {
  const totalBits = bits.length * 8;
  const firstData = layout.data.blockIndex;
  const endData = firstData + layout.data.blockCount;
  for (const [from, to] of [
    [0, firstData],
    [endData, totalBits],
  ]) {
    for (let i = from; i < to; i++) {
      if ((i & 7) === 0 && i + 8 <= to && bits[i >>> 3] === 0xff) {
        i += 7;
        continue;
      }
      if (!testBit(bits, i)) {
        const ordinal = Math.floor(i / BITMAP_BITS_PER_BLOCK);
        throw new FormatError('bitmap', 'reservedBits', `block ${i} lies outside the data region but is marked free`, layout.bitmap.blockIndex + ordinal);
      }
    }
  }
}

/** Free (zero) bits in the data region. */
export function countFree(bits: Uint8Array, layout: Layout): number {
  let free = 0;
  const end = layout.data.blockIndex + layout.data.blockCount;
  let i = layout.data.blockIndex;
  for (; i < end && (i & 7) !== 0; i++) if (!testBit(bits, i)) free++;
  for (; i + 8 <= end; i += 8) free += 8 - POPCOUNT[bits[i >>> 3]];
  for (; i < end; i++) if (!testBit(bits, i)) free++;
  return free;
}

export const POPCOUNT = new Uint8Array(256).map((_, b) => {
  let n = 0;
  for (let v = b; v; v &= v - 1) n++;
  return n;
});
