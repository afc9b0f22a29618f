// The crash-consistency contract for the filesystem over the whole stack: power cut at
// chosen device writes (lost, subset and torn unflushed writes), recovery by a fresh boot,
// and the recovered tree must be the model's after the acknowledged prefix (or one more).
import { describe, it } from 'vitest';
import { Random } from '../../kernel/random.ts';
import type { CrashMode } from '../../kernel/machine/disk/faulty.ts';
import { checkCrash, recordRun } from './crash-check.ts';

describe('fs crash consistency', () => {
  for (const seed of [1, 2]) {
    it(`recovers a prefix of the acknowledged operations (workload seed ${seed})`, async () => {
      const run = await recordRun(seed, 25);
      const r = new Random(seed * 7919);
      const modes: CrashMode[] = ['lose-all', { subset: r.u32() }, { torn: r.u32() }, 'keep-all'];
      // Every flush boundary is where durability changes; add random points between them.
      const points = new Set<number>([0, run.log.length]);
      run.log.forEach((e, i) => e.kind === 'flush' && points.add(i + 1));
      const flushPoints = [...points];
      const chosen = new Set<number>();
      while (chosen.size < Math.min(12, flushPoints.length)) chosen.add(flushPoints[r.below(flushPoints.length)]);
      for (let i = 0; i < 6; i++) chosen.add(r.below(run.log.length + 1));
      for (const entryCount of chosen) await checkCrash(run, entryCount, modes[r.below(modes.length)]);
    });
  }
});
