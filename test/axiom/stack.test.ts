// Axiom on the real stack: machine -> virtio-blk driver -> block service -> Axiom
// service, its region found through the block protocol (axiom/block-device.ts). Commits
// survive a reboot, and a power cut in the middle of a wave of concurrent proposals
// keeps every acknowledged transaction, whole, with the chain verifying.
import { afterEach, describe, expect, it } from 'vitest';
import { bootTestSystem } from '../helpers/stack.ts';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { FaultyBackend } from '../../kernel/machine/disk/faulty.ts';
import type { DiskBackend } from '../../kernel/machine/disk/backend.ts';
import type { System } from '../../tools/system.ts';
import { formatImage } from '../../services/block/format/image.ts';
import { blockManifest } from '../../services/block/service.ts';
import { BLOCK_ENDPOINT, BlockClient } from '../../services/block/protocol.ts';
import { AXIOM_ENDPOINT, AxiomClient, type CommitReceipt } from '../../axiom/protocol.ts';
import { axiomManifest } from '../../axiom/service.ts';
import { blockLogDevice } from '../../axiom/block-device.ts';
import { taggedTxn } from './helpers.ts';

const MiB = 1024 * 1024;
const systems: System[] = [];
afterEach(async () => {
  for (const s of systems.splice(0)) await s.kernel.shutdown().catch(() => undefined);
});

function formattedDisk(): MemoryBackend {
  const disk = new MemoryBackend(32 * MiB);
  formatImage((blockIndex, data) => disk.write(blockIndex * 4096, data), disk.sizeBytes, { uuid: Uint8Array.from({ length: 16 }, (_, i) => i + 1) });
  disk.flush();
  return disk;
}

async function boot(disk: DiskBackend, seed = 1) {
  const sys = await bootTestSystem({ disk, seed, userCalls: [AXIOM_ENDPOINT, BLOCK_ENDPOINT] });
  systems.push(sys);
  await sys.kernel.spawn(blockManifest({ background: false }));
  await sys.kernel.spawn(axiomManifest({ device: (ctx) => blockLogDevice(new BlockClient(ctx)), formatIfEmpty: true, checkpointImageSizeBytesMax: 64 * 1024 }, { calls: [BLOCK_ENDPOINT] }));
  return { sys, axiom: new AxiomClient(sys.user) };
}

describe('axiom over the block service', () => {
  it('commits through the block service and recovers after a reboot', async () => {
    const disk = formattedDisk();
    const first = await boot(disk);
    const info = await new BlockClient(first.sys.user).info();
    expect(info.regions.axiom.blockCount).toBeGreaterThan(8);
    const receipts = await Promise.all(Array.from({ length: 20 }, (_, i) => first.axiom.propose(taggedTxn(i + 1, 2))));
    await first.axiom.checkpoint({ root: 'after-20' });
    await first.axiom.propose(taggedTxn(21));
    const stats = await first.axiom.stats();
    expect(stats.batches).toBeLessThan(20); // concurrent proposals shared flushes
    await first.sys.kernel.shutdown();

    const second = await boot(disk, 2);
    const again = await second.axiom.info();
    expect(again).toMatchObject({ committedSeq: stats.committedSeq, checkpointSeq: receipts.at(-1)!.commitSeq + 1, epoch: 2 });
    expect(await second.axiom.checkpointImage()).toMatchObject({ image: { root: 'after-20' } });
    expect(await second.axiom.verify()).toMatchObject({ ok: true });
  });

  it('keeps every acknowledged transaction across a power cut mid-wave', async () => {
    const disk = new FaultyBackend(formattedDisk().bytes);
    const first = await boot(disk);
    await first.axiom.propose(taggedTxn(1));
    const acked: CommitReceipt[] = [];
    const wave = Array.from({ length: 40 }, (_, i) => first.axiom.propose(taggedTxn(100 + i, 1 + (i % 3))).then((r) => void acked.push(r)));
    await Promise.race(wave);
    disk.close(); // power lost: nothing more reaches the disk
    disk.crash({ torn: 5 });
    await Promise.allSettled(wave);

    const second = await boot(disk, 3);
    const { committedSeq } = await second.axiom.info();
    for (const r of acked) expect(r.commitSeq).toBeLessThanOrEqual(committedSeq);
    const tags: number[] = [];
    for await (const t of second.axiom.follow(1, 0)) {
      const first = t.records[0];
      tags.push(first.type === 'FileCreate' ? first.payload.ino : -1);
      expect(t.records).toHaveLength(first.type === 'FileCreate' && first.payload.ino >= 100 ? 1 + ((first.payload.ino - 100) % 3) : 1);
      if (t.commitSeq === committedSeq) break;
    }
    expect(tags[0]).toBe(1);
    expect(new Set(tags).size).toBe(tags.length);
    expect(tags.length).toBeGreaterThanOrEqual(1 + acked.length);
    expect(await second.axiom.verify()).toMatchObject({ ok: true });
  });
});
