/**
 * The write log and crash model behind the fault-injecting disk (faulty.ts), kept apart
 * so a crash harness can rebuild any crash state later from a recorded log alone.
 *
 * A log is the ordered history of a disk since a known durable image (its base):
 * writes and discards (volatile until the next flush), flushes (everything before is
 * durable), marks (labels a test puts in, like dm-log-writes), and crashes (power
 * lost; the entry records exactly which unflushed writes survived, so replay is exact).
 *
 * `imageAt(base, log, { entryCount, mode })` is the durable image if power had been
 * lost right after the first `entryCount` entries, with the unflushed writes chosen by
 * `mode`. FaultyBackend.crash(mode) uses the same `ImageReplayer`, so for the same
 * seed both give the same bytes.
 *
 * Crash modes (what survives of the writes since the last flush):
 * - 'lose-all': none;  'keep-all': all, in order;
 * - { subset: seed }: each survives with probability 1/2 (seeded), applied in order;
 * - { torn: seed }: a seeded prefix survives whole, the next write is torn at a sector
 *   boundary (its leading sectors new, the rest old; a one-sector write is lost), and
 *   everything after it is lost.
 *
 * Invariant: tears happen only at 512-byte boundaries; a sector is either all old or
 * all new (the model assumes sector-atomic media, like the disks Strata targets).
 */

import { SECTOR_SIZE_BYTES } from '../../limits.ts';
import { Prng } from '../prng.ts';

export type DiskLogEntry =
  | { readonly seq: number; readonly kind: 'write'; readonly offsetBytes: number; readonly data: Uint8Array }
  | { readonly seq: number; readonly kind: 'discard'; readonly offsetBytes: number; readonly lengthBytes: number }
  | { readonly seq: number; readonly kind: 'flush' }
  | { readonly seq: number; readonly kind: 'mark'; readonly label: string }
  | { readonly seq: number; readonly kind: 'crash'; readonly outcome: CrashOutcome };

export type CrashMode = 'lose-all' | 'keep-all' | { readonly subset: number } | { readonly torn: number };

/** What survived a crash, by the log sequence numbers of the unflushed writes. */
export interface CrashOutcome {
  /** Unflushed writes/discards kept whole, in log order. */
  readonly keptSeqs: readonly number[];
  /** The write torn after the kept ones, and how many of its leading sectors landed. */
  readonly torn: { readonly seq: number; readonly sectorCount: number } | null;
}

/** A write or discard not yet flushed; `data === null` means zeros (a discard). */
export interface PendingWrite {
  readonly seq: number;
  readonly offsetBytes: number;
  readonly lengthBytes: number;
  readonly data: Uint8Array | null;
}

/**
 * Lays writes not yet durable over bytes just read from the durable image: `dst` holds
 * [offsetBytes, +dst.length) of it; each pending write (a null `data` is a discard: zeros)
 * that overlaps is copied in, in list order, so a later write wins.
 */
export function overlayPending(dst: Uint8Array, offsetBytes: number, pending: readonly Pick<PendingWrite, 'offsetBytes' | 'lengthBytes' | 'data'>[]): void {
  const end = offsetBytes + dst.length;
  for (const w of pending) {
    const from = Math.max(offsetBytes, w.offsetBytes);
    const to = Math.min(end, w.offsetBytes + w.lengthBytes);
    if (from >= to) continue;
    if (w.data === null) dst.fill(0, from - offsetBytes, to - offsetBytes);
    else dst.set(w.data.subarray(from - w.offsetBytes, to - w.offsetBytes), from - offsetBytes);
  }
}

export function describeCrashMode(mode: CrashMode): string {
  if (typeof mode === 'string') return mode;
  return 'subset' in mode ? `subset:${mode.subset}` : `torn:${mode.torn}`;
}

/** Chooses the survivors of `pending` under `mode`; deterministic in the seed. */
export function chooseCrashOutcome(pending: readonly PendingWrite[], mode: CrashMode): CrashOutcome {
  if (mode === 'lose-all') return { keptSeqs: [], torn: null };
  if (mode === 'keep-all') return { keptSeqs: pending.map((w) => w.seq), torn: null };
  if ('subset' in mode) {
    const prng = new Prng(mode.subset);
    return { keptSeqs: pending.filter(() => prng.bool()).map((w) => w.seq), torn: null };
  }
  if ('torn' in mode) {
    if (pending.length === 0) return { keptSeqs: [], torn: null };
    const prng = new Prng(mode.torn);
    const tornIndex = prng.below(pending.length);
    const victim = pending[tornIndex];
    const sectors = victim.lengthBytes / SECTOR_SIZE_BYTES;
    const sectorCount = sectors >= 2 ? prng.between(1, sectors - 1) : 0;
    return { keptSeqs: pending.slice(0, tornIndex).map((w) => w.seq), torn: { seq: victim.seq, sectorCount } };
  }
  throw new TypeError(`unknown crash mode ${JSON.stringify(mode)}`);
}

/**
 * Durable image plus the writes since the last flush. Applies log entries one by one;
 * the single implementation of "what is durable" for both the backend and replay.
 */
export class ImageReplayer {
  private pendingWrites: PendingWrite[] = [];

  constructor(readonly durable: Uint8Array) {
    if (durable.length % SECTOR_SIZE_BYTES !== 0) throw new RangeError('ImageReplayer: image is not whole sectors');
  }

  get pending(): readonly PendingWrite[] {
    return this.pendingWrites;
  }

  apply(entry: DiskLogEntry): void {
    switch (entry.kind) {
      case 'write':
        this.addPending({ seq: entry.seq, offsetBytes: entry.offsetBytes, lengthBytes: entry.data.length, data: entry.data });
        return;
      case 'discard':
        this.addPending({ seq: entry.seq, offsetBytes: entry.offsetBytes, lengthBytes: entry.lengthBytes, data: null });
        return;
      case 'flush':
        this.flush();
        return;
      case 'mark':
        return;
      case 'crash':
        this.crash(entry.outcome);
        return;
    }
  }

  addPending(write: PendingWrite): void {
    const { offsetBytes, lengthBytes } = write;
    if (offsetBytes % SECTOR_SIZE_BYTES !== 0 || lengthBytes % SECTOR_SIZE_BYTES !== 0 || offsetBytes + lengthBytes > this.durable.length) {
      throw new RangeError(`ImageReplayer: write seq ${write.seq} [${offsetBytes}, +${lengthBytes}) is not whole sectors inside the image`);
    }
    if (write.data !== null && write.data.length !== lengthBytes) throw new RangeError(`ImageReplayer: write seq ${write.seq} length mismatch`);
    this.pendingWrites.push(write);
  }

  flush(): void {
    for (const write of this.pendingWrites) this.land(write, write.lengthBytes / SECTOR_SIZE_BYTES);
    this.pendingWrites = [];
  }

  /** Applies an outcome: kept writes whole, in order, then the torn prefix; the rest is lost. */
  crash(outcome: CrashOutcome): void {
    const bySeq = new Map(this.pendingWrites.map((w) => [w.seq, w] as const));
    let lastSeq = -1;
    for (const seq of outcome.keptSeqs) {
      const write = bySeq.get(seq);
      if (write === undefined || seq <= lastSeq) throw new Error(`crash outcome keeps seq ${seq}, which is not a later unflushed write`);
      this.land(write, write.lengthBytes / SECTOR_SIZE_BYTES);
      lastSeq = seq;
    }
    if (outcome.torn !== null) {
      const write = bySeq.get(outcome.torn.seq);
      if (write === undefined || outcome.torn.seq <= lastSeq) throw new Error(`crash outcome tears seq ${outcome.torn.seq}, which is not a later unflushed write`);
      if (outcome.torn.sectorCount >= write.lengthBytes / SECTOR_SIZE_BYTES) throw new Error('a torn write must lose at least one sector');
      this.land(write, outcome.torn.sectorCount);
    }
    this.pendingWrites = [];
  }

  /** Makes the first `sectorCount` sectors of `write` durable. */
  private land(write: PendingWrite, sectorCount: number): void {
    const lengthBytes = sectorCount * SECTOR_SIZE_BYTES;
    if (write.data === null) this.durable.fill(0, write.offsetBytes, write.offsetBytes + lengthBytes);
    else this.durable.set(write.data.subarray(0, lengthBytes), write.offsetBytes);
  }
}

/**
 * The durable image had power been lost right after `log[0 .. entryCount)` (default: the
 * whole log), with the unflushed writes chosen by `mode`. `base` is not modified.
 */
export function imageAt(
  base: Uint8Array,
  log: readonly DiskLogEntry[],
  selection: { readonly entryCount?: number; readonly mode: CrashMode },
): Uint8Array {
  const entryCount = selection.entryCount ?? log.length;
  if (!Number.isInteger(entryCount) || entryCount < 0 || entryCount > log.length) {
    throw new RangeError(`imageAt: entryCount must be in [0, ${log.length}], got ${entryCount}`);
  }
  const replayer = new ImageReplayer(base.slice());
  for (let i = 0; i < entryCount; i++) replayer.apply(log[i]);
  replayer.crash(chooseCrashOutcome(replayer.pending, selection.mode));
  return replayer.durable;
}
