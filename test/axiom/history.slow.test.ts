// A history of more than a million records through a 1 MiB region: dozens of laps of
// the ring and checkpoints, the chain carried unbroken across all of them.
import { describe, expect, it } from 'vitest';
import { runLongHistory } from './history.ts';

describe('long history (slow)', () => {
  it('keeps a verifiable chain past 1,000,000 records', async () => {
    const { checkpoints, laps, committedSeq } = await runLongHistory(1_200_000);
    expect(committedSeq).toBeGreaterThan(1_200_000);
    expect(checkpoints).toBeGreaterThanOrEqual(50);
    expect(laps).toBeGreaterThanOrEqual(50);
  });
});
