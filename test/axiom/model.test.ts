// Property: Axiom against a list-of-transactions model with crashes (see model.ts).
// model.slow.test.ts runs the same property many more times.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cmdArb, modelStats, runModel } from './model.ts';

describe('Axiom against a list-of-transactions model', () => {
  it('agrees through waves, checkpoints, reopens and crashes at any device operation', async () => {
    await fc.assert(fc.asyncProperty(fc.array(cmdArb, { minLength: 4, maxLength: 30 }), runModel), { numRuns: 60 });
    // The runs must have exercised what they claim to (a run without crashes proves little).
    expect(modelStats.crashes).toBeGreaterThan(20);
    expect(modelStats.nospc).toBeGreaterThan(0);
    expect(modelStats.laps).toBeGreaterThanOrEqual(1);
  });
});
