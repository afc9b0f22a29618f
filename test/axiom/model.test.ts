// Property: Axiom against a list-of-transactions model with crashes (see model.ts).
// Seeded, so a run is reproducible: AXIOM_MODEL_SEED=<n> replays another; a failure
// prints fast-check's seed and path. model.slow.test.ts runs many more and longer runs.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cmdArb, modelStats, runModel } from './model.ts';

const seed = Number(process.env.AXIOM_MODEL_SEED ?? 40_441);

describe('Axiom against a list-of-transactions model', () => {
  it(`agrees through waves, checkpoints, reopens and crashes at any device operation (seed ${seed})`, async () => {
    await fc.assert(fc.asyncProperty(fc.array(cmdArb, { minLength: 4, maxLength: 30 }), runModel), { numRuns: 60, seed });
    // The runs must have exercised what they claim to (a run without crashes proves little).
    expect(modelStats.crashes).toBeGreaterThan(20);
    expect(modelStats.nospc).toBeGreaterThan(0);
    expect(modelStats.laps).toBeGreaterThanOrEqual(1);
  });
});
