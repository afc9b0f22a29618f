/**
 * Group commit, the byte side: lays the transactions sealed into one batch end to end
 * from the tail, as whole blocks ready for the device (FORMAT.md, "Writing").
 *
 * The first block starts with the committed bytes already before the tail (rewritten
 * unchanged), frames follow at 8-byte alignment, and the rest of the last block is zeros.
 * Sequence numbers, txids and chain hashes are assigned here, at sealing time, so the log
 * order is the order proposals were sealed. Nothing is visible to readers until the
 * engine has written and flushed the buffer (the commit point); if that fails, the
 * engine throws the whole BuiltBatch away.
 */

import type { ServiceError } from '../kernel/errors.ts';
import type { Hasher } from './chain.ts';
import { assert } from './errors.ts';
import { writeFrame } from './frame.ts';
import { alignDown, alignUp, AXIOM_BLOCK_SIZE_BYTES, FRAME_ALIGN_BYTES, frameFootprintBytes } from './limits.ts';
import { COMMIT_CODE, type PreparedRecord } from './records.ts';

export interface CommitReceipt {
  /** Transaction id: the seq of its first record. */
  txid: number;
  firstSeq: number;
  /** Seq of its Commit record; the transaction holds firstSeq .. commitSeq - 1. */
  commitSeq: number;
}

export interface Proposal {
  readonly records: readonly PreparedRecord[];
  readonly commitPayload: Uint8Array;
  /** Bytes of all its frames in the ring, Commit and alignment included. */
  readonly footprintBytes: number;
  readonly checkpoint: boolean;
  readonly queuedAtMs: number;
  resolve(receipt: CommitReceipt): void;
  reject(error: ServiceError): void;
}

export function proposalFootprintBytes(records: readonly PreparedRecord[], commitPayload: Uint8Array): number {
  let sizeBytes = frameFootprintBytes(commitPayload.length);
  for (const r of records) sizeBytes += frameFootprintBytes(r.payloadBytes.length);
  return sizeBytes;
}

export interface SealedTxn {
  proposal: Proposal;
  receipt: CommitReceipt;
  /** Logical position and chain predecessor of its first record. */
  pos: number;
  prevHash: Uint8Array;
  /** Chain hash of each of its records, the Commit's last. */
  hashes: Uint8Array[];
}

export interface BuiltBatch {
  /** Block-aligned logical position of buffer[0]. */
  alignedStartPos: number;
  buffer: Uint8Array;
  /** Logical position after the last frame (8-aligned): the new tail. */
  endPos: number;
  nextSeq: number;
  lastHash: Uint8Array;
  recordCount: number;
  sealed: SealedTxn[];
}

export interface BatchStart {
  tailPos: number;
  /** The block holding tailPos, with the committed bytes before it. */
  tailBlock: Uint8Array;
  nextSeq: number;
  prevHash: Uint8Array;
  epoch: number;
  hasher: Hasher;
  /** Called for every record, in order (the engine indexes them once committed). */
  onRecord?: (seq: number, pos: number, prevHash: Uint8Array) => void;
}

export function buildBatch(proposals: readonly Proposal[], start: BatchStart): BuiltBatch {
  assert(proposals.length >= 1, 'a batch has a proposal');
  assert(start.tailPos % FRAME_ALIGN_BYTES === 0 && start.tailBlock.length === AXIOM_BLOCK_SIZE_BYTES, 'batch starts at an aligned tail');
  const alignedStartPos = alignDown(start.tailPos, AXIOM_BLOCK_SIZE_BYTES);
  const prefixBytes = start.tailPos - alignedStartPos;
  let totalBytes = 0;
  for (const p of proposals) totalBytes += p.footprintBytes;
  const buffer = new Uint8Array(alignUp(prefixBytes + totalBytes, AXIOM_BLOCK_SIZE_BYTES));
  buffer.set(start.tailBlock.subarray(0, prefixBytes), 0);

  let pos = start.tailPos;
  let seq = start.nextSeq;
  let prevHash = start.prevHash;
  let recordCount = 0;
  const sealed: SealedTxn[] = [];
  let hashes: Uint8Array[] = [];
  const put = (typeCode: number, txid: number, payload: Uint8Array) => {
    start.onRecord?.(seq, pos, prevHash);
    prevHash = writeFrame(buffer, pos - alignedStartPos, { seq, txid, epoch: start.epoch, typeCode, payload }, prevHash, start.hasher);
    hashes.push(prevHash);
    pos += frameFootprintBytes(payload.length);
    seq++;
    recordCount++;
  };
  for (const p of proposals) {
    const txPos = pos;
    const txPrev = prevHash;
    const txid = seq;
    hashes = [];
    for (const r of p.records) put(r.code, txid, r.payloadBytes);
    put(COMMIT_CODE, txid, p.commitPayload);
    assert(pos - txPos === p.footprintBytes, `transaction ${txid} took the bytes it was sized for`);
    sealed.push({ proposal: p, receipt: { txid, firstSeq: txid, commitSeq: seq - 1 }, pos: txPos, prevHash: txPrev, hashes });
  }
  assert(pos === start.tailPos + totalBytes && pos - alignedStartPos <= buffer.length, 'the batch fills its buffer exactly');
  return { alignedStartPos, buffer, endPos: pos, nextSeq: seq, lastHash: prevHash, recordCount, sealed };
}
