/**
 * Group commit, the scheduling side: the proposal queue, batch sealing under the limits,
 * one write+flush per batch, replies after the commit point, checkpoint anchor updates,
 * and the stop on device failure. The engine (log.ts) validates proposals and owns the
 * reading side; this file is the only writer of the ring after recovery.
 *
 * Policy: one batch in flight at a time. Everything queued while it was in flight is
 * sealed into the next batch at once (it has waited a flush already), up to
 * batchRecordsMax and batchSizeBytesMax. An idle engine lets the first proposal wait up
 * to batchWaitMs on the injected timers for company (0: until the microtask queue drains,
 * so proposals made in the same turn share a batch). A proposal the ring cannot hold
 * is refused with NOSPC when its batch is sealed; the others in the batch go on.
 *
 * Commit point: after `device.flush()` resolves for the batch holding a transaction's
 * Commit record, and not before, the transaction is visible (tail advanced, readers and
 * listeners told) and its proposal resolved.
 */

import { Deque } from '../kernel/deque.ts';
import type { ServiceError } from '../kernel/errors.ts';
import type { Clock, Timers } from '../kernel/service.ts';
import { writeAnchor, type Anchor } from './anchor.ts';
import { buildBatch, type BuiltBatch, type Proposal } from './batch.ts';
import type { Hasher } from './chain.ts';
import type { LogDevice } from './device.ts';
import { assert, axiomError } from './errors.ts';
import * as L from './limits.ts';
import { decodeRecordPayload, type LogRecord } from './records.ts';
import type { Ring } from './ring.ts';
import type { IndexEntry, SeqIndex } from './seq-index.ts';

export type EngineState = 'open' | 'closing' | 'closed' | 'broken' | 'readonly';

export interface CommittedTransaction {
  txid: number;
  firstSeq: number;
  commitSeq: number;
  /** Its records, the Commit record excluded. */
  records: LogRecord[];
}

export type CommitListener = (transactions: readonly CommittedTransaction[]) => void;

export interface CommitterConfig {
  hasher: Hasher;
  timers?: Timers;
  clock?: Clock;
  batchWaitMs: number;
  batchRecordsMax: number;
  batchSizeBytesMax: number;
  /** Bytes ordinary transactions leave free for a checkpoint. */
  reserveBytes: number;
}

/** The engine's durable position, shared with the reading side (which only reads it). */
export interface LogState {
  state: EngineState;
  anchor: Anchor;
  /** Where the next frame goes, and the block holding it (committed bytes before it, zeros after). */
  tailPos: number;
  tailBlock: Uint8Array;
  nextSeq: number;
  lastHash: Uint8Array;
  index: SeqIndex;
  brokenBy: ServiceError | null;
}

export class GroupCommitter {
  private readonly queue = new Deque<Proposal>();
  private queuedRecords = 0;
  private queuedBytes = 0;
  private flushing = false;
  private microtaskPending = false;
  private waitTimerId: number | null = null;
  private idleWaiters: (() => void)[] = [];
  readonly listeners = new Set<CommitListener>();
  readonly counters = { batches: 0, flushes: 0, transactionsCommitted: 0, recordsCommitted: 0, bytesWritten: 0, batchTransactionsMax: 0, batchWaitMsMax: 0, listenerErrors: 0 };
  readonly refused: Record<string, number> = {};

  constructor(
    private readonly device: LogDevice,
    private readonly ring: Ring,
    private readonly cfg: CommitterConfig,
    private readonly s: LogState,
  ) {}

  get pending(): number {
    return this.queue.length;
  }

  countRefusal(code: string): void {
    this.refused[code] = (this.refused[code] ?? 0) + 1;
  }

  /** Queues a validated proposal (the engine has checked its sizes). */
  submit(p: Proposal): void {
    assert(this.s.state === 'open', 'proposals are submitted to an open engine');
    if (this.queue.length >= L.PENDING_PROPOSALS_MAX) throw axiomError('BUSY', `${L.PENDING_PROPOSALS_MAX} proposals are queued already`);
    this.queue.push(p);
    this.queuedRecords += p.records.length + 1;
    this.queuedBytes += p.footprintBytes;
    this.kick();
  }

  /** Whether a batch ending at logical `endPos` stays clear of the live region (and, unless a checkpoint, the reserve). */
  fits(endPos: number, checkpoint: boolean): boolean {
    const limitPos = L.alignDown(this.s.anchor.startPos, L.AXIOM_BLOCK_SIZE_BYTES) + this.ring.ringSizeBytes - (checkpoint ? 0 : this.cfg.reserveBytes);
    return L.alignUp(endPos, L.AXIOM_BLOCK_SIZE_BYTES) <= limitPos;
  }

  private kick(): void {
    if (this.flushing || this.microtaskPending) return;
    const full = this.queuedRecords >= this.cfg.batchRecordsMax || this.queuedBytes >= this.cfg.batchSizeBytesMax;
    if (this.cfg.batchWaitMs > 0 && !full && this.s.state === 'open') {
      this.waitTimerId ??= this.cfg.timers!.setTimeout(() => {
        this.waitTimerId = null;
        this.start();
      }, this.cfg.batchWaitMs);
      return;
    }
    this.cancelWait();
    this.microtaskPending = true;
    queueMicrotask(() => {
      this.microtaskPending = false;
      this.start();
    });
  }

  private cancelWait(): void {
    if (this.waitTimerId !== null) this.cfg.timers!.clearTimeout(this.waitTimerId);
    this.waitTimerId = null;
  }

  private start(): void {
    if (!this.flushing && this.queue.length > 0) void this.run();
    else this.wakeIdle();
  }

  private async run(): Promise<void> {
    assert(!this.flushing, 'one batch in flight at most');
    this.flushing = true;
    try {
      while (this.queue.length > 0 && (this.s.state === 'open' || this.s.state === 'closing')) {
        const proposals = this.take();
        if (proposals.length > 0) await this.commit(proposals);
      }
    } finally {
      this.flushing = false;
      this.wakeIdle();
    }
  }

  /** Seals queued proposals up to the batch limits; refuses with NOSPC those the ring cannot hold. */
  private take(): Proposal[] {
    const taken: Proposal[] = [];
    let records = 0;
    let endPos = this.s.tailPos;
    const nowMs = this.cfg.clock?.nowMs();
    for (let p = this.queue.peek(); p !== undefined; p = this.queue.peek()) {
      const n = p.records.length + 1;
      if (taken.length > 0 && (records + n > this.cfg.batchRecordsMax || endPos - this.s.tailPos + p.footprintBytes > this.cfg.batchSizeBytesMax)) break;
      this.queue.shift();
      this.queuedRecords -= n;
      this.queuedBytes -= p.footprintBytes;
      if (!this.fits(endPos + p.footprintBytes, p.checkpoint)) {
        this.countRefusal('NOSPC');
        const liveBytes = endPos - this.s.anchor.startPos;
        p.reject(axiomError('NOSPC', `the log region is full (${liveBytes} of ${this.ring.ringSizeBytes} bytes live since record ${this.s.anchor.startSeq}); take a checkpoint to reclaim space`));
        continue;
      }
      if (nowMs !== undefined) this.counters.batchWaitMsMax = Math.max(this.counters.batchWaitMsMax, nowMs - p.queuedAtMs);
      taken.push(p);
      records += n;
      endPos += p.footprintBytes;
    }
    return taken;
  }

  private async commit(proposals: Proposal[]): Promise<void> {
    const candidates: IndexEntry[] = [];
    let lastCandidateSeq = this.s.index.lastSeq();
    const built = buildBatch(proposals, {
      tailPos: this.s.tailPos,
      tailBlock: this.s.tailBlock,
      nextSeq: this.s.nextSeq,
      prevHash: this.s.lastHash,
      epoch: this.s.anchor.epoch,
      hasher: this.cfg.hasher,
      onRecord: (seq, pos, prevHash) => {
        if (seq - lastCandidateSeq < L.INDEX_STRIDE_RECORDS) return;
        candidates.push({ seq, pos, prevHash });
        lastCandidateSeq = seq;
      },
    });
    assert(this.fits(built.endPos, true), 'a sealed batch stays clear of the live region');
    try {
      await this.ring.writeBlocks(built.alignedStartPos, built.buffer);
      await this.device.flush();
    } catch (e) {
      this.breakDown(e, proposals);
      return;
    }
    // ---- the commit point has passed: the batch is durable ----
    this.counters.flushes++;
    this.advanceTail(built, candidates);
    let anchorFailure: unknown = null;
    const cp = built.sealed.filter((t) => t.proposal.checkpoint).pop();
    if (cp !== undefined) {
      const a = this.s.anchor;
      const next: Anchor = { ...a, generation: a.generation + 1, startPos: cp.pos, startSeq: cp.receipt.firstSeq, startPrevHash: cp.prevHash, checkpointSeq: cp.receipt.firstSeq };
      try {
        await writeAnchor(this.device, next);
        await this.device.flush();
        this.counters.flushes++;
        this.s.anchor = next;
        this.s.index.pruneBefore({ seq: next.startSeq, pos: next.startPos, prevHash: next.startPrevHash });
      } catch (e) {
        anchorFailure = e; // the checkpoint is committed all the same; recovery moves the anchor to it
      }
    }
    for (const t of built.sealed) t.proposal.resolve(t.receipt);
    this.notify(built);
    if (anchorFailure !== null) this.breakDown(anchorFailure, []);
  }

  private advanceTail(built: BuiltBatch, candidates: IndexEntry[]): void {
    const s = this.s;
    assert(built.endPos > s.tailPos && built.nextSeq > s.nextSeq, 'the tail moves forward');
    s.tailPos = built.endPos;
    s.nextSeq = built.nextSeq;
    s.lastHash = built.lastHash;
    const lastBlockStart = L.alignDown(built.endPos - built.alignedStartPos, L.AXIOM_BLOCK_SIZE_BYTES);
    const tailBlock = built.buffer.slice(lastBlockStart, lastBlockStart + L.AXIOM_BLOCK_SIZE_BYTES);
    s.tailBlock = tailBlock.length === L.AXIOM_BLOCK_SIZE_BYTES ? tailBlock : new Uint8Array(L.AXIOM_BLOCK_SIZE_BYTES);
    for (const c of candidates) s.index.addIfDue(c.seq, c.pos, c.prevHash);
    const k = this.counters;
    k.batches++;
    k.transactionsCommitted += built.sealed.length;
    k.recordsCommitted += built.recordCount;
    k.bytesWritten += built.buffer.length;
    k.batchTransactionsMax = Math.max(k.batchTransactionsMax, built.sealed.length);
    assert(s.tailPos - s.anchor.startPos <= this.ring.ringSizeBytes, 'live bytes within one lap');
  }

  private breakDown(e: unknown, inFlight: Proposal[]): void {
    const message = e instanceof Error ? e.message : String(e);
    this.s.state = 'broken';
    const error = axiomError('EIO', `device failure: ${message}; the engine must be reopened, and recovery decides what of the last batch is durable`);
    this.s.brokenBy = error;
    for (const p of inFlight) p.reject(error);
    for (let p = this.queue.shift(); p !== undefined; p = this.queue.shift()) p.reject(error);
    this.queuedRecords = 0;
    this.queuedBytes = 0;
    this.cancelWait();
    this.wakeIdle();
  }

  private notify(built: BuiltBatch): void {
    if (this.listeners.size === 0) return;
    const txns: CommittedTransaction[] = built.sealed.map((t) => ({
      txid: t.receipt.txid,
      firstSeq: t.receipt.firstSeq,
      commitSeq: t.receipt.commitSeq,
      records: t.proposal.records.map((r, i) => {
        const seq = t.receipt.firstSeq + i;
        return { seq, txid: t.receipt.txid, ...decodeRecordPayload(r.code, r.payloadBytes, seq), hash: t.hashes[i] } as LogRecord;
      }),
    }));
    for (const listener of this.listeners) {
      try {
        listener(txns);
      } catch {
        this.counters.listenerErrors++;
      }
    }
  }

  /** Resolves when everything queued has been committed or refused (the engine is closing or broken). */
  async drain(): Promise<void> {
    if (this.waitTimerId !== null) {
      this.cancelWait();
      this.start();
    }
    while (this.flushing || this.microtaskPending || (this.queue.length > 0 && this.s.state === 'closing')) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
