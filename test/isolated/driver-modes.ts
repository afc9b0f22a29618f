// The two kernel modes as the shared driver suite sees them: how each boots the system
// (tools/system.ts's bootSystem, kernel/isolated/boot.ts's bootIsolated) and how each
// spawns a service that tries to map a device it holds no capability for.
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { bootIsolated, type IsolatedSystem } from '../../kernel/isolated/boot.ts';
import { bootTestSystem, MiB } from '../helpers/stack.ts';
import { fixture } from './helpers.ts';
import type { KernelMode, SuiteBootOptions } from './driver-suite.ts';

export const deterministicMode: KernelMode = {
  name: 'deterministic',
  boot: (o: SuiteBootOptions = {}) => bootTestSystem({ ...o, upTo: 'driver' } as Parameters<typeof bootTestSystem>[0]),
  spawnRogue: async (sys, base) => {
    await sys.kernel.spawn({ name: 'rogue', provides: [], calls: [], service: { start: (ctx) => (ctx.mmio(base), {}) } });
  },
  modelRuns: 25,
};

export const isolatedMode: KernelMode = {
  name: 'isolated',
  boot: (o: SuiteBootOptions = {}) =>
    bootIsolated({
      disk: o.disk ?? new MemoryBackend(o.sizeBytes ?? 16 * MiB),
      memorySizeBytes: 64 * MiB,
      seed: o.seed,
      trace: o.trace,
      withoutFlush: o.withoutFlush,
    }),
  spawnRogue: async (sys, base) => {
    await (sys as IsolatedSystem).isolated.spawn(fixture('rogueService', 'rogue', { provides: [], config: { base } }));
  },
  modelRuns: 8,
};
