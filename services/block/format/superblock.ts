/**
 * The superblock (FORMAT.md §3): block 0, with a byte-identical spare copy in the last
 * block of the image.
 *
 * Commit point: the superblock is only ever written home by a journal checkpoint (or by
 * mkimage). Its one changing field, freeBlockCount, changes in the same journal
 * transaction as the bitmap blocks it summarises. The spare is rewritten from the primary
 * only after a FLUSH has made the primary durable, so a crash never leaves both torn.
 *
 * Decoding checks, in order: magic, checksum, then every field; the first failure is
 * thrown as FormatError('superblock', <field>, ...).
 */
import { BLOCK_SIZE_BYTES } from '../limits.ts';
import { FormatError, bytesEqual, getU64, isZero, magicBytes, setU64, view } from './bytes.ts';
import { crc32c } from './crc32c.ts';
import { REGION_KINDS, checkLayout, type Layout } from './layout.ts';

export const SUPERBLOCK_MAGIC = magicBytes('STRATASB');
export const FORMAT_VERSION = 1;
/** Feature bits a reader must understand to mount; this version defines none. */
export const INCOMPAT_FEATURES_KNOWN = 0;

export const SB = {
  magic: 0,
  formatVersion: 8,
  blockSizeBytes: 12,
  uuid: 16,
  blockCount: 32,
  freeBlockCount: 40,
  incompatFeatures: 48,
  regionCount: 52,
  regionTable: 56,
  regionEntryBytes: 24,
  /** End of the used fields; bytes [end, checksum) are reserved and must be zero. */
  end: 56 + 6 * 24,
  checksum: BLOCK_SIZE_BYTES - 4,
} as const;

export interface Superblock {
  formatVersion: number;
  uuid: Uint8Array;
  blockCount: number;
  freeBlockCount: number;
  incompatFeatures: number;
  layout: Layout;
}

export function encodeSuperblock(sb: Superblock): Uint8Array {
  if (sb.uuid.length !== 16) throw new RangeError('superblock uuid must be 16 bytes');
  if (sb.layout.blockCount !== sb.blockCount) throw new RangeError('superblock blockCount disagrees with its layout');
  const block = new Uint8Array(BLOCK_SIZE_BYTES);
  const dv = view(block);
  block.set(SUPERBLOCK_MAGIC, SB.magic);
  dv.setUint32(SB.formatVersion, sb.formatVersion, true);
  dv.setUint32(SB.blockSizeBytes, BLOCK_SIZE_BYTES, true);
  block.set(sb.uuid, SB.uuid);
  setU64(dv, SB.blockCount, sb.blockCount);
  setU64(dv, SB.freeBlockCount, sb.freeBlockCount);
  dv.setUint32(SB.incompatFeatures, sb.incompatFeatures, true);
  dv.setUint32(SB.regionCount, REGION_KINDS.length, true);
  REGION_KINDS.forEach((kind, i) => {
    const at = SB.regionTable + i * SB.regionEntryBytes;
    dv.setUint32(at, i + 1, true);
    dv.setUint32(at + 4, 0, true);
    setU64(dv, at + 8, sb.layout[kind].blockIndex);
    setU64(dv, at + 16, sb.layout[kind].blockCount);
  });
  dv.setUint32(SB.checksum, crc32c(block.subarray(0, SB.checksum)), true);
  return block;
}

/** Decodes and verifies a superblock copy read from `blockIndex`; throws FormatError naming the field. */
export function decodeSuperblock(block: Uint8Array, blockIndex = 0): Superblock {
  const fail = (field: string, detail: string): never => {
    throw new FormatError('superblock', field, detail, blockIndex);
  };
  if (block.length !== BLOCK_SIZE_BYTES) fail('length', `${block.length} bytes, expected ${BLOCK_SIZE_BYTES}`);
  if (!bytesEqual(block.subarray(0, 8), SUPERBLOCK_MAGIC)) fail('magic', 'not a Strata superblock');
  const dv = view(block);
  const stored = dv.getUint32(SB.checksum, true);
  const computed = crc32c(block.subarray(0, SB.checksum));
  if (stored !== computed) fail('checksum', `stored 0x${stored.toString(16)}, computed 0x${computed.toString(16)}`);
  const formatVersion = dv.getUint32(SB.formatVersion, true);
  if (formatVersion !== FORMAT_VERSION) fail('formatVersion', `${formatVersion}, this build reads ${FORMAT_VERSION}`);
  const blockSizeBytes = dv.getUint32(SB.blockSizeBytes, true);
  if (blockSizeBytes !== BLOCK_SIZE_BYTES) fail('blockSizeBytes', `${blockSizeBytes}, expected ${BLOCK_SIZE_BYTES}`);
  const uuid = block.slice(SB.uuid, SB.uuid + 16);
  if (isZero(uuid)) fail('uuid', 'is all zeros');
  const blockCount = getU64(dv, SB.blockCount, 'superblock', 'blockCount', blockIndex);
  const freeBlockCount = getU64(dv, SB.freeBlockCount, 'superblock', 'freeBlockCount', blockIndex);
  const incompatFeatures = dv.getUint32(SB.incompatFeatures, true);
  if ((incompatFeatures & ~INCOMPAT_FEATURES_KNOWN) !== 0) fail('incompatFeatures', `unknown bits 0x${incompatFeatures.toString(16)}`);
  const regionCount = dv.getUint32(SB.regionCount, true);
  if (regionCount !== REGION_KINDS.length) fail('regionCount', `${regionCount}, expected ${REGION_KINDS.length}`);
  const layout = { blockCount } as Layout;
  REGION_KINDS.forEach((kind, i) => {
    const at = SB.regionTable + i * SB.regionEntryBytes;
    const code = dv.getUint32(at, true);
    if (code !== i + 1) fail(`region[${i}].kind`, `${code}, expected ${i + 1} (${kind})`);
    if (dv.getUint32(at + 4, true) !== 0) fail(`region[${i}].reserved`, 'must be zero');
    layout[kind] = {
      blockIndex: getU64(dv, at + 8, 'superblock', `region[${i}].startBlock`, blockIndex),
      blockCount: getU64(dv, at + 16, 'superblock', `region[${i}].blockCount`, blockIndex),
    };
  });
  if (!isZero(block.subarray(SB.end, SB.checksum))) fail('reserved', `bytes [${SB.end}, ${SB.checksum}) must be zero`);
  try {
    checkLayout(layout);
  } catch (e) {
    if (e instanceof FormatError) fail(`regionTable.${e.field}`, e.message);
    throw e;
  }
  if (freeBlockCount > layout.data.blockCount) fail('freeBlockCount', `${freeBlockCount} exceeds the ${layout.data.blockCount}-block data region`);
  return { formatVersion, uuid, blockCount, freeBlockCount, incompatFeatures, layout };
}
