/**
 * Axiom's service protocol: message shapes, their validation, and the typed client.
 * This file is all another service may import from axiom/ (besides the record types in
 * records.ts, which are the log's vocabulary).
 *
 * Ops (a reply comes only after the work is durable where it says so):
 *   propose    {records: [{type, payload | payloadBytes}]} -> CommitReceipt   committed (flushed) on reply
 *   checkpoint {image}                  -> CommitReceipt   image committed and the anchor moved to it
 *   read       {fromSeq, limitRecords?} -> {records, startSeq, committedSeq}  committed records only
 *   wait       {afterSeq, timeoutMs?}   -> {committedSeq}  replies once committedSeq > afterSeq, or at
 *                                          the timeout with the current committedSeq (a long poll:
 *                                          how a client subscribes to new commits)
 *   checkpointImage                     -> {seq, image} (seq 0: no checkpoint yet)
 *   info                                -> AxiomInfo (log id, anchor, recovery report)
 *   stats                               -> AxiomStats
 *   verify                              -> VerifyReport (re-reads the device, names the first bad record)
 *
 * Error codes: axiom/errors.ts (BADRECORD, TOOBIG, NOSPC, BUSY, EIO, CORRUPT, PRUNED,
 * CLOSED, READONLY, BADARG) plus the kernel's (BADMSG for a body of the wrong shape).
 */

import { badMessage, ServiceError } from '../kernel/errors.ts';
import type { CallOptions } from '../kernel/service.ts';
import type { AxiomStats, CommitReceipt, RecoveryReport, VerifyReport } from './log.ts';
import { READ_RECORDS_MAX, TXN_RECORDS_MAX, WAIT_MS_MAX } from './limits.ts';
import type { LogRecord, RecordInput, RecordPayloads, RecordTypeName } from './records.ts';

export type { AxiomStats, CommitReceipt, RecoveryReport, VerifyReport } from './log.ts';
export type { FsPageRef, FsTime, LogRecord, RecordInput, RecordPayloads, RecordTypeName } from './records.ts';
export { rec } from './records.ts';
export { TXN_RECORDS_MAX } from './limits.ts';

export const AXIOM_ENDPOINT = 'axiom';
/** Default long-poll time of `wait`. */
export const WAIT_MS_DEFAULT = 10_000;

export type AxiomRequest =
  | { op: 'propose'; records: RecordInput[] }
  | { op: 'checkpoint'; image: unknown }
  | { op: 'read'; fromSeq: number; limitRecords: number }
  | { op: 'wait'; afterSeq: number; timeoutMs: number }
  | { op: 'checkpointImage' }
  | { op: 'info' }
  | { op: 'stats' }
  | { op: 'verify' };

export type AxiomOp = AxiomRequest['op'];

export interface ReadReply {
  records: LogRecord[];
  startSeq: number;
  committedSeq: number;
}

export interface AxiomInfo {
  logIdHex: string;
  epoch: number;
  startSeq: number;
  checkpointSeq: number;
  committedSeq: number;
  recovery: RecoveryReport;
}

function int(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) badMessage(`${what} must be an integer in [${min}, ${max}], got ${String(v)}`);
  return v;
}

/** Checks the shape of a request; throws BADMSG naming the field. Record contents are checked by the engine. */
export function parseAxiomRequest(op: string, body: unknown): AxiomRequest {
  if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) badMessage(`${op}: body must be a map`);
  const b = (body ?? {}) as Record<string, unknown>;
  switch (op) {
    case 'propose': {
      if (!Array.isArray(b.records) || b.records.length === 0 || b.records.length > TXN_RECORDS_MAX) badMessage(`records must be a list of 1..${TXN_RECORDS_MAX} records`);
      b.records.forEach((r: unknown, i: number) => {
        if (r === null || typeof r !== 'object' || Array.isArray(r)) badMessage(`records[${i}] must be a map {type, payload | payloadBytes}`);
      });
      return { op, records: b.records as RecordInput[] };
    }
    case 'checkpoint':
      if (!('image' in b)) badMessage('image is missing');
      return { op, image: b.image };
    case 'read':
      return { op, fromSeq: int(b.fromSeq, 'fromSeq', 1, Number.MAX_SAFE_INTEGER), limitRecords: b.limitRecords === undefined ? READ_RECORDS_MAX : int(b.limitRecords, 'limitRecords', 1, READ_RECORDS_MAX) };
    case 'wait':
      return { op, afterSeq: int(b.afterSeq, 'afterSeq', 0, Number.MAX_SAFE_INTEGER), timeoutMs: b.timeoutMs === undefined ? WAIT_MS_DEFAULT : int(b.timeoutMs, 'timeoutMs', 0, WAIT_MS_MAX) };
    case 'checkpointImage':
    case 'info':
    case 'stats':
    case 'verify':
      return { op };
    default:
      throw new ServiceError('BADOP', `axiom has no op '${op}'`);
  }
}

/** What a client needs of its context: calls (a ServiceContext, or a kernel attachment). */
export interface Caller {
  call<T = unknown>(endpoint: string, op: string, body?: unknown, options?: CallOptions): Promise<T>;
}

export interface CommittedTxn {
  txid: number;
  firstSeq: number;
  commitSeq: number;
  records: LogRecord[];
}

/** Typed client over a context whose manifest names the axiom endpoint. */
export class AxiomClient {
  constructor(
    private readonly ctx: Caller,
    readonly endpoint: string = AXIOM_ENDPOINT,
  ) {}

  /** Commits one transaction; resolves once it is durable. */
  propose(records: RecordInput[]): Promise<CommitReceipt> {
    return this.ctx.call<CommitReceipt>(this.endpoint, 'propose', { records });
  }

  /** Commits one record of a typed kind (shorthand for a one-record transaction). */
  proposeOne<K extends RecordTypeName>(type: K, payload: RecordPayloads[K]): Promise<CommitReceipt> {
    return this.propose([{ type, payload }]);
  }

  checkpoint(image: unknown): Promise<CommitReceipt> {
    return this.ctx.call<CommitReceipt>(this.endpoint, 'checkpoint', { image });
  }

  read(fromSeq: number, limitRecords?: number): Promise<ReadReply> {
    return this.ctx.call<ReadReply>(this.endpoint, 'read', limitRecords === undefined ? { fromSeq } : { fromSeq, limitRecords });
  }

  /** Long poll: resolves once more than `afterSeq` is committed, or after `timeoutMs` with the current seq. */
  async wait(afterSeq: number, timeoutMs = WAIT_MS_DEFAULT): Promise<number> {
    const reply = await this.ctx.call<{ committedSeq: number }>(this.endpoint, 'wait', { afterSeq, timeoutMs }, { timeoutMs: timeoutMs + 5_000 });
    return reply.committedSeq;
  }

  async checkpointImage(): Promise<{ seq: number; image?: unknown }> {
    return this.ctx.call<{ seq: number; image?: unknown }>(this.endpoint, 'checkpointImage', {});
  }

  info(): Promise<AxiomInfo> {
    return this.ctx.call<AxiomInfo>(this.endpoint, 'info', {});
  }

  stats(): Promise<AxiomStats> {
    return this.ctx.call<AxiomStats>(this.endpoint, 'stats', {});
  }

  verify(): Promise<VerifyReport> {
    return this.ctx.call<VerifyReport>(this.endpoint, 'verify', {});
  }

  /**
   * Whole committed transactions from txid >= fromSeq, then new ones as they commit
   * (read, then wait, for ever; stop by breaking out of the loop). Throws PRUNED if
   * fromSeq fell behind the newest checkpoint: re-read the checkpoint image and go on.
   */
  async *follow(fromSeq: number, waitMs = WAIT_MS_DEFAULT): AsyncGenerator<CommittedTxn> {
    let seq = fromSeq;
    let current: CommittedTxn | null = null;
    for (;;) {
      const { records, committedSeq } = await this.read(seq);
      for (const r of records) {
        seq = r.seq + 1;
        if (r.type === 'Commit') {
          if (current !== null && current.txid === r.txid) yield { ...current, commitSeq: r.seq };
          current = null;
        } else if (current !== null) current.records.push(r);
        else if (r.txid === r.seq) current = { txid: r.txid, firstSeq: r.seq, commitSeq: 0, records: [r] };
      }
      if (records.length === 0 || seq > committedSeq) await this.wait(seq - 1, waitMs);
    }
  }
}
