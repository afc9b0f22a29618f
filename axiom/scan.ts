/**
 * The recovery scan (FORMAT.md, "Recovery", step 2-3): walk frames forward from a start
 * (the anchor's checkpoint, or an index entry) verifying length, checksum, seq and chain,
 * and find where the committed log ends.
 *
 * The walk stops at the first frame that is not well formed: that is the end of the log
 * (a torn tail, zeros, or debris of an older lap) and is reported in `stop`, never
 * thrown. A frame that is well formed but breaks a rule no torn write can break (flags,
 * unknown type, txid rules, epoch order, a Commit whose count is wrong, a Checkpoint not
 * alone in its transaction) is corruption and throws CORRUPT naming the record.
 *
 * Only committed records count: the result ends after the last intact Commit; records
 * of a trailing transaction without one are counted as discarded. Recovery, verify() and
 * `inspect` all use this one walk, so they cannot disagree about where a log ends.
 */

import type { Hasher } from './chain.ts';
import { axiomError } from './errors.ts';
import { checkFrame, frameLengthOf, type DecodedFrame, type FrameFailure } from './frame.ts';
import { alignUp, FRAME_ALIGN_BYTES, FRAME_HEADER_SIZE_BYTES, TXN_RECORDS_MAX } from './limits.ts';
import { CHECKPOINT_CODE, COMMIT_CODE, decodeRecordPayload, recordTypeByCode } from './records.ts';
import { RingCursor, type Ring } from './ring.ts';
import type { IndexEntry, SeqIndex } from './seq-index.ts';

export interface ScanStart {
  pos: number;
  seq: number;
  prevHash: Uint8Array;
  /** The anchor names a checkpoint at `seq`: its transaction must be intact. */
  checkpoint: boolean;
  /** Records must carry an epoch no higher than this (the anchor's). */
  epochMax: number;
}

export interface ScanOptions {
  /** Stop (as 'limit') before reading a record with a seq above this. */
  seqMax?: number;
  /** Receives an entry (by its stride) for every record of every committed transaction. */
  index?: SeqIndex;
}

export interface ScanResult {
  /** End of the last committed frame, aligned to FRAME_ALIGN_BYTES: the next append goes here. */
  endPos: number;
  /** Seq of the last committed record (a Commit), or start.seq - 1 if none. */
  committedSeq: number;
  /** Hash of that record (or start.prevHash). */
  lastHash: Uint8Array;
  /** Epoch of that record (or 0). */
  lastEpoch: number;
  recordsCommitted: number;
  transactionsCommitted: number;
  /** Well-formed records after the last Commit, dropped with their transaction. */
  discardedRecords: number;
  /** Where and why the walk stopped. */
  stop: { seq: number; pos: number; reason: FrameFailure | 'lap' | 'limit'; detail: string };
  /** Newest committed checkpoint seen (start included), as an index entry. */
  newestCheckpoint?: IndexEntry;
}

interface OpenTxn {
  txid: number;
  pos: number;
  prevHash: Uint8Array;
  recordCount: number;
  checkpoint: boolean;
  entries: IndexEntry[];
}

export async function scanLog(ring: Ring, hasher: Hasher, start: ScanStart, options: ScanOptions = {}): Promise<ScanResult> {
  const cursor = new RingCursor(ring);
  const limitPos = start.pos + ring.ringSizeBytes;
  const result: ScanResult = {
    endPos: start.pos,
    committedSeq: start.seq - 1,
    lastHash: Uint8Array.from(start.prevHash),
    lastEpoch: 0,
    recordsCommitted: 0,
    transactionsCommitted: 0,
    discardedRecords: 0,
    stop: { seq: start.seq, pos: start.pos, reason: 'lap', detail: '' },
  };
  const corrupt = (seq: number, why: string) => axiomError('CORRUPT', `record ${seq}: ${why}`);
  let pos = start.pos;
  let seq = start.seq;
  let prevHash: Uint8Array = Uint8Array.from(start.prevHash);
  let epoch = 0;
  let open: OpenTxn | null = null;

  for (;;) {
    const stop = (reason: ScanResult['stop']['reason'], detail: string) => {
      result.stop = { seq, pos, reason, detail };
    };
    if (options.seqMax !== undefined && seq > options.seqMax) {
      stop('limit', `seqMax ${options.seqMax} reached`);
      break;
    }
    if (pos + FRAME_HEADER_SIZE_BYTES > limitPos) {
      stop('lap', 'a whole lap of the ring was read');
      break;
    }
    const frameLength = frameLengthOf(await cursor.bytes(pos, FRAME_HEADER_SIZE_BYTES));
    if (frameLength < 0) {
      stop('length', 'no frame here (zeros or debris)');
      break;
    }
    if (pos + frameLength > limitPos) {
      stop('lap', 'frame would run past one lap');
      break;
    }
    const check = checkFrame(await cursor.bytes(pos, frameLength), seq, prevHash, hasher);
    if (!check.ok) {
      stop(check.reason, check.detail);
      break;
    }
    // Copy what outlives the cursor window.
    const frame: DecodedFrame = { ...check.frame, hash: Uint8Array.from(check.frame.hash) };
    if (frame.flags !== 0) throw corrupt(seq, `flags ${frame.flags} are reserved`);
    const row = recordTypeByCode(frame.typeCode);
    if (row === undefined) throw corrupt(seq, `unknown type code ${frame.typeCode}`);
    if (frame.epoch < epoch || frame.epoch > start.epochMax) throw corrupt(seq, `epoch ${frame.epoch} after ${epoch} (anchor epoch ${start.epochMax})`);
    if (seq === start.seq && start.checkpoint && frame.typeCode !== CHECKPOINT_CODE) throw corrupt(seq, 'the anchor names it as a checkpoint but it is a ' + row.name);

    if (open === null) {
      if (frame.txid !== seq) throw corrupt(seq, `starts a transaction but has txid ${frame.txid}`);
      if (frame.typeCode === COMMIT_CODE) throw corrupt(seq, 'a Commit with no records');
      open = { txid: seq, pos, prevHash, recordCount: 0, checkpoint: frame.typeCode === CHECKPOINT_CODE, entries: [] };
    } else if (frame.txid !== open.txid) {
      throw corrupt(seq, `txid ${frame.txid} inside transaction ${open.txid}`);
    }

    if (frame.typeCode === COMMIT_CODE) {
      const { recordCount } = decodeRecordPayload(frame.typeCode, frame.payload, seq).payload as { recordCount: number };
      if (recordCount !== open.recordCount) throw corrupt(seq, `Commit counts ${recordCount} records, the transaction has ${open.recordCount}`);
      if (options.index) {
        for (const e of open.entries) options.index.addIfDue(e.seq, e.pos, e.prevHash);
        options.index.addIfDue(seq, pos, prevHash);
      }
      if (open.checkpoint) result.newestCheckpoint = { seq: open.txid, pos: open.pos, prevHash: open.prevHash };
      result.recordsCommitted += open.recordCount + 1;
      result.transactionsCommitted++;
      result.endPos = alignUp(pos + frameLength, FRAME_ALIGN_BYTES);
      result.committedSeq = seq;
      result.lastHash = frame.hash;
      result.lastEpoch = frame.epoch;
      open = null;
    } else {
      if (open.checkpoint && open.recordCount > 0) throw corrupt(seq, 'a checkpoint transaction holds only its Checkpoint record');
      if (frame.typeCode === CHECKPOINT_CODE && open.recordCount > 0) throw corrupt(seq, 'a Checkpoint record must start its own transaction');
      if (open.recordCount >= TXN_RECORDS_MAX) throw corrupt(seq, `transaction ${open.txid} exceeds ${TXN_RECORDS_MAX} records`);
      open.recordCount++;
      if (options.index) open.entries.push({ seq, pos, prevHash });
    }
    prevHash = frame.hash;
    epoch = frame.epoch;
    pos = alignUp(pos + frameLength, FRAME_ALIGN_BYTES);
    seq++;
  }
  if (open !== null) result.discardedRecords = open.recordCount;
  if (start.checkpoint && result.committedSeq < start.seq + 1) {
    throw axiomError('CORRUPT', `the anchor's checkpoint ${start.seq} is not intact (${result.stop.reason} at record ${result.stop.seq}: ${result.stop.detail})`);
  }
  return result;
}
