/**
 * The Axiom engine: an append-only, hash-chained, transactional log over a LogDevice.
 *
 * Use: `AxiomLog.format(device, {logId})` once; `AxiomLog.open(device, options)` recovers
 * and returns the engine; `propose(records)` resolves with the committed seq range;
 * `checkpoint(image)` records a state image and lets the ring reuse what is behind it;
 * `read`/`transactions` return committed records from a seq; `subscribe` hears every
 * commit; `verify` re-walks the device; `close` drains.
 *
 * Commit point: a proposal is acknowledged only after the FLUSH that follows the write of
 * its Commit record has completed (FORMAT.md). Readers and subscribers never see a record
 * before that.
 *
 * Group commit: proposals queue; one batch is written and flushed at a time; everything
 * queued while it was in flight becomes the next batch, up to batchRecordsMax and
 * batchSizeBytesMax. When idle, the first proposal waits at most batchWaitMs on the
 * injected timers (0: only until the current microtask queue drains) for company.
 *
 * Failure: if a device write or flush fails, what was in flight may or may not be durable;
 * the engine rejects it and everything queued with EIO and refuses all further work
 * ('broken') until reopened, when recovery decides. Nothing here reads the host clock or
 * randomness: time and timers are injected (kernel/service.ts), so the deterministic
 * kernel replays a run exactly.
 *
 * Invariants (asserted): startPos <= tailPos <= startPos + ringSizeBytes; committedSeq =
 * nextSeq - 1; one batch in flight at most; a batch never writes past one lap ahead of
 * the block holding startPos.
 */

import type { ServiceError } from '../kernel/errors.ts';
import { readAnchor, writeAnchor, type Anchor } from './anchor.ts';
import { proposalFootprintBytes, type CommitReceipt } from './batch.ts';
import { genesisHash } from './chain.ts';
import { GroupCommitter, type CommitListener, type CommittedTransaction, type EngineState, type LogState } from './committer.ts';
import type { LogDevice } from './device.ts';
import { assert, axiomError } from './errors.ts';
import * as L from './limits.ts';
import { encodePayload, prepareRecord, RECORD_TYPES, type LogRecord, type PreparedRecord } from './records.ts';
import { readRecords, verifyLog, type VerifyReport } from './reader.ts';
import { Ring } from './ring.ts';
import { resolveOptions, type AxiomOptions, type AxiomStats, type Config, type FormatOptions, type RecoveryReport } from './options.ts';
import { scanLog } from './scan.ts';
import { SeqIndex } from './seq-index.ts';

export type { Anchor } from './anchor.ts';
export type { CommitReceipt } from './batch.ts';
export type { CommitListener, CommittedTransaction, EngineState } from './committer.ts';
export type { AxiomOptions, AxiomStats, FormatOptions, RecoveryReport } from './options.ts';
export type { VerifyReport } from './reader.ts';

export class AxiomLog {
  private readonly ring: Ring;
  private readonly committer: GroupCommitter;

  private constructor(
    private readonly device: LogDevice,
    private readonly cfg: Config,
    private readonly s: LogState,
    readonly recovery: RecoveryReport,
  ) {
    this.ring = new Ring(device);
    this.committer = new GroupCommitter(device, this.ring, cfg, s);
    s.index.pruneBefore({ seq: s.anchor.startSeq, pos: s.anchor.startPos, prevHash: s.anchor.startPrevHash });
  }

  // ---- format and open ------------------------------------------------------------

  /**
   * Writes a fresh, empty log. Refuses a region that already holds one unless `force`.
   * `checkpointImageSizeBytesMax` (kept in the anchor) bounds checkpoint images and sizes
   * the space kept free for one; smaller means more room for transactions.
   */
  static async format(device: LogDevice, opts: FormatOptions): Promise<void> {
    const imageSizeBytesMax = opts.checkpointImageSizeBytesMax ?? L.CHECKPOINT_IMAGE_SIZE_BYTES_MAX;
    const cfg = resolveOptions(device, { hasher: opts.hasher }, imageSizeBytesMax);
    if (!(opts.logId instanceof Uint8Array) || opts.logId.length !== L.LOG_ID_SIZE_BYTES) throw axiomError('BADARG', `logId must be ${L.LOG_ID_SIZE_BYTES} bytes`);
    if (!opts.force) {
      const existing = await readAnchor(device).then(
        () => 'holds an Axiom log',
        (e: ServiceError) => (e.code === 'NOTFORMATTED' ? null : 'holds a damaged Axiom anchor'),
      );
      if (existing) throw axiomError('BADARG', `format: the region ${existing}; pass force to overwrite it`);
    }
    const anchor: Anchor = {
      generation: 1,
      regionBlockCount: device.blockCount,
      epoch: 0,
      logId: Uint8Array.from(opts.logId),
      startPos: 0,
      startSeq: 1,
      startPrevHash: genesisHash(opts.logId, cfg.hasher),
      checkpointSeq: 0,
      imageSizeBytesMax,
    };
    await device.write(0, new Uint8Array(L.AXIOM_BLOCK_SIZE_BYTES));
    await writeAnchor(device, anchor);
    await device.flush();
  }

  /** Recovers the log (FORMAT.md, "Recovery") and returns the engine, ready for appends. */
  static async open(device: LogDevice, options: AxiomOptions = {}): Promise<AxiomLog> {
    if (device.blockSizeBytes !== L.AXIOM_BLOCK_SIZE_BYTES || device.blockCount < L.ANCHOR_SLOT_COUNT) {
      throw axiomError('BADARG', `a device of ${device.blockCount} blocks of ${device.blockSizeBytes} bytes cannot hold an Axiom log`);
    }
    const anchor = await readAnchor(device);
    const cfg = resolveOptions(device, options, anchor.imageSizeBytesMax);
    if (anchor.regionBlockCount !== device.blockCount) {
      throw axiomError('CORRUPT', `the anchor describes a region of ${anchor.regionBlockCount} blocks, the device has ${device.blockCount}`);
    }
    const ring = new Ring(device);
    const index = new SeqIndex();
    const scan = await scanLog(
      ring,
      cfg.hasher,
      { pos: anchor.startPos, seq: anchor.startSeq, prevHash: anchor.startPrevHash, checkpoint: anchor.checkpointSeq !== 0, epochMax: anchor.epoch },
      { index },
    );
    assert(scan.endPos >= anchor.startPos && scan.endPos <= anchor.startPos + ring.ringSizeBytes, 'recovered tail within one lap of the start');
    assert(anchor.epoch + 1 < 2 ** 32, 'epoch does not overflow');
    const cp = scan.newestCheckpoint;
    const anchorMoved = cp !== undefined && cp.seq > anchor.checkpointSeq;
    let next: Anchor = anchor;
    if (anchorMoved) next = { ...next, startPos: cp.pos, startSeq: cp.seq, startPrevHash: cp.prevHash, checkpointSeq: cp.seq };
    if (!options.readOnly) {
      next = { ...next, generation: anchor.generation + 1, epoch: anchor.epoch + 1 };
      await writeAnchor(device, next);
      await device.flush();
    }
    let tailBlock: Uint8Array = new Uint8Array(L.AXIOM_BLOCK_SIZE_BYTES);
    const inBlockBytes = scan.endPos % L.AXIOM_BLOCK_SIZE_BYTES;
    if (inBlockBytes !== 0) {
      tailBlock = await device.read(ring.blockIndexOf(scan.endPos), 1);
      tailBlock.fill(0, inBlockBytes); // the torn tail and debris after it are overwritten by the next batch
    }
    const recovery: RecoveryReport = {
      anchorGeneration: next.generation,
      epoch: next.epoch,
      startSeq: next.startSeq,
      checkpointSeq: next.checkpointSeq,
      committedSeq: scan.committedSeq,
      transactionsFound: scan.transactionsCommitted,
      discardedRecords: scan.discardedRecords,
      stop: scan.stop,
      anchorMoved,
    };
    const state: LogState = {
      state: options.readOnly ? 'readonly' : 'open',
      anchor: next,
      tailPos: scan.endPos,
      tailBlock,
      nextSeq: scan.committedSeq + 1,
      lastHash: scan.lastHash,
      index,
      brokenBy: null,
    };
    return new AxiomLog(device, cfg, state, recovery);
  }

  // ---- proposing ------------------------------------------------------------------

  /** Appends one transaction of 1..TXN_RECORDS_MAX records; resolves when it is committed. */
  propose(records: readonly unknown[]): Promise<CommitReceipt> {
    try {
      this.checkWritable();
      if (!Array.isArray(records) || records.length < 1) throw axiomError('BADRECORD', 'a proposal holds at least one record');
      if (records.length > L.TXN_RECORDS_MAX) throw axiomError('TOOBIG', `a proposal of ${records.length} records exceeds ${L.TXN_RECORDS_MAX}`);
      return this.enqueue(records.map((r, i) => prepareRecord(r, i)), false);
    } catch (e) {
      return this.refuse(e);
    }
  }

  /** Records a client's state image; recovery then starts from it and the space behind it is reused. */
  checkpoint(image: unknown): Promise<CommitReceipt> {
    try {
      this.checkWritable();
      const payload = encodePayload(RECORD_TYPES.Checkpoint, { image }, this.cfg.imageSizeBytesMax + 16);
      return this.enqueue([{ code: RECORD_TYPES.Checkpoint.code, payloadBytes: payload }], true);
    } catch (e) {
      return this.refuse(e);
    }
  }

  private refuse(e: unknown): Promise<never> {
    this.committer.countRefusal((e as ServiceError).code ?? 'INTERNAL');
    return Promise.reject(e);
  }

  private checkWritable(): void {
    const state = this.s.state;
    if (state === 'open') return;
    if (state === 'readonly') throw axiomError('READONLY', 'the log was opened read-only');
    if (state === 'broken') throw axiomError('EIO', `the engine stopped after a device failure (${this.s.brokenBy?.message}); reopen it`);
    throw axiomError('CLOSED', 'the log is closed');
  }

  private enqueue(records: PreparedRecord[], checkpoint: boolean): Promise<CommitReceipt> {
    const commitPayload = encodePayload(RECORD_TYPES.Commit, { recordCount: records.length });
    const footprintBytes = proposalFootprintBytes(records, commitPayload);
    if (footprintBytes > L.TXN_SIZE_BYTES_MAX) throw axiomError('TOOBIG', `a transaction of ${footprintBytes} bytes exceeds ${L.TXN_SIZE_BYTES_MAX}`);
    const usableBytes = this.ring.ringSizeBytes - L.AXIOM_BLOCK_SIZE_BYTES - (checkpoint ? 0 : this.cfg.reserveBytes);
    if (footprintBytes > usableBytes) throw axiomError('TOOBIG', `a transaction of ${footprintBytes} bytes can never fit this region (${usableBytes} usable)`);
    return new Promise<CommitReceipt>((resolve, reject) => {
      this.committer.submit({ records, commitPayload, footprintBytes, checkpoint, queuedAtMs: this.cfg.clock?.nowMs() ?? 0, resolve, reject });
    });
  }

  // ---- reading --------------------------------------------------------------------

  /** Committed records from `fromSeq` (Commit records included), at most `limitRecords`. */
  read(fromSeq: number, limitRecords?: number): Promise<LogRecord[]> {
    const s = this.s;
    return readRecords(
      { ring: this.ring, hasher: this.cfg.hasher, index: s.index, startSeq: () => s.anchor.startSeq, committedSeq: () => s.nextSeq - 1 },
      fromSeq,
      limitRecords,
    );
  }

  /** Whole committed transactions with txid >= fromSeq (default: from the newest checkpoint). */
  async *transactions(fromSeq = this.s.anchor.startSeq): AsyncGenerator<CommittedTransaction> {
    let seq = fromSeq;
    let current: CommittedTransaction | null = null;
    for (;;) {
      const records = await this.read(seq);
      if (records.length === 0) return;
      for (const r of records) {
        seq = r.seq + 1;
        if (r.type === 'Commit') {
          if (current !== null && current.txid === r.txid) {
            current.commitSeq = r.seq;
            yield current;
          }
          current = null;
        } else if (current !== null) current.records.push(r);
        else if (r.txid === r.seq) current = { txid: r.txid, firstSeq: r.seq, commitSeq: 0, records: [r] };
      }
    }
  }

  /** The newest checkpoint's image, if there is one. */
  async checkpointImage(): Promise<{ seq: number; image: unknown } | undefined> {
    const seq = this.s.anchor.checkpointSeq;
    if (seq === 0) return undefined;
    const [r] = await this.read(seq, 1);
    assert(r !== undefined && r.type === 'Checkpoint', 'the anchor names a Checkpoint record');
    return { seq, image: r.payload.image };
  }

  /** Calls `listener` after every committed batch, in commit order; returns the unsubscribe function. */
  subscribe(listener: CommitListener): () => void {
    const listeners = this.committer.listeners;
    if (listeners.size >= L.SUBSCRIBERS_MAX) throw axiomError('BUSY', `${L.SUBSCRIBERS_MAX} listeners already`);
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  /** Re-reads the device from the anchor and checks every committed record and link. */
  verify(): Promise<VerifyReport> {
    const a = this.s.anchor;
    const start = { pos: a.startPos, seq: a.startSeq, prevHash: a.startPrevHash, checkpoint: a.checkpointSeq !== 0, epochMax: a.epoch };
    return verifyLog(this.ring, this.cfg.hasher, start, this.s.nextSeq - 1, this.s.lastHash);
  }

  /** The anchor in force: where recovery starts and the chain hash carried across the newest checkpoint. */
  anchorInfo(): Readonly<Anchor> {
    const a = this.s.anchor;
    return { ...a, logId: Uint8Array.from(a.logId), startPrevHash: Uint8Array.from(a.startPrevHash) };
  }

  get committedSeq(): number {
    return this.s.nextSeq - 1;
  }

  get startSeq(): number {
    return this.s.anchor.startSeq;
  }

  get state(): EngineState {
    return this.s.state;
  }

  stats(): AxiomStats {
    const s = this.s;
    const limitPos = L.alignDown(s.anchor.startPos, L.AXIOM_BLOCK_SIZE_BYTES) + this.ring.ringSizeBytes - this.cfg.reserveBytes;
    return {
      state: s.state,
      epoch: s.anchor.epoch,
      anchorGeneration: s.anchor.generation,
      startSeq: s.anchor.startSeq,
      checkpointSeq: s.anchor.checkpointSeq,
      committedSeq: s.nextSeq - 1,
      startPos: s.anchor.startPos,
      tailPos: s.tailPos,
      ringSizeBytes: this.ring.ringSizeBytes,
      liveBytes: s.tailPos - s.anchor.startPos,
      freeBytes: Math.max(0, limitPos - L.alignUp(s.tailPos, L.AXIOM_BLOCK_SIZE_BYTES)),
      ...this.committer.counters,
      pendingProposals: this.committer.pending,
      refused: { ...this.committer.refused },
      indexEntries: s.index.size,
    };
  }

  /** Commits everything queued, then refuses further work with CLOSED. */
  async close(): Promise<void> {
    if (this.s.state === 'open') this.s.state = 'closing';
    await this.committer.drain();
    if (this.s.state !== 'broken') this.s.state = 'closed';
    this.committer.listeners.clear();
  }
}
