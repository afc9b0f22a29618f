/**
 * The 16-byte header every metadata block except the superblock starts with
 * (FORMAT.md §4): magic (4 ASCII bytes), checksum (u32), self block index (u64).
 *
 * The checksum is CRC32C over the whole 4096-byte block except the checksum field
 * itself, seeded with crc32c(uuid) of the image. The seed makes a block written by a
 * different image (an old format of the same file, a copied journal) fail verification;
 * the self block index makes a block written to or read from the wrong place fail it.
 */
import { BLOCK_SIZE_BYTES } from '../limits.ts';
import { FormatError, bytesEqual, getU64, setU64, view, type FormatStructure } from './bytes.ts';
import { crc32c } from './crc32c.ts';

export const MH = { magic: 0, checksum: 4, selfBlockIndex: 8, end: 16 } as const;

/** The checksum seed of an image: crc32c of its 16-byte uuid. */
export function checksumSeed(uuid: Uint8Array): number {
  if (uuid.length !== 16) throw new RangeError('uuid must be 16 bytes');
  return crc32c(uuid);
}

export function metadataChecksum(block: Uint8Array, seed: number): number {
  return crc32c(block.subarray(MH.end - 8), crc32c(block.subarray(0, MH.checksum), seed));
}

/** Checksum of a raw block image (journal data blocks), seeded the same way. */
export function dataChecksum(image: Uint8Array, seed: number): number {
  return crc32c(image, seed);
}

/** Writes magic and self index, then the checksum. Call after every other field is set. */
export function sealMetadata(block: Uint8Array, magic: Uint8Array, blockIndex: number, seed: number): Uint8Array {
  if (block.length !== BLOCK_SIZE_BYTES) throw new RangeError(`metadata block of ${block.length} bytes`);
  const dv = view(block);
  block.set(magic, MH.magic);
  setU64(dv, MH.selfBlockIndex, blockIndex);
  dv.setUint32(MH.checksum, metadataChecksum(block, seed), true);
  return block;
}

/** Verifies magic, checksum and self index, in that order; throws FormatError naming which failed. */
export function verifyMetadata(block: Uint8Array, magic: Uint8Array, blockIndex: number, seed: number, structure: FormatStructure): DataView {
  if (block.length !== BLOCK_SIZE_BYTES) throw new FormatError(structure, 'length', `${block.length} bytes`, blockIndex);
  if (!bytesEqual(block.subarray(0, 4), magic)) {
    throw new FormatError(structure, 'magic', `found '${String.fromCharCode(...block.subarray(0, 4))}', expected '${String.fromCharCode(...magic)}'`, blockIndex);
  }
  const dv = view(block);
  const stored = dv.getUint32(MH.checksum, true);
  const computed = metadataChecksum(block, seed);
  if (stored !== computed) throw new FormatError(structure, 'checksum', `stored 0x${stored.toString(16)}, computed 0x${computed.toString(16)}`, blockIndex);
  const self = getU64(dv, MH.selfBlockIndex, structure, 'selfBlockIndex', blockIndex);
  if (self !== blockIndex) throw new FormatError(structure, 'selfBlockIndex', `block says it lives at ${self} (misdirected write?)`, blockIndex);
  return dv;
}

/** True when the block has the magic and a valid checksum for its own self index (for scanning). */
export function looksValid(block: Uint8Array, magic: Uint8Array, blockIndex: number, seed: number): boolean {
  try {
    verifyMetadata(block, magic, blockIndex, seed, 'journal');
    return true;
  } catch {
    return false;
  }
}
