// Snapshots against their model (snapshot-check.ts) under random operations, over the
// engine with in-memory seams: restore equals the tree at snapshot time, diff equals the
// dumps' difference, remounts keep everything.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { memFs } from './mem-seams.ts';
import { RENAME_SETUP, renameOpArb, runSnapshotCheck, snapOpArb } from './snapshot-check.ts';

describe('snapshots against their model', () => {
  it('restore, diff, delete and remount agree with dumps taken at snapshot time', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(snapOpArb, { minLength: 10, maxLength: 50 }), async (script) => void (await runSnapshotCheck(memFs, script))),
      { numRuns: 60 },
    );
  });

  it('diff reports renamed-looking paths (files and directories) as the dumps pair them', async () => {
    let renamed = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(renameOpArb, { minLength: 10, maxLength: 40 }), async (script) => {
        renamed += (await runSnapshotCheck(memFs, [...RENAME_SETUP, ...script])).renamed;
      }),
      { numRuns: 60 },
    );
    expect(renamed).toBeGreaterThan(0); // the scripts did make renames for the diffs to find
  });
});
