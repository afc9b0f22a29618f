// The harness's self-test: a harness that finds nothing proves nothing. Each planted bug
// (tools/crashtest/planted.ts: a device that lies about FLUSH, a dropped data flush, a
// write reordered across a flush, an acknowledgement taken before the commit's flush, a
// journal replay that trusts an uncommitted transaction) must be caught, with a replay
// line that reproduces the same failure; the same selection without a bug must pass.
import { describe, expect, it } from 'vitest';
import { findWorkload } from '../../tools/crashtest/workloads.ts';
import { runCrashtest, type CrashtestOptions } from '../../tools/crashtest/run.ts';
import { PLANTED_BUGS, plantedHooks, type PlantedBug } from '../../tools/crashtest/planted.ts';
import { formatReport } from '../../tools/crashtest/report.ts';
import { CRASH_FAMILIES } from '../../tools/crashtest/states.ts';

const base: CrashtestOptions = { workloads: [findWorkload('rename-over')!], seed: 1, opCount: 6, families: CRASH_FAMILIES, maxStatesPerWorkload: 30 };
/** The journal carries only allocation transactions, a few of the log's writes: torn states find them. */
const torn: CrashtestOptions = { ...base, families: ['torn'] };
const selection: Record<PlantedBug, CrashtestOptions> = {
  'ack-before-flush': base,
  'flush-ignored': base,
  'skip-data-flush': base,
  'write-after-flush': base,
  'replay-uncommitted': torn,
};

describe('crashtest: planted bugs are caught', () => {
  for (const [name, options] of [['every family', base], ['torn states', torn]] as const) {
    it(`the same selection (${name}) passes on the honest stack`, async () => {
      const report = await runCrashtest(options);
      expect(report.statesChecked).toBe(30);
      expect(report.failures, formatReport(report)).toEqual([]);
    });
  }

  for (const bug of PLANTED_BUGS) {
    it(`${bug}: caught, and the replay line reproduces the first failure`, async () => {
      const options = selection[bug];
      const report = await runCrashtest({ ...options, hooks: plantedHooks(bug) });
      expect(report.failures.length, `${bug} went unnoticed`).toBeGreaterThan(0);
      const first = report.failures[0];
      expect(first.replay).toBe(`strata crashtest --seed 1 --workload rename-over --ops 6 --state ${first.stateId}`);
      const again = await runCrashtest({ ...options, hooks: plantedHooks(bug), stateId: first.stateId });
      expect(again.failures.map((f) => f.violations.map((v) => v.kind))).toEqual([first.violations.map((v) => v.kind)]);
      expect(again.failures[0].violations[0].message).toBe(first.violations[0].message);
      if (bug === 'replay-uncommitted') expect(first.violations[0].message).toMatch(/bitmap|superblock|journal/);
    });
  }
});
