// The virtio-blk driver suite (test/driver/suite.ts) under the deterministic kernel: one
// thread, seeded, so it also checks that a seed replays the same trace. The isolated
// kernel runs the same suite in test/isolated/driver-isolated.test.ts.
import { bootTestSystem } from '../helpers/stack.ts';
import { driverSuite, type KernelMode, type SuiteBootOptions } from './suite.ts';

export const deterministicMode: KernelMode = {
  name: 'deterministic',
  boot: (o: SuiteBootOptions = {}) => bootTestSystem({ ...o, upTo: 'driver' } as Parameters<typeof bootTestSystem>[0]),
  spawnRogue: async (sys, base) => {
    await sys.kernel.spawn({ name: 'rogue', provides: [], calls: [], service: { start: (ctx) => (ctx.mmio(base), {}) } });
  },
  modelRuns: 25,
};

driverSuite(deterministicMode);
