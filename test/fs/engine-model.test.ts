// The engine (over in-memory seams) against the reference model under random operations,
// with remounts in the middle: same replies, same tree, before and after remount.
import { describe, it } from 'vitest';
import fc from 'fast-check';
import { memFs } from './mem-seams.ts';
import { modelOpArb, runModelCheck } from './model-check.ts';

describe('fs engine against the model', () => {
  it('agrees on every reply and on the final tree, across remounts', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(modelOpArb, { minLength: 20, maxLength: 60 }), (script) => runModelCheck(memFs, script)),
      { numRuns: 150 },
    );
  });
});
