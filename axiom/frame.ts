/**
 * The record frame (FORMAT.md, "Record frame"): encode one into a buffer, and check one
 * read back. This is the only code that knows the frame's byte layout.
 *
 *   0 checksum u32 | 4 hash [32] | 36 frameLength u32 | 40 seq u64 | 48 txid u64
 *   56 epoch u32 | 60 type u16 | 62 flags u16 | 64 payload
 *
 * checksum = CRC32C(bytes [4, frameLength)); hash = BLAKE3(prevHash || bytes [36, frameLength)).
 *
 * `checkFrame` applies the four tests that decide where a log ends, in FORMAT.md's order
 * (length, checksum, seq, chain) and reports the first that fails; it never throws on
 * bad bytes. `writeFrame` asserts its inputs (a bad one is a bug in the engine, never a
 * client's input, which records.ts has validated already) and checks what it wrote.
 */

import { assert } from './errors.ts';
import { crc32c } from './crc32c.ts';
import type { Hasher } from './chain.ts';
import { FRAME_HEADER_SIZE_BYTES, FRAME_SIZE_BYTES_MAX, HASH_SIZE_BYTES } from './limits.ts';

export const FRAME_OFFSET = {
  checksum: 0,
  hash: 4,
  frameLength: 36,
  seq: 40,
  txid: 48,
  epoch: 56,
  type: 60,
  flags: 62,
  payload: 64,
} as const;

/** Bytes covered by the chain hash start here (frameLength onward). */
export const HASHED_FROM = FRAME_OFFSET.frameLength;

export interface FrameFields {
  seq: number;
  txid: number;
  epoch: number;
  typeCode: number;
  payload: Uint8Array;
}

export interface DecodedFrame extends FrameFields {
  frameLength: number;
  flags: number;
  /** This record's chain hash (a view into the frame bytes). */
  hash: Uint8Array;
}

export type FrameFailure = 'length' | 'checksum' | 'seq' | 'chain';

export type FrameCheck =
  | { ok: true; frame: DecodedFrame }
  | { ok: false; reason: FrameFailure; detail: string };

const U32 = 2 ** 32;
const U64_SAFE_HI_MAX = 2 ** 21; // hi word of a u64 below 2^53

function putU64(view: DataView, offset: number, value: number): void {
  assert(Number.isSafeInteger(value) && value >= 0, `u64 field ${value} is a safe unsigned integer`);
  view.setUint32(offset, value % U32, true);
  view.setUint32(offset + 4, Math.floor(value / U32), true);
}

/** A u64 field, or -1 if it does not fit below 2^53. */
export function getU64(view: DataView, offset: number): number {
  const hi = view.getUint32(offset + 4, true);
  if (hi >= U64_SAFE_HI_MAX) return -1;
  return hi * U32 + view.getUint32(offset, true);
}

export function putU64At(view: DataView, offset: number, value: number): void {
  putU64(view, offset, value);
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Bytes a frame with this payload occupies, without alignment. */
export function frameLengthFor(payloadSizeBytes: number): number {
  return FRAME_HEADER_SIZE_BYTES + payloadSizeBytes;
}

/**
 * Writes the frame for `fields` at `dst[offset ..]` and returns its chain hash (a copy).
 * `dst` must have frameLengthFor(payload) bytes free at `offset`.
 */
export function writeFrame(dst: Uint8Array, offset: number, fields: FrameFields, prevHash: Uint8Array, hasher: Hasher): Uint8Array {
  const frameLength = frameLengthFor(fields.payload.length);
  assert(frameLength <= FRAME_SIZE_BYTES_MAX, `frame of ${frameLength} bytes within FRAME_SIZE_BYTES_MAX`);
  assert(offset >= 0 && offset + frameLength <= dst.length, 'frame fits its buffer');
  assert(prevHash.length === HASH_SIZE_BYTES, 'prevHash is 32 bytes');
  assert(fields.seq >= 1 && fields.txid >= 1 && fields.txid <= fields.seq, `seq ${fields.seq} and txid ${fields.txid} are valid`);
  assert(Number.isInteger(fields.epoch) && fields.epoch >= 0 && fields.epoch < U32, 'epoch is a u32');
  assert(Number.isInteger(fields.typeCode) && fields.typeCode >= 1 && fields.typeCode <= 0xffff, 'type code is a u16');
  const frame = dst.subarray(offset, offset + frameLength);
  const view = viewOf(frame);
  view.setUint32(FRAME_OFFSET.frameLength, frameLength, true);
  putU64(view, FRAME_OFFSET.seq, fields.seq);
  putU64(view, FRAME_OFFSET.txid, fields.txid);
  view.setUint32(FRAME_OFFSET.epoch, fields.epoch, true);
  view.setUint16(FRAME_OFFSET.type, fields.typeCode, true);
  view.setUint16(FRAME_OFFSET.flags, 0, true);
  frame.set(fields.payload, FRAME_OFFSET.payload);
  const hash = hasher.hash([prevHash, frame.subarray(HASHED_FROM)]);
  assert(hash.length === HASH_SIZE_BYTES, 'hasher returns 32 bytes');
  frame.set(hash, FRAME_OFFSET.hash);
  view.setUint32(FRAME_OFFSET.checksum, crc32c(frame.subarray(FRAME_OFFSET.hash)), true);
  // Paired check: what we wrote reads back as the frame we meant.
  assert(view.getUint32(FRAME_OFFSET.frameLength, true) === frameLength && getU64(view, FRAME_OFFSET.seq) === fields.seq, 'frame reads back');
  return Uint8Array.from(hash);
}

/** Encodes one frame into a fresh buffer (tests, tools). */
export function encodeFrame(fields: FrameFields, prevHash: Uint8Array, hasher: Hasher): { bytes: Uint8Array; hash: Uint8Array } {
  const bytes = new Uint8Array(frameLengthFor(fields.payload.length));
  const hash = writeFrame(bytes, 0, fields, prevHash, hasher);
  return { bytes, hash };
}

/**
 * The frameLength field of the header at `header[0 ..]` if it is in range, else -1.
 * `header` needs at least FRAME_HEADER_SIZE_BYTES bytes.
 */
export function frameLengthOf(header: Uint8Array, frameSizeBytesMax = FRAME_SIZE_BYTES_MAX): number {
  assert(header.length >= FRAME_HEADER_SIZE_BYTES, 'a whole header was read');
  const frameLength = viewOf(header).getUint32(FRAME_OFFSET.frameLength, true);
  return frameLength >= FRAME_HEADER_SIZE_BYTES && frameLength <= frameSizeBytesMax ? frameLength : -1;
}

/**
 * Checks `frame` (exactly one frame's bytes) as the record after one whose hash is
 * `prevHash`, expected to carry `expectedSeq`. Never throws on bad bytes.
 */
export function checkFrame(frame: Uint8Array, expectedSeq: number, prevHash: Uint8Array, hasher: Hasher): FrameCheck {
  if (frame.length < FRAME_HEADER_SIZE_BYTES) return { ok: false, reason: 'length', detail: `${frame.length} bytes is shorter than a header` };
  const view = viewOf(frame);
  const frameLength = view.getUint32(FRAME_OFFSET.frameLength, true);
  if (frameLength !== frame.length || frameLength > FRAME_SIZE_BYTES_MAX) {
    return { ok: false, reason: 'length', detail: `frameLength ${frameLength} does not fit (${frame.length} bytes given)` };
  }
  const stored = view.getUint32(FRAME_OFFSET.checksum, true);
  const actual = crc32c(frame.subarray(FRAME_OFFSET.hash));
  if (stored !== actual) return { ok: false, reason: 'checksum', detail: `checksum ${hex32(stored)} != computed ${hex32(actual)}` };
  const seq = getU64(view, FRAME_OFFSET.seq);
  if (seq !== expectedSeq) return { ok: false, reason: 'seq', detail: `seq ${seq} where ${expectedSeq} was expected` };
  const hash = frame.subarray(FRAME_OFFSET.hash, FRAME_OFFSET.hash + HASH_SIZE_BYTES);
  const computed = hasher.hash([prevHash, frame.subarray(HASHED_FROM)]);
  if (!equalBytes(hash, computed)) return { ok: false, reason: 'chain', detail: `hash does not chain from its predecessor` };
  const frameOut: DecodedFrame = {
    seq,
    txid: getU64(view, FRAME_OFFSET.txid),
    epoch: view.getUint32(FRAME_OFFSET.epoch, true),
    typeCode: view.getUint16(FRAME_OFFSET.type, true),
    flags: view.getUint16(FRAME_OFFSET.flags, true),
    frameLength,
    hash,
    payload: frame.subarray(FRAME_OFFSET.payload),
  };
  return { ok: true, frame: frameOut };
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function hex32(n: number): string {
  return '0x' + n.toString(16).padStart(8, '0');
}
