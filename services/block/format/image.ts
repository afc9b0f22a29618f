/**
 * Formatting an image (what `strata mkimage` runs over any disk backend).
 *
 * Writes, in this order: every bitmap block, both journal header slots (generation 1
 * and 0, epoch 1, tail at log position 0 with sequence 1), one zeroed block at the start
 * of the Axiom region (Axiom validates its records itself, against the uuid), the spare
 * superblock, and last the primary superblock, so an image whose formatting was cut short
 * is never mistaken for a valid one. The caller flushes afterwards. The log area and the
 * data region are not touched: records of another image fail the uuid-seeded checksums.
 */
import { BLOCK_SIZE_BYTES } from '../limits.ts';
import { bitmapBytesFor, encodeBitmapBlock, initialBitmap } from './bitmap.ts';
import { encodeJournalHeader } from './journal-records.ts';
import type { BlockWrite } from './journal-log.ts';
import { journalLog, layoutFor, type Layout } from './layout.ts';
import { checksumSeed } from './metadata.ts';
import { FORMAT_VERSION, encodeSuperblock, type Superblock } from './superblock.ts';

export interface FormatOptions {
  /** 16 bytes; not all zero. */
  uuid: Uint8Array;
}

export interface FormattedImage {
  layout: Layout;
  superblock: Superblock;
  /** Every block mkimage writes, in the order it writes them. */
  blocks: BlockWrite[];
}

export function formatBlocks(sizeBytes: number, options: FormatOptions): FormattedImage {
  if (options.uuid.length !== 16 || options.uuid.every((b) => b === 0)) throw new RangeError('formatImage: uuid must be 16 bytes, not all zero');
  const layout = layoutFor(sizeBytes);
  const seed = checksumSeed(options.uuid);
  const bits = initialBitmap(layout);
  if (bits.length !== bitmapBytesFor(layout)) throw new Error('formatImage: bitmap size');
  const blocks: BlockWrite[] = [];
  for (let k = 0; k < layout.bitmap.blockCount; k++) blocks.push({ blockIndex: layout.bitmap.blockIndex + k, data: encodeBitmapBlock(bits, k, layout, seed) });
  const logBlockCount = journalLog(layout).blockCount;
  for (const slot of [0, 1]) {
    const blockIndex = layout.journal.blockIndex + slot;
    blocks.push({ blockIndex, data: encodeJournalHeader({ generation: 1 - slot, epoch: 1, logBlockCount, tailSequence: 1, tailPosition: 0 }, blockIndex, seed) });
  }
  blocks.push({ blockIndex: layout.axiom.blockIndex, data: new Uint8Array(BLOCK_SIZE_BYTES) });
  const superblock: Superblock = {
    formatVersion: FORMAT_VERSION,
    uuid: options.uuid.slice(),
    blockCount: layout.blockCount,
    freeBlockCount: layout.data.blockCount,
    incompatFeatures: 0,
    layout,
  };
  const sbBytes = encodeSuperblock(superblock);
  blocks.push({ blockIndex: layout.spare.blockIndex, data: sbBytes });
  blocks.push({ blockIndex: layout.superblock.blockIndex, data: sbBytes });
  return { layout, superblock, blocks };
}

/** Formats an image through `write(blockIndex, data)` (any backend); returns its layout and superblock. */
export function formatImage(write: (blockIndex: number, data: Uint8Array) => void, sizeBytes: number, options: FormatOptions): { layout: Layout; superblock: Superblock } {
  const { layout, superblock, blocks } = formatBlocks(sizeBytes, options);
  for (const b of blocks) write(b.blockIndex, b.data);
  return { layout, superblock };
}
