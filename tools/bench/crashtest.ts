/**
 * The crash harness as a benchmark: crash states checked per second as the seeded random
 * workload grows (more operations: a longer write log to rebuild states from, a bigger
 * tree to recover and compare). Each point is one `strata crashtest --random --ops N
 * --max-states M` run in this process; the figure is states checked over its wall time,
 * recording included. There is no outside baseline for this figure: the row's note says
 * what one state costs.
 *
 * A violation found here fails the benchmark loudly: a number from a harness that found a
 * bug would be the wrong thing to report.
 */
import { runCrashtest } from '../crashtest/run.ts';
import { CRASH_FAMILIES } from '../crashtest/states.ts';
import { RANDOM_WORKLOAD } from '../crashtest/workloads.ts';
import type { BenchRow } from './report.ts';

const GROUP = 'crashtest';

export async function benchCrashtest(opts: { quick: boolean }): Promise<BenchRow[]> {
  const opCounts = opts.quick ? [4, 12] : [4, 8, 16, 32];
  const maxStates = opts.quick ? 24 : 120;
  const rows: BenchRow[] = [];
  for (const opCount of opCounts) {
    const report = await runCrashtest({ workloads: [RANDOM_WORKLOAD], seed: 1, opCount, families: [...CRASH_FAMILIES], maxStatesPerWorkload: maxStates });
    if (report.failures.length > 0 || Object.keys(report.violationsByKind).length > 0) {
      throw new Error(`crashtest bench: violations at --ops ${opCount}: ${JSON.stringify(report.violationsByKind)} (replay: ${report.failures[0]?.replay ?? '-'})`);
    }
    const w = report.workloads[0];
    const enumerated = Object.values(w.states).reduce((n, s) => n + s.enumerated, 0);
    rows.push({
      group: GROUP,
      name: `states checked per second, random workload of ${opCount} ops`,
      unit: 'states/s',
      value: report.statesPerSecond,
      note: `${report.statesChecked} of ${enumerated} states checked (seed 1, every mode), ${w.logEntries} logged writes and flushes; each state: boot on the crash image (recovery), compare with the model, fsck, recover again`,
      point: { chart: 'crash-states-vs-ops', x: opCount, series: 'states/s (1 process)' },
    });
  }
  return rows;
}
