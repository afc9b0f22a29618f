/**
 * Keeps the index an exact function of the log: every content record, the store's own
 * and those other clients commit (the filesystem's ChunkRefs, in its own transactions),
 * reaches the index through one ordered reader, in commit order, never twice.
 *
 * commit(records) proposes one transaction and resolves only after the reader has
 * applied the log through that transaction's Commit record. catchUp() applies
 * everything committed up to now (gc and unref call it before deciding). hold() stops
 * new proposals and waits for those in flight (a checkpoint must see them all).
 *
 * Outcomes: a commit refused before or by the log (NOT_COMMITTED codes) changed nothing;
 * any other failure (EIO, a timeout, a stopped service) has an unknown outcome, and
 * `onUnknown` fails the store: only replay after a remount can say what the log holds.
 * A failed read fails the store the same way.
 */
import { isCode } from '../../kernel/errors.ts';
import { assert } from './errors.ts';
import type { ContentIndex } from './index.ts';
import type { CommitSeqs, ContentRecord, MetaLog } from './ports.ts';
import { RECORDS_PER_TRANSACTION_MAX } from './limits.ts';

/** Codes with which a commit was certainly not made (refused before or by the log). */
export const NOT_COMMITTED = ['BADRECORD', 'TOOBIG', 'NOSPC', 'BUSY', 'CLOSED', 'READONLY', 'BADMSG', 'BADOP', 'NOCAP', 'NOENDPOINT', 'MAILBOXFULL'];

interface Waiter {
  /** Apply at least through this seq; 0 = one full read that starts after the call. */
  seq: number;
  resolve(): void;
  reject(e: unknown): void;
}

export class LogApplier {
  appliedSeq = 0;
  commits = 0;
  private waiters: Waiter[] = [];
  private reading = false;
  /** Proposals sent and not yet answered; a hold waits for them. */
  private proposing = 0;
  private drained: (() => void)[] = [];
  /** While set, new proposals wait (a checkpoint is being taken). */
  private gate: Promise<void> | null = null;

  constructor(
    private readonly log: MetaLog,
    private readonly index: ContentIndex,
    private readonly onUnknown: (e: unknown) => void,
  ) {}

  /** Replays the log after appliedSeq (0, or an index image's position) into the index; resolves with the records applied. */
  async replay(): Promise<number> {
    let n = 0;
    this.appliedSeq = await this.log.read(this.appliedSeq, (r, seq) => (n++, this.index.apply(r, `log record ${seq}`, false)));
    return n;
  }

  async commit(records: ContentRecord[]): Promise<CommitSeqs> {
    assert(records.length >= 1 && records.length <= RECORDS_PER_TRANSACTION_MAX, `a transaction of ${records.length} records`);
    while (this.gate) await this.gate;
    let seqs: CommitSeqs;
    this.proposing++;
    try {
      seqs = await this.log.commit(records);
    } catch (e) {
      if (!isCode(e, ...NOT_COMMITTED)) this.onUnknown(e);
      throw e;
    } finally {
      if (--this.proposing === 0) for (const d of this.drained.splice(0)) d();
    }
    this.commits++;
    assert(seqs.commitSeq > seqs.firstSeq, 'a transaction has records before its Commit');
    await this.applyThrough(seqs.commitSeq);
    return seqs;
  }

  /** Stops new proposals and waits for those in flight; resolves with the function that lets proposals go again. */
  async hold(): Promise<() => void> {
    while (this.gate) await this.gate;
    let open!: () => void;
    this.gate = new Promise<void>((r) => (open = r));
    if (this.proposing > 0) await new Promise<void>((r) => this.drained.push(r));
    return () => {
      this.gate = null;
      open();
    };
  }

  /** Sets the position an index image was exact at (mount from a checkpoint). */
  startAt(seq: number): void {
    assert(this.appliedSeq === 0, 'the start is set once, before any read');
    this.appliedSeq = seq;
  }

  catchUp(): Promise<void> {
    return this.applyThrough(0);
  }

  private applyThrough(seq: number): Promise<void> {
    if (seq !== 0 && this.appliedSeq >= seq) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ seq, resolve, reject });
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    let batch: Waiter[] = [];
    try {
      for (let idle = 0; this.waiters.length > 0; ) {
        batch = this.waiters;
        this.waiters = [];
        const before = this.appliedSeq;
        const last = await this.log.read(this.appliedSeq, (r, seq) => {
          assert(seq > this.appliedSeq, `log record ${seq} after ${this.appliedSeq}`);
          this.appliedSeq = seq;
          this.index.apply(r, `log record ${seq}`, false);
        });
        this.appliedSeq = Math.max(this.appliedSeq, last);
        for (const w of batch) (w.seq <= this.appliedSeq ? w.resolve() : this.waiters.push(w));
        batch = [];
        idle = this.appliedSeq === before ? idle + 1 : 0;
        assert(idle < 100, `the log read stays at seq ${this.appliedSeq} while a commit beyond it was acknowledged`);
      }
    } catch (e) {
      this.onUnknown(e);
      for (const w of [...batch, ...this.waiters.splice(0)]) w.reject(e);
    } finally {
      this.reading = false;
    }
  }
}
