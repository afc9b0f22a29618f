// Journal: commit/replay round trips, crash at every device write (lost, kept, subset,
// torn) with all-or-nothing and acknowledged-means-present checks, crash during replay,
// wrap-around with checkpoints, corrupted descriptors and commit records, device failure.
import { describe, expect, it } from 'vitest';
import { FaultyBackend, imageAt, type CrashMode } from '../../kernel/machine/disk/faulty.ts';
import { backendDevice } from '../../services/block/device.ts';
import { Journal } from '../../services/block/journal.ts';
import { FormatError, journalLog, transactionLengthBlocks } from '../../services/block/format/index.ts';
import { ServiceError } from '../../kernel/errors.ts';
import { B, SEED, blockAt, formattedFaulty, isTagged, memoryDevice, tagged } from './helpers.ts';
import { planTransactions, presence, sweep } from './crash-harness.ts';

describe('Journal', () => {
  it('commits, survives a power cut after the reply, and replays on open', async () => {
    const { disk, layout } = formattedFaulty();
    const { journal, replay } = await Journal.open(backendDevice(disk), layout, SEED);
    expect(replay.transactions).toBe(0);
    const [tx] = planTransactions(layout, [256]); // two descriptors
    const seq = await journal.commit(tx.blocks.map((b, k) => ({ blockIndex: b, data: tagged(tx.tag, k) })));
    expect(seq).toBe(1);
    expect(journal.hasLive(tx.blocks[0])).toBe(true);
    expect(isTagged(journal.pendingImage(tx.blocks[5])!, tx.tag, 5)).toBe(true);
    disk.crash('lose-all');
    expect(presence(disk.snapshotDurable(), tx)).toBe('none'); // not checkpointed: only in the log
    const again = await Journal.open(backendDevice(disk), layout, SEED);
    expect(again.replay.transactions).toBe(1);
    expect(again.replay.blocks).toBe(256);
    expect(presence(disk.snapshotVolatile(), tx)).toBe('all');
    disk.crash('lose-all');
    expect(presence(disk.snapshotDurable(), tx)).toBe('all'); // replay flushed
    const third = await Journal.open(backendDevice(disk), layout, SEED);
    expect(third.replay.transactions).toBe(0); // the epoch moved on: nothing replays twice
  });

  it('refuses transactions over the limit and images of the journal region', async () => {
    const { disk, layout } = formattedFaulty();
    const { journal } = await Journal.open(backendDevice(disk), layout, SEED);
    const big = [...Array(257).keys()].map((k) => ({ blockIndex: layout.data.blockIndex + k, data: tagged(1, k) }));
    await expect(journal.commit(big)).rejects.toMatchObject({ code: 'TOOBIG' });
    expect(() => journal.commit([{ blockIndex: layout.journal.blockIndex + 5, data: tagged(1, 1) }])).toThrow(/invariant/);
  });

  it('keeps every transaction all-or-nothing when power fails after any device write', async () => {
    const modes = (k: number): CrashMode[] => ['lose-all', 'keep-all', { subset: k + 1 }, { subset: 7 * k + 3 }, { torn: k + 1 }, { torn: 5 * k + 11 }];
    // One group-committed batch of several transactions (one of them two descriptors long), then more batches.
    const { images, entries } = await sweep([[3, 256, 1, 8], [64], [2, 2, 2], [100]], modes);
    expect(entries).toBeGreaterThan(10);
    expect(images).toBeGreaterThanOrEqual((entries + 1) * 6);
  });

  it('wraps around the log and checkpoints, crash-safe at every step', async () => {
    // ~3.5 laps of the 1022-block log.
    const groups: number[][] = [];
    for (let i = 0; i < 14; i++) groups.push(i % 3 === 0 ? [200, 40] : [120]);
    const modes = (k: number): CrashMode[] => ['lose-all', { torn: k + 1 }, { subset: k + 1 }];
    const { entries } = await sweep(groups, modes, { stride: 3 });
    expect(entries).toBeGreaterThan(40);
  });

  it('keeps transactions all-or-nothing when the device persists the blocks of one request in any order', async () => {
    // Every block its own device write, so 'subset' crashes keep arbitrary blocks of a batch (a commit without its data, ...).
    const modes = (k: number): CrashMode[] => [{ subset: k + 1 }, { subset: 3 * k + 5 }, { torn: k + 1 }];
    const { entries } = await sweep([[3, 256, 1], [8, 8]], modes, { stride: 4, splitWrites: true });
    expect(entries).toBeGreaterThan(280);
  });

  it('replays idempotently when power fails during replay', async () => {
    const { disk, layout } = formattedFaulty();
    const { journal } = await Journal.open(backendDevice(disk), layout, SEED);
    const plan = planTransactions(layout, [5, 250, 30, 1]);
    for (const tx of plan) await journal.commit(tx.blocks.map((b, k) => ({ blockIndex: b, data: tagged(tx.tag, k) })));
    disk.crash('lose-all');
    const crashed = disk.snapshotDurable();
    for (const tx of plan) expect(presence(crashed, tx)).toBe('none');
    // Record one replay, then cut power at every point of it and replay again.
    const replaying = new FaultyBackend(crashed);
    await Journal.open(backendDevice(replaying), layout, SEED);
    const log = replaying.log;
    for (let k = 0; k <= log.length; k++) {
      for (const mode of ['lose-all', 'keep-all', { torn: k + 1 }, { subset: k + 1 }] as CrashMode[]) {
        const image = imageAt(crashed, log, { entryCount: k, mode });
        const { disk: second, dev } = memoryDevice(image);
        await Journal.open(dev, layout, SEED);
        for (const tx of plan) expect(presence(second.bytes, tx), `replay cut after ${k}, ${JSON.stringify(mode)}`).toBe('all');
      }
    }
  });

  it('reports a damaged committed transaction followed by an intact one as corruption', async () => {
    const { disk, layout } = formattedFaulty();
    const { journal } = await Journal.open(backendDevice(disk), layout, SEED);
    const plan = planTransactions(layout, [4, 4, 4]);
    for (const tx of plan) await journal.commit(tx.blocks.map((b, k) => ({ blockIndex: b, data: tagged(tx.tag, k) })));
    disk.crash('lose-all');
    const log = journalLog(layout);
    const len = transactionLengthBlocks(4);
    const image = disk.snapshotDurable();
    const corrupt = (position: number, byte: number) => {
      const copy = image.slice();
      copy[(log.blockIndex + position) * B + byte] ^= 0x10;
      return copy;
    };
    const openOn = (img: Uint8Array) => Journal.open(memoryDevice(img).dev, layout, SEED);
    // Descriptor of the second transaction: it was flushed before the third's batch was written.
    const e1 = await openOn(corrupt(len, 40)).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(FormatError);
    expect((e1 as FormatError).message).toMatch(/transaction 2\b.*damaged.*transaction 3/s);
    // A data block of the second transaction.
    expect(await openOn(corrupt(len + 2, 100)).catch((e: unknown) => e)).toBeInstanceOf(FormatError);
    // The commit record of the second: wrong checksum.
    expect(await openOn(corrupt(2 * len - 1, 36)).catch((e: unknown) => e)).toBeInstanceOf(FormatError);
    // The commit record of the last transaction is indistinguishable from a torn tail: replay stops before it.
    const { disk: d2, dev } = memoryDevice(corrupt(3 * len - 1, 36));
    const { replay } = await Journal.open(dev, layout, SEED);
    expect(replay.transactions).toBe(2);
    expect(replay.stop.reason).toBe('damaged');
    expect(plan.map((tx) => presence(d2.bytes, tx))).toEqual(['all', 'all', 'none']);
  });

  it('fails closed after a device error: the failed commit is IOERR, later ones FAILED', async () => {
    const { disk, layout } = formattedFaulty();
    const { journal } = await Journal.open(backendDevice(disk), layout, SEED);
    const log = journalLog(layout);
    disk.failSectors([log.blockIndex * 8 + 3], { reads: false });
    const err = await journal.commit([{ blockIndex: layout.data.blockIndex, data: tagged(1, 0) }]).catch((e: unknown) => e);
    expect((err as ServiceError).code).toBe('IOERR');
    expect(journal.failed?.code).toBe('FAILED');
    await expect(journal.commit([{ blockIndex: layout.data.blockIndex, data: tagged(1, 0) }])).rejects.toMatchObject({ code: 'FAILED' });
  });

  it('checkpoints in the background and frees log space', async () => {
    const { disk, layout } = formattedFaulty();
    const { journal } = await Journal.open(backendDevice(disk), layout, SEED);
    const [tx] = planTransactions(layout, [200]);
    for (let round = 0; round < 10; round++) await journal.commit(tx.blocks.map((b, k) => ({ blockIndex: b, data: tagged(round, k) })));
    await journal.checkpoint();
    const s = journal.stats();
    expect(s.checkpoints).toBeGreaterThan(1);
    expect(s.usedBlocks).toBe(0);
    expect(journal.hasLive(tx.blocks[0])).toBe(false);
    disk.crash('lose-all');
    const image = disk.snapshotDurable();
    expect(isTagged(blockAt(image, tx.blocks[7]), 9, 7)).toBe(true);
  });
});
