/**
 * The anchor (FORMAT.md, "Anchor"): where recovery starts. Two slots in blocks 0 and 1;
 * generation g lives in slot g mod 2, so writing one never touches the newest other.
 *
 * Offers encode/decode of one slot, `readAnchor` (both slots, checksums verified, newest
 * valid wins; NOTFORMATTED if both are zeros, CORRUPT if neither is valid) and
 * `writeAnchor` (one slot; the caller flushes: the anchor is durable after that flush).
 *
 * Invariant: an anchor is encoded only from fields that decode back to the same anchor
 * (checked after encoding), and a slot is trusted only after its checksum and every
 * field check pass.
 */

import { crc32c } from './crc32c.ts';
import type { LogDevice } from './device.ts';
import { assert, axiomError } from './errors.ts';
import { equalBytes, getU64, putU64At } from './frame.ts';
import {
  ANCHOR_SIZE_BYTES,
  AXIOM_BLOCK_SIZE_BYTES,
  AXIOM_FORMAT_VERSION,
  CHECKPOINT_IMAGE_SIZE_BYTES_MAX,
  CHECKPOINT_IMAGE_SIZE_BYTES_MIN,
  FRAME_ALIGN_BYTES,
  HASH_SIZE_BYTES,
  LOG_ID_SIZE_BYTES,
} from './limits.ts';

export interface Anchor {
  generation: number;
  regionBlockCount: number;
  epoch: number;
  logId: Uint8Array;
  startPos: number;
  startSeq: number;
  startPrevHash: Uint8Array;
  /** 0: no checkpoint yet; else equal to startSeq. */
  checkpointSeq: number;
  /** Largest checkpoint image (set at format); sizes the space kept free for a checkpoint. */
  imageSizeBytesMax: number;
}

const MAGIC = new TextEncoder().encode('AXIOMANC');

export function imageSizeOk(sizeBytes: number): boolean {
  return Number.isSafeInteger(sizeBytes) && sizeBytes >= CHECKPOINT_IMAGE_SIZE_BYTES_MIN && sizeBytes <= CHECKPOINT_IMAGE_SIZE_BYTES_MAX;
}
const CHECKSUM_OFFSET = ANCHOR_SIZE_BYTES - 4;

export function encodeAnchor(a: Anchor): Uint8Array {
  assert(a.generation >= 1 && Number.isSafeInteger(a.generation), 'anchor generation >= 1');
  assert(a.logId.length === LOG_ID_SIZE_BYTES && a.startPrevHash.length === HASH_SIZE_BYTES, 'anchor logId and hash sizes');
  assert(a.startPos % FRAME_ALIGN_BYTES === 0 && a.startSeq >= 1, 'anchor start is an aligned record');
  assert(a.checkpointSeq === 0 || a.checkpointSeq === a.startSeq, 'anchor checkpoint is its start');
  assert(Number.isInteger(a.epoch) && a.epoch >= 0 && a.epoch < 2 ** 32, 'anchor epoch is a u32');
  assert(imageSizeOk(a.imageSizeBytesMax), 'anchor image size limit in range');
  const block = new Uint8Array(AXIOM_BLOCK_SIZE_BYTES);
  const view = new DataView(block.buffer);
  block.set(MAGIC, 0);
  view.setUint16(8, AXIOM_FORMAT_VERSION, true);
  view.setUint16(10, ANCHOR_SIZE_BYTES, true);
  view.setUint32(12, AXIOM_BLOCK_SIZE_BYTES, true);
  putU64At(view, 16, a.generation);
  view.setUint32(24, a.regionBlockCount, true);
  view.setUint32(28, a.epoch, true);
  block.set(a.logId, 32);
  putU64At(view, 48, a.startPos);
  putU64At(view, 56, a.startSeq);
  block.set(a.startPrevHash, 64);
  putU64At(view, 96, a.checkpointSeq);
  view.setUint32(104, a.imageSizeBytesMax, true);
  view.setUint32(CHECKSUM_OFFSET, crc32c(block.subarray(0, CHECKSUM_OFFSET)), true);
  const back = decodeAnchor(block, a.generation % 2);
  assert(back.ok && back.anchor.startSeq === a.startSeq && equalBytes(back.anchor.startPrevHash, a.startPrevHash), 'anchor decodes back');
  return block;
}

export type AnchorSlot = { ok: true; anchor: Anchor } | { ok: false; zero: boolean; why: string };

export function decodeAnchor(block: Uint8Array, slotIndex: number): AnchorSlot {
  const bad = (why: string): AnchorSlot => ({ ok: false, zero: block.every((b) => b === 0), why });
  if (block.length < ANCHOR_SIZE_BYTES) return bad('short block');
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  if (!equalBytes(block.subarray(0, 8), MAGIC)) return bad('no magic');
  if (view.getUint32(CHECKSUM_OFFSET, true) !== crc32c(block.subarray(0, CHECKSUM_OFFSET))) return bad('checksum mismatch');
  if (view.getUint16(8, true) !== AXIOM_FORMAT_VERSION) return bad(`format version ${view.getUint16(8, true)}`);
  if (view.getUint16(10, true) !== ANCHOR_SIZE_BYTES || view.getUint32(12, true) !== AXIOM_BLOCK_SIZE_BYTES) return bad('geometry');
  const anchor: Anchor = {
    generation: getU64(view, 16),
    regionBlockCount: view.getUint32(24, true),
    epoch: view.getUint32(28, true),
    logId: block.slice(32, 32 + LOG_ID_SIZE_BYTES),
    startPos: getU64(view, 48),
    startSeq: getU64(view, 56),
    startPrevHash: block.slice(64, 64 + HASH_SIZE_BYTES),
    checkpointSeq: getU64(view, 96),
    imageSizeBytesMax: view.getUint32(104, true),
  };
  if (anchor.generation < 1 || anchor.generation % 2 !== slotIndex) return bad(`generation ${anchor.generation} in slot ${slotIndex}`);
  if (anchor.startPos < 0 || anchor.startPos % FRAME_ALIGN_BYTES !== 0 || anchor.startSeq < 1) return bad('start out of range');
  if (anchor.checkpointSeq !== 0 && anchor.checkpointSeq !== anchor.startSeq) return bad('checkpointSeq is not the start');
  if (!imageSizeOk(anchor.imageSizeBytesMax)) return bad(`image size limit ${anchor.imageSizeBytesMax}`);
  return { ok: true, anchor };
}

/** Reads both slots and returns the newest valid anchor. */
export async function readAnchor(device: LogDevice): Promise<Anchor> {
  const blocks = await device.read(0, 2);
  const slots = [0, 1].map((i) => decodeAnchor(blocks.subarray(i * AXIOM_BLOCK_SIZE_BYTES, (i + 1) * AXIOM_BLOCK_SIZE_BYTES), i));
  const valid = slots.flatMap((s) => (s.ok ? [s.anchor] : []));
  if (valid.length === 0) {
    if (slots.every((s) => !s.ok && s.zero)) throw axiomError('NOTFORMATTED', 'the region holds no Axiom log (both anchor slots are zeros)');
    throw axiomError('CORRUPT', `no valid anchor: ${slots.map((s, i) => `slot ${i}: ${s.ok ? 'ok' : s.why}`).join('; ')}`);
  }
  valid.sort((a, b) => b.generation - a.generation);
  return valid[0];
}

/** Writes `anchor` to its slot. Durable only after the caller's next flush. */
export async function writeAnchor(device: LogDevice, anchor: Anchor): Promise<void> {
  await device.write(anchor.generation % 2, encodeAnchor(anchor));
}
