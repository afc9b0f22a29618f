// History beyond 100,000 records through a 1 MiB region (see history.ts). The
// million-record run is in history.slow.test.ts.
import { describe, expect, it } from 'vitest';
import { runLongHistory } from './history.ts';

describe('long history', () => {
  it('keeps a verifiable chain past 100,000 records, across wraps and checkpoints', async () => {
    const { checkpoints, laps, committedSeq } = await runLongHistory(120_000);
    expect(committedSeq).toBeGreaterThan(120_000);
    expect(checkpoints).toBeGreaterThanOrEqual(5);
    expect(laps).toBeGreaterThanOrEqual(5);
  });
});
