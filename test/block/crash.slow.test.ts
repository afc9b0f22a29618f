// Slow crash sweeps: every device write of a long group-committed workload, on a device
// that persists each block separately, under six crash modes; plus several laps of the log.
import { describe, expect, it } from 'vitest';
import type { CrashMode } from '../../kernel/machine/disk/faulty.ts';
import { sweep } from './crash-harness.ts';

const sixModes = (k: number): CrashMode[] => ['lose-all', 'keep-all', { subset: k + 1 }, { subset: 7 * k + 3 }, { torn: k + 1 }, { torn: 5 * k + 11 }];

describe('journal crash sweeps (slow)', () => {
  it('every write of a block-by-block device, six modes', async () => {
    const { entries } = await sweep([[3, 256, 1, 8], [64], [2, 2, 2], [100, 1]], sixModes, { splitWrites: true });
    expect(entries).toBeGreaterThan(400);
  });
  it('every write across several laps of the log, six modes', async () => {
    const groups: number[][] = [];
    for (let i = 0; i < 20; i++) groups.push(i % 3 === 0 ? [150, 30, 1] : [100, 7]); // ~2.6k blocks: inside the data region, ~3.5 laps of the log
    const { entries } = await sweep(groups, sixModes);
    expect(entries).toBeGreaterThan(60);
  });
});
