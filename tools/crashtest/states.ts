/**
 * Crash states: where the power goes out in a recorded disk log, and which of the
 * writes since the last flush survive. Four families (the --mode names):
 *
 * - flush:   right after each flush (and at the start and end of the log), nothing
 *            unflushed survives: the states every correct stack must handle.
 * - prefix:  after each write inside a flush window, every earlier write of the window
 *            survives in order (dm-log-writes replay points). The prefix that holds the
 *            whole window is left out: it is the next flush state.
 * - subsets: at the end of each window of two or more writes, SUBSETS_PER_WINDOW seeded
 *            subsets survive (reorderings inside the window, which CrashMonkey leaves out).
 * - torn:    each write is cut at 512-byte sector boundaries (every boundary for writes of
 *            up to 4 KiB, TORN_CUTS_PER_WRITE_MAX seeded ones for longer writes), with the
 *            window's earlier writes whole and its later ones lost.
 *
 * Invariants: the list is a pure function of (log, seed); a state's id is its index in
 * the list of all families, so `--state ID` names the same state whatever --mode and
 * --max-states select; an image is a pure function of (base, log, state).
 */
import { SECTOR_SIZE_BYTES } from '../../kernel/limits.ts';
import { Random } from '../../kernel/random.ts';
import { ImageReplayer, chooseCrashOutcome, type DiskLogEntry, type PendingWrite } from '../../kernel/machine/disk/write-log.ts';
import { landWhole, type ImageCursor, type OverlayImage } from './overlay.ts';

export const CRASH_FAMILIES = ['flush', 'prefix', 'subsets', 'torn'] as const;
export type CrashFamily = (typeof CRASH_FAMILIES)[number];

export const SUBSETS_PER_WINDOW = 4;
export const TORN_CUTS_PER_WRITE_MAX = 7;
const PAGE_SIZE_BYTES = 4096;

export interface CrashState {
  id: number;
  family: CrashFamily;
  /** Log entries that happened before the power went. */
  entryCount: number;
  /** subsets: the seed of the surviving subset. */
  subsetSeed?: number;
  /** torn: sectors of the last write (log entry entryCount - 1) that landed. */
  tornSectorCount?: number;
}

interface Window {
  /** Index of the first entry after the previous flush (or 0). */
  start: number;
  /** Indexes of the writes and discards in the window. */
  writes: number[];
  /** Index of the flush closing the window, or null at the end of the log. */
  flushAt: number | null;
}

function windows(log: readonly DiskLogEntry[]): Window[] {
  const out: Window[] = [];
  let current: Window = { start: 0, writes: [], flushAt: null };
  log.forEach((e, i) => {
    if (e.kind === 'write' || e.kind === 'discard') current.writes.push(i);
    if (e.kind === 'flush') {
      current.flushAt = i;
      out.push(current);
      current = { start: i + 1, writes: [], flushAt: null };
    }
    if (e.kind === 'crash') throw new Error('crash states: a recorded log must not contain a crash');
  });
  out.push(current);
  return out;
}

export function enumerateStates(log: readonly DiskLogEntry[], seed: number): CrashState[] {
  const out: CrashState[] = [];
  const add = (s: Omit<CrashState, 'id'>) => out.push({ id: out.length, ...s });
  const ws = windows(log);
  add({ family: 'flush', entryCount: 0 });
  for (const w of ws) add({ family: 'flush', entryCount: w.flushAt === null ? log.length : w.flushAt + 1 });
  for (const w of ws) {
    const last = w.flushAt === null ? w.writes.length : w.writes.length - 1;
    for (let k = 0; k < last; k++) add({ family: 'prefix', entryCount: w.writes[k] + 1 });
  }
  const r = new Random(seed ^ 0x5eed5);
  for (const w of ws) {
    if (w.writes.length < 2) continue;
    const entryCount = w.flushAt ?? log.length;
    for (let k = 0; k < SUBSETS_PER_WINDOW; k++) add({ family: 'subsets', entryCount, subsetSeed: r.u32() });
  }
  for (const w of ws) {
    for (const at of w.writes) {
      const e = log[at];
      if (e.kind !== 'write') continue;
      const sectors = e.data.length / SECTOR_SIZE_BYTES;
      if (sectors < 2) continue;
      let cuts: number[];
      if (e.data.length <= PAGE_SIZE_BYTES) cuts = Array.from({ length: sectors - 1 }, (_, i) => i + 1);
      else {
        const chosen = new Set<number>();
        while (chosen.size < Math.min(TORN_CUTS_PER_WRITE_MAX, sectors - 1)) chosen.add(1 + r.below(sectors - 1));
        cuts = [...chosen].sort((a, b) => a - b);
      }
      for (const tornSectorCount of cuts) add({ family: 'torn', entryCount: at + 1, tornSectorCount });
    }
  }
  return out;
}

/**
 * The durable image had the power gone as `state` says, as an overlay on the run's base
 * (what the harness recovers on). Same bytes as buildImage (test/crashtest/states.test.ts).
 */
export function crashImage(cursor: ImageCursor, log: readonly DiskLogEntry[], state: CrashState): OverlayImage {
  let start = state.entryCount;
  while (start > 0 && log[start - 1].kind !== 'flush') start--;
  const image = cursor.durableAt(start);
  const pending: DiskLogEntry[] = [];
  for (let i = start; i < state.entryCount; i++) if (log[i].kind === 'write' || log[i].kind === 'discard') pending.push(log[i]);
  if (state.family === 'flush') return image;
  if (state.family === 'prefix') {
    for (const e of pending) landWhole(image, e);
  } else if (state.family === 'subsets') {
    const asPending = pending.map((e): PendingWrite => (e.kind === 'write' ? { seq: e.seq, offsetBytes: e.offsetBytes, lengthBytes: e.data.length, data: e.data } : { seq: e.seq, offsetBytes: e.kind === 'discard' ? e.offsetBytes : 0, lengthBytes: e.kind === 'discard' ? e.lengthBytes : 0, data: null }));
    const kept = new Set(chooseCrashOutcome(asPending, { subset: state.subsetSeed ?? 0 }).keptSeqs);
    for (const e of pending) if (kept.has(e.seq)) landWhole(image, e);
  } else {
    const victim = pending[pending.length - 1];
    if (victim === undefined || state.tornSectorCount === undefined) throw new Error(`torn state ${state.id} has no write to tear`);
    for (const e of pending.slice(0, -1)) landWhole(image, e);
    landWhole(image, victim, state.tornSectorCount);
  }
  return image;
}

/** The durable image had the power gone as `state` says, as one array (the reference for crashImage). `base` is not modified. */
export function buildImage(base: Uint8Array, log: readonly DiskLogEntry[], state: CrashState): Uint8Array {
  const replayer = new ImageReplayer(base.slice());
  for (let i = 0; i < state.entryCount; i++) replayer.apply(log[i]);
  const pending = replayer.pending;
  if (state.family === 'flush') replayer.crash({ keptSeqs: [], torn: null });
  else if (state.family === 'prefix') replayer.crash(chooseCrashOutcome(pending, 'keep-all'));
  else if (state.family === 'subsets') replayer.crash(chooseCrashOutcome(pending, { subset: state.subsetSeed ?? 0 }));
  else {
    const victim = pending[pending.length - 1];
    if (victim === undefined || state.tornSectorCount === undefined) throw new Error(`torn state ${state.id} has no write to tear`);
    replayer.crash({ keptSeqs: pending.slice(0, -1).map((w) => w.seq), torn: { seq: victim.seq, sectorCount: state.tornSectorCount } });
  }
  return replayer.durable;
}

/** Picks at most `max` states, spread evenly over the list (deterministic). */
export function spread<T>(states: readonly T[], max: number): T[] {
  if (states.length <= max) return [...states];
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(states[Math.floor((i * states.length) / max)]);
  return out;
}

export function describeState(s: CrashState): string {
  const extra = s.family === 'subsets' ? ` subset seed ${s.subsetSeed}` : s.family === 'torn' ? `, ${s.tornSectorCount} sector(s) of the last write landed` : '';
  return `#${s.id} ${s.family} after log entry ${s.entryCount}${extra}`;
}
