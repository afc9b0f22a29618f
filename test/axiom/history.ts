// A long history through a small region: many wraps of the ring and many checkpoints,
// with the chain checked to be unbroken from genesis across every checkpoint (each
// segment is verified before the checkpoint that reclaims it, and the anchor must carry
// exactly the hash of the record before the checkpoint). The reference system's log
// dropped records past 100,000 and then failed its own chain check; callers of this
// run it past that point.
import { expect } from 'vitest';
import { AxiomLog } from '../../axiom/log.ts';
import { genesisHash, nobleBlake3 } from '../../axiom/chain.ts';
import { freshLog, replay, taggedTxn, tagOf } from './helpers.ts';

export async function runLongHistory(recordTarget: number, regionBlocks = 256): Promise<{ checkpoints: number; laps: number; committedSeq: number }> {
  const { device, log } = await freshLog(regionBlocks);
  expect(log.anchorInfo().startPrevHash).toEqual(genesisHash(log.anchorInfo().logId, nobleBlake3));
  let tag = 0;
  let checkpoints = 0;
  let live: number[] = [];
  while (log.committedSeq < recordTarget) {
    const tags = Array.from({ length: 64 }, () => ++tag);
    const results = await Promise.allSettled(tags.map((t) => log.propose(taggedTxn(t, 2, t % 64))));
    const refused: number[] = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') live.push(tags[i]);
      else {
        expect((r.reason as { code: string }).code).toBe('NOSPC');
        refused.push(tags[i]);
      }
    });
    if (refused.length === 0) continue;
    // Full: verify the live segment, then checkpoint and check the chain hash carried across.
    expect(await log.verify()).toMatchObject({ ok: true, committedSeq: log.committedSeq });
    const before = (await log.read(log.committedSeq, 1))[0];
    const cp = await log.checkpoint({ checkpoint: checkpoints, lastTag: live.at(-1) ?? null });
    expect(cp.firstSeq).toBe(before.seq + 1);
    expect(log.anchorInfo()).toMatchObject({ startSeq: cp.firstSeq, checkpointSeq: cp.firstSeq, startPrevHash: before.hash });
    checkpoints++;
    live = [];
    for (const t of refused) {
      await log.propose(taggedTxn(t, 2, t % 64));
      live.push(t);
    }
  }
  const { tailPos, ringSizeBytes } = log.stats();
  const committedSeq = log.committedSeq;
  expect(await log.verify()).toMatchObject({ ok: true });
  await log.close();

  const again = await AxiomLog.open(device);
  expect(again.committedSeq).toBe(committedSeq);
  const txns = await replay(again);
  expect(txns[0].records[0]).toMatchObject({ type: 'Checkpoint', payload: { image: { checkpoint: checkpoints - 1 } } });
  expect(txns.slice(1).map(tagOf)).toEqual(live);
  expect(await again.verify()).toMatchObject({ ok: true });
  const next = await again.propose(taggedTxn(tag + 1));
  expect(next.firstSeq).toBe(committedSeq + 1);
  return { checkpoints, laps: Math.floor(tailPos / ringSizeBytes), committedSeq };
}
