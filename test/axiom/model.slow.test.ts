// The model property of model.test.ts, with many more and longer runs.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cmdArb, modelStats, runModel } from './model.ts';

const seed = Number(process.env.AXIOM_MODEL_SEED ?? 7_919);

describe('Axiom against a list-of-transactions model (slow)', () => {
  it(`agrees over 2,000 runs of up to 80 steps (seed ${seed})`, async () => {
    await fc.assert(fc.asyncProperty(fc.array(cmdArb, { minLength: 10, maxLength: 80 }), runModel), { numRuns: 2_000, seed });
    expect(modelStats.crashes).toBeGreaterThan(1_000);
    expect(modelStats.laps).toBeGreaterThanOrEqual(2);
  });
});
