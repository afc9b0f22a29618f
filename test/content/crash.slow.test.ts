// The slow crash sweep: power lost after every device write or flush of the workload in
// test/content/crash.ts, each with a seeded subset of the unflushed writes kept and with a
// torn write (and lose-all on every third point), then recovery checked.
import { describe, expect, it } from 'vitest';
import { FaultyBackend, type CrashMode } from '../../kernel/machine/disk/faulty.ts';
import { formattedMemory } from './stack.ts';
import { crashAndCheck, runUntil } from './crash.ts';

describe('content store crash sweep', () => {
  it('recovers after power loss at every device operation of the workload', async () => {
    const seed = Number(process.env.CONTENT_CRASH_SEED ?? 1);
    const dry = await runUntil(new FaultyBackend(formattedMemory().bytes), -1, seed);
    const phases = new Set<string>();
    for (let k = 1; k <= dry.ops; k++) {
      const modes: CrashMode[] = [{ subset: k }, { torn: k }];
      if (k % 3 === 0) modes.push('lose-all');
      for (const mode of modes) phases.add(await crashAndCheck(k, mode, seed));
    }
    expect([...phases]).toEqual(expect.arrayContaining(['put', 'refs', 'gc', 'checkpoint']));
    console.log(`content crash sweep: ${dry.ops} crash points x 2-3 modes, seed ${seed} (CONTENT_CRASH_SEED replays)`);
  });
});
