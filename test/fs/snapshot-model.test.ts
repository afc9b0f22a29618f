// Snapshots against their model (snapshot-check.ts) under random operations, over the
// engine with in-memory seams: restore equals the tree at snapshot time, diff equals the
// dumps' difference, remounts keep everything.
import { describe, it } from 'vitest';
import fc from 'fast-check';
import { memFs } from './mem-seams.ts';
import { runSnapshotCheck, snapOpArb } from './snapshot-check.ts';

describe('snapshots against their model', () => {
  it('restore, diff, delete and remount agree with dumps taken at snapshot time', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(snapOpArb, { minLength: 10, maxLength: 50 }), (script) => runSnapshotCheck(memFs, script)),
      { numRuns: 60 },
    );
  });
});
