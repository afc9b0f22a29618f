// Crash at every device write and flush of waves of concurrent proposals and checkpoints,
// with the unflushed writes lost, kept, kept in a seeded subset, or torn at a sector
// boundary (kernel/machine/disk/faulty.ts). After every crash, recovery must yield
// exactly a prefix of the transactions the writer committed, in order and whole, that
// prefix must hold every transaction acknowledged before the crash, the chain must
// verify, and the next append must continue the chain over the torn tail.
import { describe, expect, it } from 'vitest';
import { FaultyBackend, imageAt, type CrashMode } from '../../kernel/machine/disk/faulty.ts';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { describeCrashMode } from '../../kernel/machine/disk/write-log.ts';
import { AxiomLog, type AxiomOptions, type CommittedTransaction } from '../../axiom/log.ts';
import { DiskLogDevice } from '../../axiom/disk-device.ts';
import { AXIOM_BLOCK_SIZE_BYTES, frameFootprintBytes } from '../../axiom/limits.ts';
import { prepareRecord, rec } from '../../axiom/records.ts';
import { freshLog, replay, taggedTxn } from './helpers.ts';

const FIRST_BLOCK = 3; // the region does not start at block 0 of the disk
const REGION_BLOCKS = 40;
const DISK_BYTES = (FIRST_BLOCK + REGION_BLOCKS + 2) * AXIOM_BLOCK_SIZE_BYTES;
const OPTIONS: AxiomOptions = { batchSizeBytesMax: 12 * 1024 };

interface Reference {
  /** Every committed transaction of the run, by txid. */
  byTxid: Map<number, CommittedTransaction>;
  /** Disk-log length when each transaction's proposal was acknowledged. */
  ackedAtEntry: Map<number, number>;
  /** Checkpoint txids. */
  checkpoints: Set<number>;
}

async function runWorkload(backend: FaultyBackend): Promise<Reference> {
  const device = new DiskLogDevice(backend, FIRST_BLOCK, REGION_BLOCKS);
  await AxiomLog.format(device, { logId: new Uint8Array(16).fill(3), checkpointImageSizeBytesMax: 1024 });
  backend.resetLog(); // the formatted image is the base every crash state is rebuilt from
  const log = await AxiomLog.open(device, OPTIONS);
  const ref: Reference = { byTxid: new Map(), ackedAtEntry: new Map(), checkpoints: new Set() };
  log.subscribe((txns) => {
    for (const t of txns) {
      ref.byTxid.set(t.txid, t);
      ref.ackedAtEntry.set(t.txid, backend.log.length);
      if (t.records[0].type === 'Checkpoint') ref.checkpoints.add(t.txid);
    }
  });
  const ringSizeBytes = log.stats().ringSizeBytes;
  let tag = 0;
  for (let wave = 0; log.stats().tailPos < 1.6 * ringSizeBytes; wave++) {
    const work: Promise<unknown>[] = [];
    if (wave % 2 === 1) work.push(log.checkpoint({ wave }));
    for (let i = 0; i < 12 + (wave % 3) * 8; i++) {
      tag++;
      work.push(log.propose(taggedTxn(tag, 1 + (tag % 4), (tag * 37) % 200)));
    }
    const results = await Promise.allSettled(work);
    for (const r of results) if (r.status === 'rejected') expect((r.reason as { code: string }).code).toBe('NOSPC');
    expect(wave).toBeLessThan(100);
  }
  expect(await log.verify()).toMatchObject({ ok: true });
  await log.close();
  return ref;
}

async function checkRecovery(image: Uint8Array, ref: Reference, entryCount: number, what: string): Promise<void> {
  const device = new DiskLogDevice(new MemoryBackend(image), FIRST_BLOCK, REGION_BLOCKS);
  const log = await AxiomLog.open(device, OPTIONS);
  const committedSeq = log.committedSeq;
  // Every transaction acknowledged before the crash is there.
  for (const [txid, at] of ref.ackedAtEntry) {
    if (at <= entryCount) expect(ref.byTxid.get(txid)!.commitSeq, `${what}: acknowledged txn ${txid}`).toBeLessThanOrEqual(committedSeq);
  }
  // Recovery starts at a real checkpoint (or the beginning) and ends on a commit boundary of the run.
  expect(log.startSeq === 1 || ref.checkpoints.has(log.startSeq), `${what}: start ${log.startSeq}`).toBe(true);
  const expected = [...ref.byTxid.values()].filter((t) => t.txid >= log.startSeq && t.commitSeq <= committedSeq).sort((a, b) => a.txid - b.txid);
  const recovered = await replay(log);
  expect(recovered, `${what}: recovered is exactly a prefix of the run`).toEqual(expected);
  if (committedSeq >= log.startSeq) expect(recovered.at(-1)!.commitSeq, `${what}: ends on a commit`).toBe(committedSeq);
  expect(await log.verify(), what).toMatchObject({ ok: true });
  // The chain continues over the torn tail, and survives another reopen.
  const receipt = await log.propose(taggedTxn(1_000_000, 2));
  expect(receipt.firstSeq).toBe(committedSeq + 1);
  await log.close();
  const again = await AxiomLog.open(device, OPTIONS);
  expect(again.committedSeq, what).toBe(receipt.commitSeq);
  expect((await replay(again)).at(-1)!.txid, what).toBe(receipt.txid);
  expect(await again.verify(), what).toMatchObject({ ok: true });
}

describe('crash at every write', () => {
  it('recovers a prefix holding every acknowledged transaction, for every crash point and loss mode', async () => {
    const backend = new FaultyBackend(DISK_BYTES);
    const ref = await runWorkload(backend);
    const log = backend.log;
    const base = backend.logBase();
    expect(ref.checkpoints.size).toBeGreaterThanOrEqual(3);
    expect(log.filter((e) => e.kind === 'write').length).toBeGreaterThan(20);
    let crashes = 0;
    for (let entryCount = 0; entryCount <= log.length; entryCount++) {
      const previous = log[entryCount - 1];
      if (entryCount > 0 && previous.kind !== 'write' && previous.kind !== 'flush') continue;
      const modes: CrashMode[] = ['lose-all', 'keep-all', { subset: entryCount }, { subset: entryCount + 7919 }, { torn: entryCount }, { torn: entryCount + 104729 }];
      for (const mode of modes) {
        const what = `crash after ${entryCount} of ${log.length} disk-log entries, ${describeCrashMode(mode)}`;
        await checkRecovery(imageAt(base, log, { entryCount, mode }), ref, entryCount, what);
        crashes++;
      }
    }
    expect(crashes).toBeGreaterThan(100);
  });

  it('reads a bit flipped by the device as corruption, never as data', async () => {
    const backend = new FaultyBackend(DISK_BYTES);
    const device = new DiskLogDevice(backend, FIRST_BLOCK, REGION_BLOCKS);
    await AxiomLog.format(device, { logId: new Uint8Array(16).fill(3), checkpointImageSizeBytesMax: 1024 });
    const log = await AxiomLog.open(device, OPTIONS);
    for (let i = 1; i <= 10; i++) await log.propose(taggedTxn(i, 2, 40));
    const firstRingSector = ((FIRST_BLOCK + 2) * AXIOM_BLOCK_SIZE_BYTES) / 512;
    backend.flipBitOnRead(firstRingSector + 1, 77);
    await expect(log.read(1)).rejects.toMatchObject({ code: 'CORRUPT' });
    expect(await log.verify()).toMatchObject({ ok: false });
    backend.clearFaults();
    expect(await log.verify()).toMatchObject({ ok: true });
  });

  it('stops with EIO on a medium error and recovers what was durable', async () => {
    const backend = new FaultyBackend(DISK_BYTES);
    const device = new DiskLogDevice(backend, FIRST_BLOCK, REGION_BLOCKS);
    await AxiomLog.format(device, { logId: new Uint8Array(16).fill(3), checkpointImageSizeBytesMax: 1024 });
    const log = await AxiomLog.open(device, OPTIONS);
    await log.propose(taggedTxn(1));
    backend.failSectors([((FIRST_BLOCK + 2) * AXIOM_BLOCK_SIZE_BYTES) / 512], { reads: false });
    const results = await Promise.allSettled([2, 3].map((t) => log.propose(taggedTxn(t))));
    expect(results.map((r) => r.status === 'rejected' && (r.reason as { code: string }).code)).toEqual(['EIO', 'EIO']);
    backend.clearFaults();
    backend.crash('lose-all');
    const again = await AxiomLog.open(device, OPTIONS);
    expect((await replay(again)).map((t) => t.records[0].type === 'FileCreate' && t.records[0].payload.ino)).toEqual([1]);
  });

  it('never resurrects debris of a tail that an earlier recovery cut off', async () => {
    // Session 1 writes T2 = [A, B]; a crash loses the sector holding A's header, so recovery
    // cuts T2. Session 2 writes T3 = [A, X], A byte-for-byte the same payload at the same seq;
    // a crash keeps only the sectors before B's. On disk: A (new), B and T2's Commit (old).
    // B must not chain after the new A (the epoch differs), so T2 must not come back.
    const chunks = Array.from({ length: 12 }, (_, i) => ({ hash: new Uint8Array(32).fill(i), offsetBytes: i * 4096, lengthBytes: 4096 }));
    const a = rec('Write', { ino: 2, offsetBytes: 0, lengthBytes: 12 * 4096, chunks });
    const ringByte = (pos: number) => 2 * AXIOM_BLOCK_SIZE_BYTES + pos;
    const { device, log } = await freshLog(64);
    const t1 = await log.propose(taggedTxn(1));
    const posA = log.stats().tailPos;
    await log.propose([a, rec('Unlink', { parentIno: 1, name: 'old-b', timeMs: 1 })]);
    await log.close();
    const session1 = device.bytes.slice();
    device.bytes.fill(0, ringByte(posA), Math.ceil(ringByte(posA) / 512) * 512 + 512); // A's first sector(s) revert to zeros

    const log2 = await AxiomLog.open(device);
    expect(log2.committedSeq).toBe(t1.commitSeq);
    await log2.propose([a, rec('Unlink', { parentIno: 1, name: 'new-x', timeMs: 2 })]);
    await log2.close();
    const posB = posA + frameFootprintBytes(prepareRecord(a).payloadBytes.length);
    const sectorOfB = Math.floor(ringByte(posB) / 512) * 512;
    device.bytes.set(session1.subarray(sectorOfB), sectorOfB); // only the sectors before B's landed

    const log3 = await AxiomLog.open(device);
    expect(log3.committedSeq).toBe(t1.commitSeq);
    expect((await replay(log3)).map((t) => t.txid)).toEqual([t1.txid]);
    expect(log3.recovery.stop).toMatchObject({ seq: t1.commitSeq + 2, reason: 'chain' });
    expect(await log3.verify()).toMatchObject({ ok: true });
  });
});
