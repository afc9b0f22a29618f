/**
 * Every limit of Axiom, in one place (after TigerBeetle's constants.zig).
 *
 * Base limits are plain numbers; derived limits are formulas of them. `checkAxiomLimits()`
 * runs at module load, so an edit that breaks a relation (a transaction that could not
 * fit a batch, a reply that could not fit a message) fails at once, not in a corner case.
 * FORMAT.md names the on-disk ones; changing those changes the format version.
 */

import { BLK_REQUEST_SIZE_BYTES_MAX, MESSAGE_SIZE_BYTES_MAX, SECTOR_SIZE_BYTES } from '../kernel/limits.ts';

// ---- on-disk (FORMAT.md) ------------------------------------------------------------

export const AXIOM_FORMAT_VERSION = 1;
export const AXIOM_BLOCK_SIZE_BYTES = 4096;
/** Blocks 0 and 1 hold the two anchor slots; the ring starts after them. */
export const ANCHOR_SLOT_COUNT = 2;
export const RING_FIRST_BLOCK_INDEX = ANCHOR_SLOT_COUNT;
/** Bytes of an anchor slot covered by its checksum (the rest of the block is zero). */
export const ANCHOR_SIZE_BYTES = 128;
export const FRAME_HEADER_SIZE_BYTES = 64;
/** Frames start at multiples of this. */
export const FRAME_ALIGN_BYTES = 8;
export const HASH_SIZE_BYTES = 32;
export const LOG_ID_SIZE_BYTES = 16;

// ---- records and transactions -------------------------------------------------------

/** Largest msgpack payload of one record. */
export const RECORD_PAYLOAD_SIZE_BYTES_MAX = 1024 * 1024;
export const FRAME_SIZE_BYTES_MAX = FRAME_HEADER_SIZE_BYTES + RECORD_PAYLOAD_SIZE_BYTES_MAX;
/** Records in one proposal (the Commit record is extra). */
export const TXN_RECORDS_MAX = 4096;
/** Bytes of all frames of one transaction, Commit and alignment included. */
export const TXN_SIZE_BYTES_MAX = 4 * 1024 * 1024;
/** Largest checkpoint image (encoded) a log may be formatted for, and the smallest. */
export const CHECKPOINT_IMAGE_SIZE_BYTES_MAX = RECORD_PAYLOAD_SIZE_BYTES_MAX - 64;
export const CHECKPOINT_IMAGE_SIZE_BYTES_MIN = 16;
/** Nesting depth of a payload value. */
export const PAYLOAD_DEPTH_MAX = 32;
/** Bytes of a name in a namespace record (UTF-8). */
export const NAME_SIZE_BYTES_MAX = 255;
/** Chunks named by one Write record. */
export const WRITE_CHUNKS_MAX = 4096;
/** Largest encoded Commit payload ({recordCount}) plus header, aligned: the Commit frame bound. */
export const COMMIT_FRAME_SIZE_BYTES_MAX = 96;

// ---- group commit -------------------------------------------------------------------

/** Records (Commits included) in one batch. */
export const BATCH_RECORDS_MAX = 16_384;
/** Bytes of frames in one batch. */
export const BATCH_SIZE_BYTES_MAX = 8 * 1024 * 1024;
/** How long the first proposal of a batch may wait for company (ms, injected clock). */
export const BATCH_WAIT_MS_DEFAULT = 0;
export const BATCH_WAIT_MS_MAX = 100;
/** Proposals queued behind the batch in flight before new ones are refused with BUSY. */
export const PENDING_PROPOSALS_MAX = 65_536;
/** Bytes per device write call (the block service takes at most BLK_REQUEST_SIZE_BYTES_MAX). */
export const DEVICE_WRITE_SIZE_BYTES_MAX = 1024 * 1024;

// ---- reading and recovery -----------------------------------------------------------

/** Bytes per device read while recovering or scanning. */
export const SCAN_READ_SIZE_BYTES = 1024 * 1024;
/** One sparse-index entry (seq -> position, prevHash) per this many records. */
export const INDEX_STRIDE_RECORDS = 64;
/** Records one read() returns at most. */
export const READ_RECORDS_MAX = 4096;
/** Payload bytes one read() returns at most (at least one record is always returned). */
export const READ_SIZE_BYTES_MAX = 4 * 1024 * 1024;
/** Commit listeners on one engine. */
export const SUBSCRIBERS_MAX = 1024;
/** Service: clients parked in `wait` at once, and the longest wait. */
export const WAITERS_MAX = 4096;
export const WAIT_MS_MAX = 60_000;

// ---- derived ------------------------------------------------------------------------

export const alignUp = (n: number, to: number): number => Math.ceil(n / to) * to;
export const alignDown = (n: number, to: number): number => Math.floor(n / to) * to;

/** Bytes one frame with `payloadSizeBytes` of payload takes in the ring, alignment included. */
export function frameFootprintBytes(payloadSizeBytes: number): number {
  return alignUp(FRAME_HEADER_SIZE_BYTES + payloadSizeBytes, FRAME_ALIGN_BYTES);
}

/** Space kept free for a checkpoint transaction whose image is at most `imageSizeBytesMax`. */
export function checkpointReserveBytes(imageSizeBytesMax: number): number {
  // Checkpoint frame ({image} map header <= 16 bytes) + Commit frame, then a block of slack
  // because batches are written as whole blocks.
  return alignUp(frameFootprintBytes(imageSizeBytesMax + 16) + COMMIT_FRAME_SIZE_BYTES_MAX, AXIOM_BLOCK_SIZE_BYTES) + AXIOM_BLOCK_SIZE_BYTES;
}

/** Smallest region: anchors, the checkpoint reserve, and room for a few ordinary blocks. */
export function regionBlockCountMin(imageSizeBytesMax: number): number {
  return ANCHOR_SLOT_COUNT + checkpointReserveBytes(imageSizeBytesMax) / AXIOM_BLOCK_SIZE_BYTES + 4;
}

export function checkAxiomLimits(): void {
  const must = (ok: boolean, what: string) => {
    if (!ok) throw new Error(`axiom/limits.ts: ${what}`);
  };
  must(AXIOM_BLOCK_SIZE_BYTES % SECTOR_SIZE_BYTES === 0, 'a block is whole sectors');
  must(ANCHOR_SIZE_BYTES <= AXIOM_BLOCK_SIZE_BYTES, 'an anchor fits its block');
  must(FRAME_HEADER_SIZE_BYTES % FRAME_ALIGN_BYTES === 0, 'the header keeps payloads aligned');
  must(FRAME_SIZE_BYTES_MAX <= 0xffff_ffff, 'frameLength fits u32');
  must(frameFootprintBytes(RECORD_PAYLOAD_SIZE_BYTES_MAX) + COMMIT_FRAME_SIZE_BYTES_MAX <= TXN_SIZE_BYTES_MAX, 'a one-record transaction of the largest payload is allowed');
  must(TXN_SIZE_BYTES_MAX <= BATCH_SIZE_BYTES_MAX, 'every transaction fits a batch');
  must(TXN_RECORDS_MAX + 1 <= BATCH_RECORDS_MAX, 'every transaction (with its Commit) fits a batch');
  must(CHECKPOINT_IMAGE_SIZE_BYTES_MAX + 16 <= RECORD_PAYLOAD_SIZE_BYTES_MAX, 'a checkpoint image fits one record');
  must(DEVICE_WRITE_SIZE_BYTES_MAX % AXIOM_BLOCK_SIZE_BYTES === 0, 'device writes are whole blocks');
  must(DEVICE_WRITE_SIZE_BYTES_MAX <= BLK_REQUEST_SIZE_BYTES_MAX, 'a device write fits one block-service request');
  must(SCAN_READ_SIZE_BYTES % AXIOM_BLOCK_SIZE_BYTES === 0, 'scan reads are whole blocks');
  must(SCAN_READ_SIZE_BYTES <= BLK_REQUEST_SIZE_BYTES_MAX, 'a scan read fits one block-service request');
  must(READ_SIZE_BYTES_MAX + READ_RECORDS_MAX * 128 <= MESSAGE_SIZE_BYTES_MAX, 'a read reply fits one message');
  must(TXN_SIZE_BYTES_MAX + 64 * 1024 <= MESSAGE_SIZE_BYTES_MAX, 'a proposal fits one message');
  must(BATCH_WAIT_MS_DEFAULT >= 0 && BATCH_WAIT_MS_DEFAULT <= BATCH_WAIT_MS_MAX, 'default batch wait is within the maximum');
  must(INDEX_STRIDE_RECORDS >= 1, 'index stride is positive');
  must(regionBlockCountMin(CHECKPOINT_IMAGE_SIZE_BYTES_MAX) < 2 ** 32, 'region block count fits u32');
}
checkAxiomLimits();
