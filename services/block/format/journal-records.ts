/**
 * Journal records (FORMAT.md §6): the two header slots, descriptor blocks and commit
 * blocks. Journal data blocks are raw 4096-byte images with no header; their checksums
 * live in the descriptor tags, so no escaping of data that looks like a record is needed
 * (the scanner only ever interprets a block as a record where the structure says one is).
 *
 * Commit point of a transaction: the FLUSH completing after its descriptor, data and
 * commit blocks were written. A transaction is committed on disk iff its commit block is
 * valid, every descriptor is valid, the commit's transactionChecksum matches the
 * descriptors and every data block matches its tag's checksum.
 */
import { BLOCK_SIZE_BYTES, DESCRIPTOR_HEADER_BYTES, DESCRIPTOR_TAG_BYTES, TAGS_PER_DESCRIPTOR } from '../limits.ts';
import { FormatError, getU64, isZero, magicBytes, setU64, view } from './bytes.ts';
import { MH, sealMetadata, verifyMetadata } from './metadata.ts';

export const JOURNAL_HEADER_MAGIC = magicBytes('SJHD');
export const DESCRIPTOR_MAGIC = magicBytes('SJDS');
export const COMMIT_MAGIC = magicBytes('SJCM');

export const JH = { generation: 16, epoch: 24, logBlockCount: 28, tailSequence: 32, tailPosition: 40, reserved: 44, end: 48 } as const;
export const JD = { sequence: 16, epoch: 24, tagCount: 28, descriptorIndex: 30, tags: DESCRIPTOR_HEADER_BYTES } as const;
export const JC = { sequence: 16, epoch: 24, blockCount: 28, descriptorCount: 32, transactionChecksum: 36, batchFirstSequence: 40, end: 48 } as const;

export interface JournalHeader {
  /** Incremented on every header write; the valid slot with the higher generation wins. */
  generation: number;
  /** Records belong to the log only if they carry this epoch; bumped on every mount. */
  epoch: number;
  logBlockCount: number;
  /** Sequence number and log position of the oldest transaction not yet checkpointed. */
  tailSequence: number;
  tailPosition: number;
}

export interface DescriptorTag {
  homeBlockIndex: number;
  dataChecksum: number;
}

export interface Descriptor {
  sequence: number;
  epoch: number;
  descriptorIndex: number;
  tags: DescriptorTag[];
}

export interface Commit {
  sequence: number;
  epoch: number;
  blockCount: number;
  descriptorCount: number;
  transactionChecksum: number;
  /** Sequence of the first transaction of the group commit this one was flushed with. */
  batchFirstSequence: number;
}

export function encodeJournalHeader(h: JournalHeader, blockIndex: number, seed: number): Uint8Array {
  const block = new Uint8Array(BLOCK_SIZE_BYTES);
  const dv = view(block);
  setU64(dv, JH.generation, h.generation);
  dv.setUint32(JH.epoch, h.epoch >>> 0, true);
  dv.setUint32(JH.logBlockCount, h.logBlockCount, true);
  setU64(dv, JH.tailSequence, h.tailSequence);
  dv.setUint32(JH.tailPosition, h.tailPosition, true);
  return sealMetadata(block, JOURNAL_HEADER_MAGIC, blockIndex, seed);
}

export function decodeJournalHeader(block: Uint8Array, blockIndex: number, seed: number, logBlockCount: number): JournalHeader {
  const dv = verifyMetadata(block, JOURNAL_HEADER_MAGIC, blockIndex, seed, 'journal-header');
  const fail = (field: string, detail: string): never => {
    throw new FormatError('journal-header', field, detail, blockIndex);
  };
  const h: JournalHeader = {
    generation: getU64(dv, JH.generation, 'journal-header', 'generation', blockIndex),
    epoch: dv.getUint32(JH.epoch, true),
    logBlockCount: dv.getUint32(JH.logBlockCount, true),
    tailSequence: getU64(dv, JH.tailSequence, 'journal-header', 'tailSequence', blockIndex),
    tailPosition: dv.getUint32(JH.tailPosition, true),
  };
  if (h.logBlockCount !== logBlockCount) fail('logBlockCount', `${h.logBlockCount}, the region's log holds ${logBlockCount}`);
  if (h.tailPosition >= logBlockCount) fail('tailPosition', `${h.tailPosition} is past the ${logBlockCount}-block log`);
  if (h.tailSequence < 1) fail('tailSequence', 'sequences start at 1');
  if (!isZero(block.subarray(JH.reserved))) fail('reserved', `bytes [${JH.reserved}, ${BLOCK_SIZE_BYTES}) must be zero`);
  return h;
}

export function encodeDescriptor(d: Descriptor, blockIndex: number, seed: number): Uint8Array {
  if (d.tags.length < 1 || d.tags.length > TAGS_PER_DESCRIPTOR) throw new RangeError(`descriptor with ${d.tags.length} tags`);
  const block = new Uint8Array(BLOCK_SIZE_BYTES);
  const dv = view(block);
  setU64(dv, JD.sequence, d.sequence);
  dv.setUint32(JD.epoch, d.epoch >>> 0, true);
  dv.setUint16(JD.tagCount, d.tags.length, true);
  dv.setUint16(JD.descriptorIndex, d.descriptorIndex, true);
  d.tags.forEach((t, i) => {
    const at = JD.tags + i * DESCRIPTOR_TAG_BYTES;
    setU64(dv, at, t.homeBlockIndex);
    dv.setUint32(at + 8, t.dataChecksum, true);
  });
  return sealMetadata(block, DESCRIPTOR_MAGIC, blockIndex, seed);
}

export function decodeDescriptor(block: Uint8Array, blockIndex: number, seed: number): Descriptor {
  const dv = verifyMetadata(block, DESCRIPTOR_MAGIC, blockIndex, seed, 'descriptor');
  const tagCount = dv.getUint16(JD.tagCount, true);
  if (tagCount < 1 || tagCount > TAGS_PER_DESCRIPTOR) throw new FormatError('descriptor', 'tagCount', `${tagCount} is outside [1, ${TAGS_PER_DESCRIPTOR}]`, blockIndex);
  const tags: DescriptorTag[] = [];
  for (let i = 0; i < tagCount; i++) {
    const at = JD.tags + i * DESCRIPTOR_TAG_BYTES;
    if (dv.getUint32(at + 12, true) !== 0) throw new FormatError('descriptor', `tags[${i}].flags`, 'must be zero', blockIndex);
    tags.push({ homeBlockIndex: getU64(dv, at, 'descriptor', `tags[${i}].homeBlockIndex`, blockIndex), dataChecksum: dv.getUint32(at + 8, true) });
  }
  if (!isZero(block.subarray(JD.tags + tagCount * DESCRIPTOR_TAG_BYTES))) throw new FormatError('descriptor', 'unusedTags', 'must be zero', blockIndex);
  return {
    sequence: getU64(dv, JD.sequence, 'descriptor', 'sequence', blockIndex),
    epoch: dv.getUint32(JD.epoch, true),
    descriptorIndex: dv.getUint16(JD.descriptorIndex, true),
    tags,
  };
}

export function encodeCommit(c: Commit, blockIndex: number, seed: number): Uint8Array {
  const block = new Uint8Array(BLOCK_SIZE_BYTES);
  const dv = view(block);
  setU64(dv, JC.sequence, c.sequence);
  dv.setUint32(JC.epoch, c.epoch >>> 0, true);
  dv.setUint32(JC.blockCount, c.blockCount, true);
  dv.setUint32(JC.descriptorCount, c.descriptorCount, true);
  dv.setUint32(JC.transactionChecksum, c.transactionChecksum, true);
  setU64(dv, JC.batchFirstSequence, c.batchFirstSequence);
  return sealMetadata(block, COMMIT_MAGIC, blockIndex, seed);
}

export function decodeCommit(block: Uint8Array, blockIndex: number, seed: number): Commit {
  const dv = verifyMetadata(block, COMMIT_MAGIC, blockIndex, seed, 'commit');
  if (!isZero(block.subarray(JC.end))) throw new FormatError('commit', 'reserved', `bytes [${JC.end}, ${BLOCK_SIZE_BYTES}) must be zero`, blockIndex);
  const c: Commit = {
    sequence: getU64(dv, JC.sequence, 'commit', 'sequence', blockIndex),
    epoch: dv.getUint32(JC.epoch, true),
    blockCount: dv.getUint32(JC.blockCount, true),
    descriptorCount: dv.getUint32(JC.descriptorCount, true),
    transactionChecksum: dv.getUint32(JC.transactionChecksum, true),
    batchFirstSequence: getU64(dv, JC.batchFirstSequence, 'commit', 'batchFirstSequence', blockIndex),
  };
  if (c.batchFirstSequence > c.sequence) throw new FormatError('commit', 'batchFirstSequence', `${c.batchFirstSequence} is after the commit's own ${c.sequence}`, blockIndex);
  return c;
}

/** Log blocks a transaction of `blockCount` data blocks occupies: descriptors, data, commit. */
export function transactionLengthBlocks(blockCount: number): number {
  return Math.ceil(blockCount / TAGS_PER_DESCRIPTOR) + blockCount + 1;
}

export { MH };
