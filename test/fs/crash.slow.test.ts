// A longer crash sweep for the filesystem: more workloads, every flush boundary and many
// points between them, every loss mode (run by `npm run test:slow`, which CI runs).
import { describe, it } from 'vitest';
import { Random } from '../../kernel/random.ts';
import type { CrashMode } from '../../kernel/machine/disk/faulty.ts';
import { checkCrash, recordRun } from './crash-check.ts';

describe('fs crash consistency (long)', () => {
  for (let seed = 10; seed < 22; seed++) {
    it(`workload seed ${seed}: every flush boundary and 20 points between, all loss modes`, async () => {
      const run = await recordRun(seed, 40);
      const r = new Random(seed * 104729);
      const points = new Set<number>([0, run.log.length]);
      run.log.forEach((e, i) => e.kind === 'flush' && points.add(i + 1));
      for (let i = 0; i < 20; i++) points.add(r.below(run.log.length + 1));
      for (const entryCount of points) {
        const modes: CrashMode[] = ['lose-all', { subset: r.u32() }, { torn: r.u32() }];
        await checkCrash(run, entryCount, modes[r.below(modes.length)]);
      }
    });
  }
});
