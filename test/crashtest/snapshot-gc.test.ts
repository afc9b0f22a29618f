// Regression: a gc after a snapshot delete swept the snapshot's tree objects while its
// FsSnapshotCreate was still after the last checkpoint, so a crash before the next
// checkpoint left a filesystem that could not mount ("content: no chunk ..." while
// replaying the create). services/fs now checkpoints before gc. Every flush state of
// dedup-gc (snapshot create, unlink, gc, snapshot delete, gc) must recover.
import { describe, expect, it } from 'vitest';
import { findWorkload } from '../../tools/crashtest/workloads.ts';
import { runCrashtest } from '../../tools/crashtest/run.ts';
import { formatReport } from '../../tools/crashtest/report.ts';

describe('crashtest: snapshots and gc', () => {
  it('dedup-gc: every flush state recovers, snapshot data intact after gc', async () => {
    const report = await runCrashtest({ workloads: [findWorkload('dedup-gc')!], seed: 1, opCount: 12, families: ['flush'] });
    expect(report.workloads[0].recordError).toBeUndefined();
    expect(report.statesChecked).toBeGreaterThan(30);
    expect(report.failures, formatReport(report)).toEqual([]);
  });
});
