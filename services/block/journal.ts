/**
 * The write-ahead journal: a physical redo log in the journal region (FORMAT.md §6).
 *
 * Offers: `commit(writes)` (a transaction of whole-block images, durable when the promise
 * resolves), `checkpoint()` (write logged images home, free log space), replay on
 * `Journal.open`, and `pendingImage(blockIndex)` for reads of blocks whose newest image
 * is still only in the log.
 *
 * Commit point: the FLUSH after a batch. Commits are grouped: while one batch is being
 * written and flushed, new commits queue; the next batch takes all of them and is
 * written only after the previous FLUSH completed (so `batchFirstSequence` lets replay
 * tell a torn tail from corruption). One FLUSH per batch; the commit block's checksum
 * covers the descriptors, which cover every data block (FORMAT.md §6.3).
 *
 * Invariants (asserted): log space is reused only after a header naming a later tail is
 * durable; home blocks are written only with images of committed transactions; the log
 * never holds more than L blocks; after any device failure the journal refuses all
 * further work (FAILED), because it can no longer say what is durable.
 */
import { assert, blockError } from './errors.ts';
import type { BlockDevice } from './device.ts';
import { runsOf } from './cache.ts';
import { BLOCK_SIZE_BYTES, CHECKPOINT_USED_FRACTION, MERGED_REQUEST_BYTES_MAX, TX_BLOCKS_MAX } from './limits.ts';
import { encodeJournalHeader, transactionLengthBlocks } from './format/journal-records.ts';
import { encodeTransaction, scanJournal, type BlockWrite, type JournalScan } from './format/journal-log.ts';
import { inExtent, journalLog, type Layout } from './format/layout.ts';
import { ServiceError } from '../../kernel/errors.ts';

export interface ReplayReport {
  transactions: number;
  /** Distinct home blocks written by replay. */
  blocks: number;
  firstSequence: number;
  lastSequence: number;
  headerSlot: 0 | 1;
  stop: JournalScan['stop'];
  superblockReplayed: boolean;
  /** The epoch the journal runs in from now on. */
  epoch: number;
}

export interface JournalStats {
  capacityBlocks: number;
  usedBlocks: number;
  liveTransactions: number;
  pendingImages: number;
  queuedTransactions: number;
  nextSequence: number;
  epoch: number;
  commits: number;
  batches: number;
  checkpoints: number;
}

interface LiveTx {
  sequence: number;
  position: number;
  lengthBlocks: number;
}
interface PendingImage {
  data: Uint8Array;
  sequence: number;
}
interface Waiting {
  writes: BlockWrite[];
  lengthBlocks: number;
  resolve: (sequence: number) => void;
  reject: (e: ServiceError) => void;
}

const WRITE_RUN_BLOCKS_MAX = MERGED_REQUEST_BYTES_MAX / BLOCK_SIZE_BYTES;

/** True if a transaction may carry an image for this block: inside the image, not the journal, not the spare. */
export function journalMayWrite(layout: Layout, blockIndex: number): boolean {
  return Number.isSafeInteger(blockIndex) && blockIndex >= 0 && blockIndex < layout.blockCount && !inExtent(layout.journal, blockIndex) && blockIndex !== layout.spare.blockIndex;
}

export class Journal {
  private readonly L: number;
  private head: number;
  private usedBlocks = 0;
  private readonly live: LiveTx[] = [];
  private readonly pending = new Map<number, PendingImage>();
  private readonly queue: Waiting[] = [];
  private committing = false;
  private committerRun?: Promise<void>;
  private checkpointing?: Promise<void>;
  private failure?: ServiceError;
  private readonly counters = { commits: 0, batches: 0, checkpoints: 0 };
  /** Checkpoint in the background once the log is CHECKPOINT_USED_FRACTION full (off: only when a commit needs the space). */
  autoCheckpoint = true;

  private constructor(
    private readonly dev: BlockDevice,
    readonly layout: Layout,
    private readonly seed: number,
    private nextSequence: number,
    private epoch: number,
    private headerSlot: 0 | 1,
    private generation: number,
    position: number,
  ) {
    this.L = journalLog(layout).blockCount;
    this.head = position;
  }

  /** Replays every committed transaction, starts a new epoch, and returns the journal ready for commits. */
  static async open(dev: BlockDevice, layout: Layout, seed: number, options: { autoCheckpoint?: boolean } = {}): Promise<{ journal: Journal; replay: ReplayReport }> {
    const scan = await scanJournal((b, n) => dev.readBlocks(b, n), layout, seed, (b) => journalMayWrite(layout, b));
    const images = new Map<number, Uint8Array>();
    for (const tx of scan.transactions) for (const w of tx.writes) images.set(w.blockIndex, w.data);
    const journal = new Journal(dev, layout, seed, scan.nextSequence, (scan.header.epoch + 1) >>> 0, scan.headerSlot, scan.header.generation, scan.headPosition);
    journal.autoCheckpoint = options.autoCheckpoint ?? true;
    // Replay = a checkpoint of everything scanned, ending with a header for the new epoch. Nothing before that header write changes the log, so a crash anywhere here replays again.
    await journal.writeHomeAndAdvance(images, { tailSequence: scan.nextSequence, tailPosition: scan.headPosition });
    // And the other slot too, so both hold the new epoch: should the newest slot ever rot, the fallback still sees this epoch's records.
    await journal.writeHomeAndAdvance(new Map(), { tailSequence: scan.nextSequence, tailPosition: scan.headPosition });
    return {
      journal,
      replay: {
        transactions: scan.transactions.length,
        blocks: images.size,
        firstSequence: scan.header.tailSequence,
        lastSequence: scan.nextSequence - 1,
        headerSlot: scan.headerSlot,
        stop: scan.stop,
        superblockReplayed: images.has(layout.superblock.blockIndex),
        epoch: journal.epoch,
      },
    };
  }

  /** Commits one transaction; resolves with its sequence once it is durable. Images of the same block: the last wins. */
  commit(writes: BlockWrite[]): Promise<number> {
    if (this.failure) return Promise.reject(blockError('FAILED', `journal failed earlier: ${this.failure.message}`));
    const byBlock = new Map<number, Uint8Array>();
    for (const w of writes) {
      assert(journalMayWrite(this.layout, w.blockIndex), `journal write to block ${w.blockIndex}`);
      assert(w.data.length === BLOCK_SIZE_BYTES, `journal image of ${w.data.length} bytes`);
      byBlock.set(w.blockIndex, w.data.slice());
    }
    if (byBlock.size === 0) return Promise.reject(blockError('BADMSG', 'a transaction writes at least one block'));
    if (byBlock.size > TX_BLOCKS_MAX) return Promise.reject(blockError('TOOBIG', `a transaction writes at most ${TX_BLOCKS_MAX} blocks, not ${byBlock.size}`));
    const unique = [...byBlock].map(([blockIndex, data]) => ({ blockIndex, data }));
    return new Promise((resolve, reject) => {
      this.queue.push({ writes: unique, lengthBlocks: transactionLengthBlocks(unique.length), resolve, reject });
      if (!this.committing) {
        this.committerRun = this.runCommitter().finally(() => {
          if (!this.committing) this.committerRun = undefined;
        });
      }
    });
  }

  /** The newest committed image of a block not yet checkpointed, if any (do not mutate). */
  pendingImage(blockIndex: number): Uint8Array | undefined {
    return this.pending.get(blockIndex)?.data;
  }

  /** True while the log holds an image of this block that replay would write home. */
  hasLive(blockIndex: number): boolean {
    return this.pending.has(blockIndex);
  }

  get needsCheckpoint(): boolean {
    return this.usedBlocks > this.L * CHECKPOINT_USED_FRACTION;
  }

  get failed(): ServiceError | undefined {
    return this.failure;
  }

  stats(): JournalStats {
    return {
      capacityBlocks: this.L,
      usedBlocks: this.usedBlocks,
      liveTransactions: this.live.length,
      pendingImages: this.pending.size,
      queuedTransactions: this.queue.length,
      nextSequence: this.nextSequence,
      epoch: this.epoch,
      ...this.counters,
    };
  }

  /** Writes home every image committed before the call and frees their log space; concurrent callers share runs. */
  async checkpoint(): Promise<void> {
    const target = this.live.length ? this.live[this.live.length - 1].sequence : 0;
    while (!this.failure && this.live.length && this.live[0].sequence <= target) await (this.checkpointing ?? this.startCheckpoint());
    if (this.failure) throw blockError('FAILED', `journal failed: ${this.failure.message}`);
  }

  private startCheckpoint(): Promise<void> {
    const upTo = this.live[this.live.length - 1];
    const snapshot = new Map([...this.pending].filter(([, p]) => p.sequence <= upTo.sequence));
    const images = new Map([...snapshot].map(([b, p]) => [b, p.data]));
    this.checkpointing = (async () => {
      try {
        await this.writeHomeAndAdvance(images, { tailSequence: upTo.sequence + 1, tailPosition: (upTo.position + upTo.lengthBlocks) % this.L });
        while (this.live.length && this.live[0].sequence <= upTo.sequence) this.usedBlocks -= this.live.shift()!.lengthBlocks;
        for (const [b, p] of snapshot) if (this.pending.get(b) === p) this.pending.delete(b);
        assert(this.usedBlocks >= 0, 'journal used blocks never negative');
        this.counters.checkpoints++;
      } finally {
        this.checkpointing = undefined;
      }
    })();
    return this.checkpointing;
  }

  /** Waits for queued commits, then checkpoints until the log is empty (for a clean unmount). */
  async close(): Promise<void> {
    while (this.committerRun) await this.committerRun;
    while (this.live.length && !this.failure) await this.checkpoint();
  }

  // ---- internals ---------------------------------------------------------------------

  private async runCommitter(): Promise<void> {
    this.committing = true;
    try {
      while (this.queue.length && !this.failure) {
        if (this.queue[0].lengthBlocks > this.L - this.usedBlocks) {
          await this.checkpoint().catch(() => undefined); // a failure is recorded in this.failure
          continue;
        }
        const batch: Waiting[] = [];
        let room = this.L - this.usedBlocks;
        while (this.queue.length && this.queue[0].lengthBlocks <= room) {
          const w = this.queue.shift()!;
          room -= w.lengthBlocks;
          batch.push(w);
        }
        await this.writeBatch(batch);
      }
    } finally {
      this.committing = false;
    }
    if (this.failure) for (const w of this.queue.splice(0)) w.reject(blockError('FAILED', `journal failed: ${this.failure.message}`));
  }

  private async writeBatch(batch: Waiting[]): Promise<void> {
    const batchFirstSequence = this.nextSequence;
    const blocks: BlockWrite[] = [];
    const txs: LiveTx[] = [];
    for (const w of batch) {
      const sequence = this.nextSequence++;
      const records = encodeTransaction(w.writes, { sequence, epoch: this.epoch, batchFirstSequence, position: this.head }, this.layout, this.seed);
      txs.push({ sequence, position: this.head, lengthBlocks: records.length });
      this.head = (this.head + records.length) % this.L;
      this.usedBlocks += records.length;
      blocks.push(...records);
    }
    assert(this.usedBlocks <= this.L, `journal overfull: ${this.usedBlocks} of ${this.L}`);
    try {
      await this.writeAll(blocks);
      await this.dev.flush();
    } catch (e) {
      this.fail(e);
      for (const w of batch) w.reject(blockError('IOERR', `journal commit failed, outcome unknown until remount: ${(e as Error).message}`));
      return;
    }
    batch.forEach((w, i) => {
      this.live.push(txs[i]);
      for (const write of w.writes) this.pending.set(write.blockIndex, { data: write.data, sequence: txs[i].sequence });
    });
    this.counters.batches++;
    this.counters.commits += batch.length;
    batch.forEach((w, i) => w.resolve(txs[i].sequence));
    if (this.autoCheckpoint && this.needsCheckpoint && !this.checkpointing) this.startCheckpoint().catch(() => undefined);
  }

  /**
   * Writes images home, FLUSH; then the spare superblock (if the primary was among them)
   * and a header in the other slot naming the new tail, FLUSH. The primary and the spare
   * are never in flight together (FORMAT.md §3).
   */
  private async writeHomeAndAdvance(images: Map<number, Uint8Array>, tail: { tailSequence: number; tailPosition: number }): Promise<void> {
    try {
      const homes = [...images].map(([blockIndex, data]) => ({ blockIndex, data }));
      for (const w of homes) assert(journalMayWrite(this.layout, w.blockIndex), `home write to ${w.blockIndex}`);
      if (homes.length) {
        await this.writeAll(homes);
        await this.dev.flush();
      }
      const second: BlockWrite[] = [];
      const primary = images.get(this.layout.superblock.blockIndex);
      if (primary) second.push({ blockIndex: this.layout.spare.blockIndex, data: primary });
      const slot = (1 - this.headerSlot) as 0 | 1;
      const headerIndex = this.layout.journal.blockIndex + slot;
      const header = encodeJournalHeader({ generation: this.generation + 1, epoch: this.epoch, logBlockCount: this.L, ...tail }, headerIndex, this.seed);
      second.push({ blockIndex: headerIndex, data: header });
      await this.writeAll(second);
      await this.dev.flush();
      this.headerSlot = slot;
      this.generation++;
    } catch (e) {
      this.fail(e);
      throw this.failure!;
    }
  }

  /** Writes blocks in merged contiguous runs, all in flight at once. */
  private async writeAll(blocks: BlockWrite[]): Promise<void> {
    const byIndex = new Map(blocks.map((b) => [b.blockIndex, b.data]));
    const runs = runsOf([...byIndex.keys()].sort((a, b) => a - b), WRITE_RUN_BLOCKS_MAX);
    await Promise.all(
      runs.map((run) => {
        const data = new Uint8Array(run.count * BLOCK_SIZE_BYTES);
        for (let i = 0; i < run.count; i++) data.set(byIndex.get(run.first + i)!, i * BLOCK_SIZE_BYTES);
        return this.dev.writeBlocks(run.first, data);
      }),
    );
  }

  private fail(e: unknown): void {
    if (this.failure) return;
    const code = e instanceof ServiceError ? e.code : 'IOERR';
    this.failure = blockError('FAILED', `${code}: ${(e as Error).message ?? String(e)}`);
  }
}
