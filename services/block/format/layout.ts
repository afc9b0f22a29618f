/**
 * Where each region of an image lies, as a function of the image size (FORMAT.md §2).
 *
 *   N = floor(sizeBytes / 4096)                       blocks in the image
 *   J = clamp(floor(N / 64), 1024, 16384)              journal (2 header slots + log)
 *   B = ceil(N / 32640)                                allocation bitmap
 *   A = clamp(floor(N / 16), 256, 262144)              Axiom log
 *   D = N - 2 - J - B - A                              data
 *   [0: superblock][1..J: journal][bitmap][Axiom][data][N-1: spare superblock]
 *
 * `layoutFor` is what mkimage uses; a mounted image's layout is whatever its superblock's
 * region table says, and `checkLayout` is the one place that says what a valid table is
 * (contiguous, in order, covering the image, big enough). Trailing bytes past N blocks
 * are unused.
 */
import {
  AXIOM_BLOCKS_MAX,
  AXIOM_BLOCKS_MIN,
  AXIOM_DIVISOR,
  BITMAP_BITS_PER_BLOCK,
  BLOCK_SIZE_BYTES,
  DATA_BLOCKS_MIN,
  IMAGE_BLOCKS_MAX,
  IMAGE_BLOCKS_MIN,
  JOURNAL_BLOCKS_MAX,
  JOURNAL_BLOCKS_MIN,
  JOURNAL_DIVISOR,
  JOURNAL_HEADER_BLOCKS,
  TX_JOURNAL_BLOCKS_MAX,
} from '../limits.ts';
import { FormatError } from './bytes.ts';

export interface Extent {
  blockIndex: number;
  blockCount: number;
}

/** Region kinds in on-disk order; the numeric code is the `kind` field of a region table entry. */
export const REGION_KINDS = ['superblock', 'journal', 'bitmap', 'axiom', 'data', 'spare'] as const;
export type RegionKind = (typeof REGION_KINDS)[number];

export interface Layout {
  /** Blocks in the image (N). */
  blockCount: number;
  superblock: Extent;
  journal: Extent;
  bitmap: Extent;
  axiom: Extent;
  data: Extent;
  /** The spare superblock: always the last block. */
  spare: Extent;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** Blocks an image of `sizeBytes` holds (whole blocks only). */
export function imageBlockCount(sizeBytes: number): number {
  return Math.floor(sizeBytes / BLOCK_SIZE_BYTES);
}

export function bitmapBlocksFor(blockCount: number): number {
  return Math.ceil(blockCount / BITMAP_BITS_PER_BLOCK);
}

/** The layout mkimage gives an image of `imageSizeBytes`; RangeError if it is too small or too large. */
export function layoutFor(imageSizeBytes: number): Layout {
  if (!Number.isSafeInteger(imageSizeBytes) || imageSizeBytes < 0) throw new RangeError(`layoutFor: imageSizeBytes ${imageSizeBytes}`);
  const n = imageBlockCount(imageSizeBytes);
  if (n < IMAGE_BLOCKS_MIN || n > IMAGE_BLOCKS_MAX) {
    throw new RangeError(`layoutFor: an image must hold ${IMAGE_BLOCKS_MIN}..${IMAGE_BLOCKS_MAX} blocks of ${BLOCK_SIZE_BYTES} bytes, this one holds ${n}`);
  }
  const j = clamp(Math.floor(n / JOURNAL_DIVISOR), JOURNAL_BLOCKS_MIN, JOURNAL_BLOCKS_MAX);
  const b = bitmapBlocksFor(n);
  const a = clamp(Math.floor(n / AXIOM_DIVISOR), AXIOM_BLOCKS_MIN, AXIOM_BLOCKS_MAX);
  const d = n - 2 - j - b - a;
  const layout: Layout = {
    blockCount: n,
    superblock: { blockIndex: 0, blockCount: 1 },
    journal: { blockIndex: 1, blockCount: j },
    bitmap: { blockIndex: 1 + j, blockCount: b },
    axiom: { blockIndex: 1 + j + b, blockCount: a },
    data: { blockIndex: 1 + j + b + a, blockCount: d },
    spare: { blockIndex: n - 1, blockCount: 1 },
  };
  checkLayout(layout);
  return layout;
}

/** Throws FormatError('layout', <region>, ...) unless the regions tile [0, N) in order and each is big enough. */
export function checkLayout(layout: Layout): void {
  const n = layout.blockCount;
  if (!Number.isSafeInteger(n) || n < IMAGE_BLOCKS_MIN || n > IMAGE_BLOCKS_MAX) {
    throw new FormatError('layout', 'blockCount', `${n} is outside [${IMAGE_BLOCKS_MIN}, ${IMAGE_BLOCKS_MAX}]`);
  }
  let next = 0;
  for (const kind of REGION_KINDS) {
    const r = layout[kind];
    if (r.blockIndex !== next) throw new FormatError('layout', kind, `starts at block ${r.blockIndex}, expected ${next} (regions must be contiguous and in order)`);
    if (!Number.isSafeInteger(r.blockCount) || r.blockCount < 1) throw new FormatError('layout', kind, `has ${r.blockCount} blocks`);
    next += r.blockCount;
  }
  if (next !== n) throw new FormatError('layout', 'spare', `regions end at block ${next}, the image has ${n}`);
  if (layout.superblock.blockCount !== 1 || layout.spare.blockCount !== 1) throw new FormatError('layout', 'superblock', 'each superblock copy is one block');
  if (layout.journal.blockCount - JOURNAL_HEADER_BLOCKS < 2 * TX_JOURNAL_BLOCKS_MAX || layout.journal.blockCount > JOURNAL_BLOCKS_MAX) {
    throw new FormatError('layout', 'journal', `${layout.journal.blockCount} blocks is outside [${JOURNAL_HEADER_BLOCKS + 2 * TX_JOURNAL_BLOCKS_MAX}, ${JOURNAL_BLOCKS_MAX}]`);
  }
  if (layout.bitmap.blockCount !== bitmapBlocksFor(n)) throw new FormatError('layout', 'bitmap', `${layout.bitmap.blockCount} blocks, ${n} blocks need ${bitmapBlocksFor(n)}`);
  if (layout.data.blockCount < DATA_BLOCKS_MIN) throw new FormatError('layout', 'data', `${layout.data.blockCount} blocks is fewer than ${DATA_BLOCKS_MIN}`);
}

export function inExtent(e: Extent, blockIndex: number, blockCount = 1): boolean {
  return blockIndex >= e.blockIndex && blockIndex + blockCount <= e.blockIndex + e.blockCount;
}

/** The region holding `blockIndex`, or undefined past the image. */
export function regionOf(layout: Layout, blockIndex: number): RegionKind | undefined {
  for (const kind of REGION_KINDS) if (inExtent(layout[kind], blockIndex)) return kind;
  return undefined;
}

/** Log area of the journal: the blocks after the two header slots. */
export function journalLog(layout: Layout): Extent {
  return { blockIndex: layout.journal.blockIndex + JOURNAL_HEADER_BLOCKS, blockCount: layout.journal.blockCount - JOURNAL_HEADER_BLOCKS };
}
