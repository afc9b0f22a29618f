/**
 * Reading an image's metadata for mount, inspect and fsck: the superblock (primary, or
 * the spare when the primary fails verification, saying which and why) and the
 * allocation bitmap (every block verified, reserved bits checked).
 *
 * The spare lives in the last block of the image as the device reports it, and must
 * describe an image of exactly that many blocks; a device whose size changed fails with
 * a FormatError rather than being guessed at.
 */
import { BLOCK_SIZE_BYTES } from '../limits.ts';
import { FormatError } from './bytes.ts';
import { BITMAP_BYTES_PER_BLOCK, bitmapBytesFor, checkReservedBits, decodeBitmapBlock } from './bitmap.ts';
import type { BlockReader } from './journal-log.ts';
import type { Layout } from './layout.ts';
import { decodeSuperblock, type Superblock } from './superblock.ts';

export interface ImageReport {
  superblock: Superblock;
  source: 'primary' | 'spare';
  /** What was wrong with the copy not used (or with the spare, when the primary was used but the spare is bad). */
  problems: string[];
  /** True when the spare's bytes differ from the primary's (a repair is due). */
  spareStale: boolean;
}

/** Reads both superblock copies; returns the primary if valid, else the spare; FormatError if neither is. */
export async function readImage(read: BlockReader, deviceBlockCount: number): Promise<ImageReport> {
  const problems: string[] = [];
  const primaryBytes = await read(0, 1);
  let primary: Superblock | undefined;
  try {
    primary = decodeSuperblock(primaryBytes, 0);
    if (primary.blockCount !== deviceBlockCount) throw new FormatError('superblock', 'blockCount', `${primary.blockCount} blocks, the device holds ${deviceBlockCount}`, 0);
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    primary = undefined;
    problems.push(`primary: ${e.message}`);
  }
  const spareIndex = deviceBlockCount - 1;
  let spare: Superblock | undefined;
  let spareBytes: Uint8Array | undefined;
  try {
    spareBytes = await read(spareIndex, 1);
    spare = decodeSuperblock(spareBytes, spareIndex);
    if (spare.blockCount !== deviceBlockCount) throw new FormatError('superblock', 'blockCount', `${spare.blockCount} blocks, the device holds ${deviceBlockCount}`, spareIndex);
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    spare = undefined;
    problems.push(`spare: ${e.message}`);
  }
  if (primary) {
    const spareStale = !spareBytes || !spare || !spareBytes.every((b, i) => b === primaryBytes[i]);
    return { superblock: primary, source: 'primary', problems, spareStale };
  }
  if (spare) return { superblock: spare, source: 'spare', problems, spareStale: false };
  throw new FormatError('superblock', 'copies', `neither superblock copy is valid: ${problems.join('; ')}`);
}

/** Reads and verifies every bitmap block; returns the whole-image bitmap. */
export async function readBitmap(read: BlockReader, layout: Layout, seed: number): Promise<Uint8Array> {
  const bits = new Uint8Array(bitmapBytesFor(layout));
  const chunkBlocks = 256;
  for (let first = 0; first < layout.bitmap.blockCount; first += chunkBlocks) {
    const count = Math.min(chunkBlocks, layout.bitmap.blockCount - first);
    const bytes = await read(layout.bitmap.blockIndex + first, count);
    for (let i = 0; i < count; i++) decodeBitmapBlock(bytes.subarray(i * BLOCK_SIZE_BYTES, (i + 1) * BLOCK_SIZE_BYTES), first + i, layout, seed, bits);
  }
  checkReservedBits(bits, layout);
  if (bits.length !== layout.bitmap.blockCount * BITMAP_BYTES_PER_BLOCK) throw new Error('readBitmap: size');
  return bits;
}
