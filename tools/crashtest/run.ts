/**
 * One crash-test run: for each workload, record it (record.ts), enumerate its crash
 * states (states.ts), select the ones the run asks for, check each (check.ts), and
 * gather the verdicts into a report (report.ts prints it).
 *
 * Invariants:
 * - Deterministic: the selection is a pure function of (log, seed, families, maxStates,
 *   shard), and so is every verdict; states are checked in id order.
 * - Every failure carries the one command line that replays exactly its state.
 * - Sequential within a process; --jobs (cli) runs shards in separate processes.
 * - runSeeds runs the same options for each seed in turn and sums the reports: its
 *   verdicts are those of the single-seed runs, failures keep their own seed's replay line.
 */
import { checkState, cursorImages, type Violation, type ViolationKind } from './check.ts';
import { recordRun, RecordError, type RecordHooks } from './record.ts';
import { CRASH_FAMILIES, describeState, enumerateStates, spread, type CrashFamily, type CrashState } from './states.ts';
import type { Workload } from './workloads.ts';

export interface CrashtestOptions {
  workloads: readonly Workload[];
  seed: number;
  opCount: number;
  families: readonly CrashFamily[];
  /** At most this many states per workload (spread over the families asked for). */
  maxStatesPerWorkload?: number;
  /** Check this one state id only (replay). */
  stateId?: number;
  /** Check only the selected states with index % count === index (one of --jobs processes). */
  shard?: { index: number; count: number };
  /** Test-only: a planted bug (planted.ts). */
  hooks?: RecordHooks;
  onProgress?: (p: Progress) => void;
}

export interface Progress {
  workload: string;
  done: number;
  total: number;
  violations: number;
}

export interface Failure {
  workload: string;
  seed: number;
  stateId: number;
  state: string;
  acknowledged: number;
  violations: Violation[];
  replay: string;
}

export interface WorkloadResult {
  workload: string;
  /** Recorded runs summed here (one per seed). */
  runs: number;
  logEntries: number;
  acknowledgements: number;
  /** States that exist per family, and how many of them this run checked. */
  states: Record<CrashFamily, { enumerated: number; checked: number }>;
  /** The live run disagreed with the model (no states were checked); with many seeds, the first such. */
  recordError?: string;
  elapsedMs: number;
}

export interface CrashtestReport {
  /** The first seed; `seeds` lists them all (one unless runSeeds). */
  seed: number;
  seeds: number[];
  opCount: number;
  families: CrashFamily[];
  workloads: WorkloadResult[];
  statesChecked: number;
  violationsByKind: Partial<Record<ViolationKind | 'live-run-differs', number>>;
  failures: Failure[];
  elapsedMs: number;
  statesPerSecond: number;
}

export function replayLine(workload: string, seed: number, opCount: number, stateId: number): string {
  const which = workload === 'random' ? '--random' : `--workload ${workload}`;
  return `strata crashtest --seed ${seed} ${which} --ops ${opCount} --state ${stateId}`;
}

/** Up to `max` states, each family given an equal share (unused shares pass on), spread evenly. */
export function selectStates(all: readonly CrashState[], families: readonly CrashFamily[], max: number): CrashState[] {
  const byFamily = families.map((f) => all.filter((s) => s.family === f));
  const chosen: CrashState[] = [];
  let budget = max;
  const sorted = byFamily.map((xs, i) => ({ xs, i })).sort((a, b) => a.xs.length - b.xs.length || a.i - b.i);
  sorted.forEach(({ xs }, k) => {
    const share = Math.floor(budget / (sorted.length - k));
    const picked = spread(xs, share);
    chosen.push(...picked);
    budget -= picked.length;
  });
  return chosen.sort((a, b) => a.id - b.id);
}

function emptyCounts(): Record<CrashFamily, { enumerated: number; checked: number }> {
  return Object.fromEntries(CRASH_FAMILIES.map((f) => [f, { enumerated: 0, checked: 0 }])) as Record<CrashFamily, { enumerated: number; checked: number }>;
}

export async function runCrashtest(o: CrashtestOptions): Promise<CrashtestReport> {
  const t0 = performance.now();
  const report: CrashtestReport = {
    seed: o.seed, seeds: [o.seed], opCount: o.opCount, families: [...o.families], workloads: [], statesChecked: 0,
    violationsByKind: {}, failures: [], elapsedMs: 0, statesPerSecond: 0,
  };
  const count = (kind: ViolationKind | 'live-run-differs') => (report.violationsByKind[kind] = (report.violationsByKind[kind] ?? 0) + 1);
  for (const workload of o.workloads) {
    const tw = performance.now();
    const result: WorkloadResult = { workload: workload.name, runs: 1, logEntries: 0, acknowledgements: 0, states: emptyCounts(), elapsedMs: 0 };
    report.workloads.push(result);
    let run;
    try {
      run = await recordRun(workload, o.seed, o.opCount, o.hooks);
    } catch (e) {
      if (!(e instanceof RecordError)) throw e;
      result.recordError = `seed ${o.seed}: ${e.message}`;
      count('live-run-differs');
      continue;
    }
    result.logEntries = run.log.length;
    result.acknowledgements = run.marks.length;
    const all = enumerateStates(run.log, o.seed);
    for (const s of all) result.states[s.family].enumerated++;
    let selected: CrashState[];
    if (o.stateId !== undefined) {
      const s = all[o.stateId];
      if (s === undefined) throw new RangeError(`${workload.name} seed ${o.seed} has states 0 .. ${all.length - 1}, not ${o.stateId}`);
      selected = [s];
    } else {
      selected = selectStates(all, o.families, o.maxStatesPerWorkload ?? all.length);
      if (o.shard) selected = selected.filter((_, i) => i % o.shard!.count === o.shard!.index);
    }
    let failed = 0;
    const images = cursorImages(run);
    for (const [done, state] of selected.entries()) {
      o.onProgress?.({ workload: workload.name, done, total: selected.length, violations: failed });
      const verdict = await checkState(run, state, images, o.hooks);
      result.states[state.family].checked++;
      report.statesChecked++;
      if (verdict.violations.length === 0) continue;
      failed++;
      for (const v of verdict.violations) count(v.kind);
      report.failures.push({
        workload: workload.name, seed: o.seed, stateId: state.id, state: describeState(state),
        acknowledged: verdict.acknowledged, violations: verdict.violations,
        replay: replayLine(workload.name, o.seed, o.opCount, state.id),
      });
    }
    o.onProgress?.({ workload: workload.name, done: selected.length, total: selected.length, violations: failed });
    result.elapsedMs = performance.now() - tw;
  }
  report.elapsedMs = performance.now() - t0;
  report.statesPerSecond = report.statesChecked / Math.max(report.elapsedMs / 1000, 1e-9);
  return report;
}

/**
 * The same run for each of `seeds` in turn, one report: per workload, the runs, log
 * entries, acknowledgements, states and time summed; failures in seed order.
 * `onSeed` hears each seed's own report as it ends (the long run's progress line).
 */
export async function runSeeds(o: Omit<CrashtestOptions, 'seed'>, seeds: readonly number[], onSeed?: (seed: number, r: CrashtestReport, total: CrashtestReport) => void): Promise<CrashtestReport> {
  if (seeds.length === 0) throw new RangeError('runSeeds: no seeds');
  const t0 = performance.now();
  let total: CrashtestReport | undefined;
  for (const seed of seeds) {
    const r = await runCrashtest({ ...o, seed });
    total = total === undefined ? { ...r, workloads: r.workloads.map((w) => structuredClone(w)), failures: [...r.failures], violationsByKind: { ...r.violationsByKind } } : addSeed(total, r);
    total.elapsedMs = performance.now() - t0;
    total.statesPerSecond = total.statesChecked / Math.max(total.elapsedMs / 1000, 1e-9);
    onSeed?.(seed, r, total);
  }
  return total!;
}

function addSeed(total: CrashtestReport, r: CrashtestReport): CrashtestReport {
  total.seeds.push(...r.seeds);
  r.workloads.forEach((w, i) => {
    const into = total.workloads[i];
    if (into.workload !== w.workload) throw new Error(`runSeeds: workload ${w.workload} where ${into.workload} was`);
    into.runs += w.runs;
    into.logEntries += w.logEntries;
    into.acknowledgements += w.acknowledgements;
    for (const f of CRASH_FAMILIES) {
      into.states[f].enumerated += w.states[f].enumerated;
      into.states[f].checked += w.states[f].checked;
    }
    into.elapsedMs += w.elapsedMs;
    if (into.recordError === undefined && w.recordError !== undefined) into.recordError = w.recordError;
  });
  for (const [k, n] of Object.entries(r.violationsByKind)) total.violationsByKind[k as keyof typeof total.violationsByKind] = (total.violationsByKind[k as keyof typeof total.violationsByKind] ?? 0) + n;
  total.failures.push(...r.failures);
  total.statesChecked += r.statesChecked;
  return total;
}
