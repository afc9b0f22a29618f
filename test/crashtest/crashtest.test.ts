// The bounded crash-test run of `npm test`: every built-in workload and both random ones,
// a spread of states from every family, and the contract must hold on each (the same
// checks `strata crashtest` runs; `npm run crashtest` is the long run).
import { describe, expect, it } from 'vitest';
import { ALL_WORKLOADS } from '../../tools/crashtest/workloads.ts';
import { runCrashtest } from '../../tools/crashtest/run.ts';
import { formatReport } from '../../tools/crashtest/report.ts';
import { CRASH_FAMILIES } from '../../tools/crashtest/states.ts';

const OPS = 8;
const STATES_PER_WORKLOAD = 32;

describe('crashtest: bounded run over the built-in workloads', () => {
  for (const workload of ALL_WORKLOADS) {
    it(`${workload.name}: ${STATES_PER_WORKLOAD} states from every family recover to an acknowledged prefix`, async () => {
      const report = await runCrashtest({ workloads: [workload], seed: 3, opCount: OPS, families: CRASH_FAMILIES, maxStatesPerWorkload: STATES_PER_WORKLOAD });
      const w = report.workloads[0];
      expect(w.recordError, 'the live run agrees with the model').toBeUndefined();
      expect(w.acknowledgements).toBeGreaterThan(0);
      expect(report.statesChecked).toBe(Math.min(STATES_PER_WORKLOAD, CRASH_FAMILIES.reduce((n, f) => n + w.states[f].enumerated, 0)));
      // Every family that has states is sampled.
      for (const f of CRASH_FAMILIES) if (w.states[f].enumerated > 0) expect(w.states[f].checked, f).toBeGreaterThan(0);
      expect(report.failures, formatReport(report)).toEqual([]);
      expect(report.violationsByKind).toEqual({});
    });
  }
});
