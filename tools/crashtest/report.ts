/**
 * Printing a crash-test report: a table of states per workload per family, violations by
 * kind, time and states per second; then each failure with its state, what went wrong,
 * the expected (model) and actual (recovered) line of every differing path, and the one
 * command that replays it. Also merges the reports of --jobs shards into one.
 */
import { CRASH_FAMILIES } from './states.ts';
import type { CrashtestReport, WorkloadResult } from './run.ts';

/** Per failure, at most this many differing paths are printed (JSON has them all). */
const DIFF_LINES_MAX = 12;
/** At most this many failures are printed in full (JSON has them all). */
const FAILURES_PRINTED_MAX = 20;

export function formatReport(r: CrashtestReport): string {
  const lines: string[] = [];
  const head = ['workload', 'runs', 'log', 'acks', ...CRASH_FAMILIES, 'checked', 'time s', 'states/s'];
  const rows = r.workloads.map((w) => [
    w.workload,
    String(w.runs),
    String(w.logEntries),
    String(w.acknowledgements),
    ...CRASH_FAMILIES.map((f) => `${w.states[f].checked}/${w.states[f].enumerated}`),
    String(CRASH_FAMILIES.reduce((n, f) => n + w.states[f].checked, 0)),
    (w.elapsedMs / 1000).toFixed(1),
    (CRASH_FAMILIES.reduce((n, f) => n + w.states[f].checked, 0) / Math.max(w.elapsedMs / 1000, 1e-9)).toFixed(1),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (row: string[]) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  lines.push(`crashtest: ${describeSeeds(r.seeds)}, ${r.opCount} ops per workload, modes ${r.families.join(',')} (states: checked/enumerated)`, '', fmt(head));
  for (const row of rows) lines.push(fmt(row));
  for (const w of r.workloads) if (w.recordError) lines.push(`${w.workload}: live run differs from the model: ${w.recordError}`);
  lines.push('');
  const kinds = Object.entries(r.violationsByKind);
  lines.push(`${r.statesChecked} states in ${(r.elapsedMs / 1000).toFixed(1)} s (${r.statesPerSecond.toFixed(1)} states/s); ` + (kinds.length === 0 ? 'no violations' : `violations: ${kinds.map(([k, n]) => `${k} ${n}`).join(', ')}`));
  for (const f of r.failures.slice(0, FAILURES_PRINTED_MAX)) {
    lines.push('', `FAIL ${f.workload} seed ${f.seed} state ${f.state}, ${f.acknowledged} operation(s) acknowledged`);
    for (const v of f.violations) {
      lines.push(`  ${v.kind}: ${v.message}`);
      for (const d of v.diff.slice(0, DIFF_LINES_MAX)) lines.push(`    ${d.path}\n      expected ${d.expected ?? '(absent)'}\n      actual   ${d.actual ?? '(absent)'}`);
      if (v.diff.length > DIFF_LINES_MAX) lines.push(`    ... ${v.diff.length - DIFF_LINES_MAX} more path(s) (see --json)`);
    }
    lines.push(`  replay: ${f.replay}`);
  }
  if (r.failures.length > FAILURES_PRINTED_MAX) lines.push('', `... ${r.failures.length - FAILURES_PRINTED_MAX} more failure(s) (see --json)`);
  return lines.join('\n');
}

/** `seed 3`, `seeds 1..40` (a contiguous range) or `seeds 1,5,9`. */
export function describeSeeds(seeds: readonly number[]): string {
  if (seeds.length === 1) return `seed ${seeds[0]}`;
  const contiguous = seeds.every((s, i) => i === 0 || s === seeds[i - 1] + 1);
  return contiguous ? `seeds ${seeds[0]}..${seeds[seeds.length - 1]}` : `seeds ${seeds.join(',')}`;
}

/** One report from the shards of one run (same seed, ops, families and workloads). */
export function mergeReports(parts: readonly CrashtestReport[], elapsedMs: number): CrashtestReport {
  const first = parts[0];
  const workloads: WorkloadResult[] = first.workloads.map((w) => structuredClone(w));
  for (const p of parts.slice(1)) {
    p.workloads.forEach((w, i) => {
      const into = workloads[i];
      for (const f of CRASH_FAMILIES) into.states[f].checked += w.states[f].checked;
      into.elapsedMs = Math.max(into.elapsedMs, w.elapsedMs);
    });
  }
  const violationsByKind: CrashtestReport['violationsByKind'] = {};
  for (const p of parts) for (const [k, n] of Object.entries(p.violationsByKind)) violationsByKind[k as keyof typeof violationsByKind] = (violationsByKind[k as keyof typeof violationsByKind] ?? 0) + n;
  // Every shard records the run and sees the same live-run disagreement: count it once.
  if (violationsByKind['live-run-differs'] !== undefined) violationsByKind['live-run-differs'] = first.violationsByKind['live-run-differs'];
  const failures = parts.flatMap((p) => p.failures).sort((a, b) => a.workload.localeCompare(b.workload) || a.seed - b.seed || a.stateId - b.stateId);
  const statesChecked = parts.reduce((n, p) => n + p.statesChecked, 0);
  return { ...first, workloads, violationsByKind, failures, statesChecked, elapsedMs, statesPerSecond: statesChecked / Math.max(elapsedMs / 1000, 1e-9) };
}
