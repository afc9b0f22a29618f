// The isolated kernel as the shared driver suite (test/driver/suite.ts) sees it: how it
// boots the system (kernel/isolated/boot.ts's bootIsolated) and how it spawns a service
// that tries to map a device it holds no capability for. The deterministic mode is in
// test/driver/driver.test.ts.
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { bootIsolated, type IsolatedSystem } from '../../kernel/isolated/boot.ts';
import { MiB } from '../helpers/stack.ts';
import { fixture } from './helpers.ts';
import type { KernelMode, SuiteBootOptions } from '../driver/suite.ts';

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
