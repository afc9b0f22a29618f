// Crash tests on the faulty backend through the whole stack: power is lost after the
// k-th device write or flush of a workload of puts, refs/unrefs and gc (test/content/
// crash.ts), the disk crashes (lose-all, a seeded subset kept, or a torn write), and the
// rebooted store must hold every committed reference, read every chunk back exactly,
// and leak no block. The slow suite sweeps every k; this one samples each phase.
import { describe, expect, it } from 'vitest';
import { FaultyBackend, type CrashMode } from '../../kernel/machine/disk/faulty.ts';
import { formattedMemory } from './stack.ts';
import { crashAndCheck, runUntil } from './crash.ts';

describe('content store crash recovery', () => {
  it('the workload runs to the end without a crash, and the dry run is deterministic', async () => {
    const a = await runUntil(new FaultyBackend(formattedMemory().bytes), -1, 1);
    const b = await runUntil(new FaultyBackend(formattedMemory().bytes), -1, 1);
    expect(a.t.phase).toBe('done');
    expect(a.ops).toBe(b.ops);
    expect(a.phaseStarts).toEqual(b.phaseStarts);
    expect(a.phaseStarts.refs).toBeGreaterThan(a.phaseStarts.put);
    expect(a.phaseStarts.gc).toBeGreaterThan(a.phaseStarts.refs);
    expect(a.phaseStarts.checkpoint).toBeGreaterThan(a.phaseStarts.gc);
  });

  it('recovers a consistent store after power loss during put, ref/unref and gc', async () => {
    const dry = await runUntil(new FaultyBackend(formattedMemory().bytes), -1, 1);
    const { put, refs, gc, checkpoint } = dry.phaseStarts;
    const points = new Set<number>();
    for (const [from, to] of [[put, refs], [refs, gc], [gc, checkpoint], [checkpoint, dry.ops]]) {
      for (let i = 1; i <= 4; i++) points.add(from + Math.max(1, Math.round(((to - from) * i) / 5)));
    }
    const modes: CrashMode[] = ['lose-all', { subset: 3 }, { torn: 5 }];
    const phases = new Set<string>();
    let n = 0;
    for (const k of [...points].sort((a, b) => a - b)) phases.add(await crashAndCheck(k, modes[n++ % modes.length], 1));
    expect([...phases]).toEqual(expect.arrayContaining(['put', 'refs', 'gc', 'checkpoint']));
  });
});
