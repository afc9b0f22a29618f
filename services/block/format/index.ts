/**
 * The Strata on-disk format, the one module that reads and writes it (FORMAT.md is its
 * specification). Imported by services/block and by the tools (mkimage, inspect, fsck);
 * it does no I/O of its own except through the reader/writer functions it is given.
 */
export { crc32c } from './crc32c.ts';
export { FormatError, formatUuid, parseUuid, hex, type FormatStructure } from './bytes.ts';
export {
  REGION_KINDS,
  layoutFor,
  checkLayout,
  imageBlockCount,
  bitmapBlocksFor,
  inExtent,
  regionOf,
  journalLog,
  type Extent,
  type Layout,
  type RegionKind,
} from './layout.ts';
export { SUPERBLOCK_MAGIC, FORMAT_VERSION, SB, encodeSuperblock, decodeSuperblock, type Superblock } from './superblock.ts';
export { checksumSeed, dataChecksum, MH } from './metadata.ts';
export {
  BITMAP_MAGIC,
  BITMAP_BYTES_PER_BLOCK,
  encodeBitmapBlock,
  decodeBitmapBlock,
  bitmapBytesFor,
  initialBitmap,
  checkReservedBits,
  countFree,
  testBit,
  setBits,
} from './bitmap.ts';
export {
  JOURNAL_HEADER_MAGIC,
  DESCRIPTOR_MAGIC,
  COMMIT_MAGIC,
  JH,
  JD,
  JC,
  encodeJournalHeader,
  decodeJournalHeader,
  encodeDescriptor,
  decodeDescriptor,
  encodeCommit,
  decodeCommit,
  transactionLengthBlocks,
  type JournalHeader,
  type Descriptor,
  type DescriptorTag,
  type Commit,
} from './journal-records.ts';
export { encodeTransaction, readJournalHeader, scanJournal, type BlockWrite, type BlockReader, type ScannedTransaction, type JournalScan, type HeaderChoice } from './journal-log.ts';
export { formatBlocks, formatImage, type FormatOptions, type FormattedImage } from './image.ts';
export { readImage, readBitmap, type ImageReport } from './read-image.ts';
