/**
 * Reading committed records back: `readRecords` (from a seq, bounded by count and bytes)
 * and `verifyLog` (re-walk the device from the anchor and compare with what the engine
 * believes is committed).
 *
 * Every frame read is checked (length, checksum, seq, chain from the nearest index
 * entry) before its payload is decoded; a committed record that fails is an integrity
 * error (CORRUPT) naming its seq, never silently used. A reader never sees anything past
 * `committedSeq`, so it never sees an unflushed batch.
 */

import type { Hasher } from './chain.ts';
import { axiomError } from './errors.ts';
import { checkFrame, equalBytes, frameLengthOf } from './frame.ts';
import { FRAME_HEADER_SIZE_BYTES, frameFootprintBytes, READ_RECORDS_MAX, READ_SIZE_BYTES_MAX } from './limits.ts';
import { decodeRecordPayload, type LogRecord } from './records.ts';
import { RingCursor, type Ring } from './ring.ts';
import { scanLog, type ScanStart } from './scan.ts';
import type { SeqIndex } from './seq-index.ts';

/** What a reader needs of the engine's state, read at call time. */
export interface ReadView {
  readonly ring: Ring;
  readonly hasher: Hasher;
  readonly index: SeqIndex;
  /** Oldest retained seq (the newest checkpoint, or 1). */
  startSeq(): number;
  committedSeq(): number;
}

export async function readRecords(view: ReadView, fromSeq: number, limitRecords = READ_RECORDS_MAX): Promise<LogRecord[]> {
  if (!Number.isSafeInteger(fromSeq) || fromSeq < 1) throw axiomError('BADARG', `read: fromSeq must be a positive integer, got ${fromSeq}`);
  if (!Number.isSafeInteger(limitRecords) || limitRecords < 1) throw axiomError('BADARG', `read: limit must be a positive integer, got ${limitRecords}`);
  limitRecords = Math.min(limitRecords, READ_RECORDS_MAX);
  const pruned = () => axiomError('PRUNED', `read: records before ${view.startSeq()} were reclaimed behind the newest checkpoint (asked for ${fromSeq})`);
  if (fromSeq < view.startSeq()) throw pruned();
  const lastSeq = view.committedSeq();
  if (fromSeq > lastSeq) return [];
  const entry = view.index.floor(fromSeq);
  if (entry === undefined) throw pruned();
  const cursor = new RingCursor(view.ring, Math.min(view.ring.ringSizeBytes, 64 * 1024));
  const out: LogRecord[] = [];
  let pos = entry.pos;
  let seq = entry.seq;
  let prevHash: Uint8Array = entry.prevHash;
  let payloadBytes = 0;
  while (seq <= lastSeq && out.length < limitRecords) {
    const fail = (why: string) => (seq < view.startSeq() ? pruned() : axiomError('CORRUPT', `committed record ${seq}: ${why}`));
    const frameLength = frameLengthOf(await cursor.bytes(pos, FRAME_HEADER_SIZE_BYTES));
    if (frameLength < 0) throw fail('frame length out of range');
    const check = checkFrame(await cursor.bytes(pos, frameLength), seq, prevHash, view.hasher);
    if (!check.ok) throw fail(`${check.reason}: ${check.detail}`);
    const frame = check.frame;
    if (seq >= fromSeq) {
      if (out.length > 0 && payloadBytes + frame.payload.length > READ_SIZE_BYTES_MAX) break;
      payloadBytes += frame.payload.length;
      const { type, payload } = decodeRecordPayload(frame.typeCode, frame.payload, seq);
      out.push({ seq, txid: frame.txid, type, payload, hash: Uint8Array.from(frame.hash) } as LogRecord);
    }
    prevHash = Uint8Array.from(frame.hash);
    pos += frameFootprintBytes(frame.payload.length);
    seq++;
  }
  return out;
}

export type VerifyReport =
  | { ok: true; startSeq: number; committedSeq: number; recordsVerified: number }
  | { ok: false; startSeq: number; committedSeq: number; recordsVerified: number; badSeq: number; reason: string };

/**
 * Re-reads the log from `start` up to `committedSeq` and checks every frame and link,
 * and that the chain ends at `lastHash`. Names the first record that fails.
 */
export async function verifyLog(ring: Ring, hasher: Hasher, start: ScanStart, committedSeq: number, lastHash: Uint8Array): Promise<VerifyReport> {
  const base = { startSeq: start.seq, committedSeq };
  try {
    const scan = await scanLog(ring, hasher, start, { seqMax: committedSeq });
    const recordsVerified = scan.committedSeq - start.seq + 1;
    if (scan.committedSeq < committedSeq) {
      return { ...base, ok: false, recordsVerified, badSeq: scan.stop.seq, reason: `${scan.stop.reason}: ${scan.stop.detail}` };
    }
    if (!equalBytes(scan.lastHash, lastHash)) {
      return { ...base, ok: false, recordsVerified, badSeq: committedSeq, reason: 'the chain ends at a different hash than the engine committed' };
    }
    return { ...base, ok: true, recordsVerified };
  } catch (e) {
    const message = (e as Error).message;
    const m = /record (\d+)/.exec(message);
    return { ...base, ok: false, recordsVerified: 0, badSeq: m ? Number(m[1]) : start.seq, reason: message };
  }
}
