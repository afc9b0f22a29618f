/**
 * Block service benchmark: the whole path (program -> kernel -> block service -> cache /
 * journal / scheduler -> driver -> virtio-blk device -> image file) against plain
 * node:fs on the same file in the same run. A program, not a service: it boots the system
 * the way `strata boot` does, so it may import the machine and the tools.
 *
 * Figures:
 *  - random 4 KiB reads at a 90% cache hit rate (QD1 and QD32), baseline: readSync of the
 *    same offsets (mostly the host page cache, as a warm kernel buffer cache would be);
 *  - sequential 1 MiB writes by grant through cache and scheduler, then flush, baseline:
 *    writeSync 1 MiB + fdatasync;
 *  - committed journal transactions/s of 1, 8 and 64 blocks (QD1: one FLUSH each; and 8
 *    blocks at 16 concurrent clients, where group commit shares FLUSHes), baseline: write
 *    the same blocks + fdatasync per transaction;
 *  - mount time with a full journal (replay of every transaction), baseline: readSync of
 *    the journal region.
 * The image at `imagePath` is created (replacing any file there) and removed at the end.
 */
import fs from 'node:fs';
import { FileBackend } from '../../kernel/machine/disk/file.ts';
import { Random } from '../../kernel/random.ts';
import { bootSystem, type System } from '../../tools/system.ts';
import { formatImage } from './format/image.ts';
import { BLOCK_ENDPOINT, BlockClient, type Extent } from './protocol.ts';
import { blockManifest } from './service.ts';
import { VIRTIO_BLK_ENDPOINT } from '../../drivers/virtio-blk/protocol.ts';
import { BLOCK_SIZE_BYTES as B } from './limits.ts';

import type { BenchRow } from '../../tools/bench/report.ts';
export type { BenchRow } from '../../tools/bench/report.ts';

const MiB = 1024 * 1024;
const GROUP = 'block';
const seconds = (t0: number) => (performance.now() - t0) / 1000;

async function boot(imagePath: string, background: boolean): Promise<{ sys: System; block: BlockClient; disk: FileBackend }> {
  const disk = FileBackend.open(imagePath);
  const sys = await bootSystem({ disk, seed: 1, upTo: 'driver', userCalls: [VIRTIO_BLK_ENDPOINT, BLOCK_ENDPOINT] });
  await sys.kernel.spawn(blockManifest({ background }));
  const block = new BlockClient(sys.user);
  await block.info(); // waits for the mount
  return { sys, block, disk };
}

export async function benchBlock(opts: { imagePath: string; quick: boolean }): Promise<BenchRow[]> {
  const imageSizeBytes = opts.quick ? 1024 * MiB : 4096 * MiB;
  const seqBytes = opts.quick ? 64 * MiB : 512 * MiB;
  const readOps = opts.quick ? 5_000 : 50_000;
  const txCount = opts.quick ? 100 : 500;
  fs.rmSync(opts.imagePath, { force: true });
  const file = FileBackend.open(opts.imagePath, { create: true, sizeBytes: imageSizeBytes });
  const rng = new Random(7);
  formatImage((blockIndex, data) => file.write(blockIndex * B, data), imageSizeBytes, { uuid: rng.fill(new Uint8Array(16)) });
  file.flush();
  file.close();
  const rows: BenchRow[] = [];
  const pattern = rng.fill(new Uint8Array(MiB));
  let sys: System | undefined;
  try {
    const booted = await boot(opts.imagePath, true);
    sys = booted.sys;
    const block = booted.block;
    const info = await block.info();
    const region = sys.user.memory.alloc(MiB + 32 * B);
    sys.user.memory.view(region).set(pattern);
    const grantId = sys.user.memory.grant(region, BLOCK_ENDPOINT, 'rw');

    // ---- sequential 1 MiB writes ----
    const seqExtents = await block.allocate(seqBytes / B, { contiguous: true });
    const seqStart = seqExtents[0].blockIndex;
    const rawSeq = rawSequentialWrite(opts.imagePath, seqStart * B, seqBytes, pattern);
    let t0 = performance.now();
    for (let off = 0; off < seqBytes; off += MiB) await block.writeFrom(seqStart + off / B, [{ grantId, offsetBytes: 0, lengthBytes: MiB }]);
    await block.flush();
    rows.push({ group: GROUP, name: 'seq write 1 MiB by grant + flush', unit: 'MB/s', value: seqBytes / MiB / seconds(t0), baseline: { name: 'node:fs writeSync + fdatasync', value: rawSeq } });

    // ---- random 4 KiB reads, 90% hits ----
    const hotBlocks = 4096; // 16 MiB: fits the 32 MiB cache
    const coldBlocks = Math.min(info.regions.data.blockCount - hotBlocks, (imageSizeBytes / B) >> 1);
    const hotStart = info.regions.data.blockIndex;
    const picks = Array.from({ length: readOps }, () => (rng.below(10) < 9 ? hotStart + rng.below(hotBlocks) : hotStart + hotBlocks + rng.below(coldBlocks)));
    // Warm the hot set in reads small enough to be cached (large reads of uncached blocks go around the cache).
    for (let b = 0; b < hotBlocks; b += 8) await block.read(hotStart + b, 8);
    const before = await block.stats();
    t0 = performance.now();
    for (const b of picks) await block.readInto(b, 1, [{ grantId, offsetBytes: MiB, lengthBytes: B }]);
    const qd1 = readOps / seconds(t0);
    const after = await block.stats();
    const hitRate = (after.cache.hits - before.cache.hits) / Math.max(1, after.cache.hits + after.cache.misses - before.cache.hits - before.cache.misses);
    t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async (_, lane) => {
        while (next < picks.length) await block.readInto(picks[next++], 1, [{ grantId, offsetBytes: MiB + lane * B, lengthBytes: B }]);
      }),
    );
    const qd32 = readOps / seconds(t0);
    const rawRead = rawRandomRead(opts.imagePath, picks);
    const note = `measured hit rate ${(hitRate * 100).toFixed(1)}%`;
    rows.push({ group: GROUP, name: 'rand read 4 KiB, 90% cache hits, QD1', unit: 'IOPS', value: qd1, baseline: { name: 'node:fs readSync', value: rawRead }, note });
    rows.push({ group: GROUP, name: 'rand read 4 KiB, 90% cache hits, QD32', unit: 'IOPS', value: qd32, baseline: { name: 'node:fs readSync', value: rawRead }, note });

    // ---- committed transactions ----
    const txExtent = (await block.allocate(64 * 16, { contiguous: true }))[0];
    for (const n of [1, 8, 64]) {
      const writes = Array.from({ length: n }, (_, i) => ({ blockIndex: txExtent.blockIndex + i, data: pattern.subarray(i * B, (i + 1) * B) }));
      t0 = performance.now();
      for (let i = 0; i < txCount; i++) await block.commit(writes);
      const ours = txCount / seconds(t0);
      rows.push({ group: GROUP, name: `commit ${n}-block transaction, QD1`, unit: 'tx/s', value: ours, baseline: { name: 'writeSync blocks + fdatasync', value: rawTransactions(opts.imagePath, txExtent, n, txCount, pattern) } });
    }
    t0 = performance.now();
    await Promise.all(
      Array.from({ length: 16 }, async (_, lane) => {
        const writes = Array.from({ length: 8 }, (_, i) => ({ blockIndex: txExtent.blockIndex + lane * 64 + i, data: pattern.subarray(i * B, (i + 1) * B) }));
        for (let i = 0; i < txCount / 4; i++) await block.commit(writes);
      }),
    );
    const grouped = (16 * (txCount / 4)) / seconds(t0);
    rows.push({ group: GROUP, name: 'commit 8-block transaction, 16 clients (group commit)', unit: 'tx/s', value: grouped, baseline: { name: 'writeSync blocks + fdatasync', value: rawTransactions(opts.imagePath, txExtent, 8, txCount, pattern) } });
    await sys.shutdown();
    sys = undefined;

    // ---- mount with a full journal ----
    const filled = await boot(opts.imagePath, false); // no background checkpoint: the log fills
    sys = filled.sys;
    const j0 = await filled.block.stats();
    const ext = (await filled.block.allocate(64, { contiguous: true }))[0];
    const writes = Array.from({ length: 64 }, (_, i) => ({ blockIndex: ext.blockIndex + i, data: pattern.subarray(i * B, (i + 1) * B) }));
    for (;;) {
      const s = await filled.block.stats();
      if (s.journal.usedBlocks + 2 * 67 > s.journal.capacityBlocks || s.journal.checkpoints > j0.journal.checkpoints) break;
      await filled.block.commit(writes);
    }
    const full = await filled.block.stats();
    // Power off without unmounting (no checkpoint): the next mount must replay everything.
    filled.disk.close();
    sys = undefined;
    t0 = performance.now();
    const remounted = await boot(opts.imagePath, true);
    const mountS = seconds(t0);
    sys = remounted.sys;
    const m = (await remounted.block.info()).mount;
    const journalRegion = (await remounted.block.info()).regions.journal;
    rows.push({
      group: GROUP,
      name: 'mount with a full journal (boot + replay)',
      unit: 'ms',
      value: mountS * 1000,
      lowerIsBetter: true,
      baseline: { name: 'readSync of the journal region', value: rawRegionRead(opts.imagePath, journalRegion) * 1000 },
      note: `${m.replayedTransactions} transactions, ${full.journal.usedBlocks} of ${full.journal.capacityBlocks} log blocks`,
    });
  } finally {
    await sys?.shutdown();
    fs.rmSync(opts.imagePath, { force: true });
  }
  return rows;
}

function rawSequentialWrite(path: string, offsetBytes: number, lengthBytes: number, pattern: Uint8Array): number {
  const fd = fs.openSync(path, 'r+');
  try {
    const t0 = performance.now();
    for (let off = 0; off < lengthBytes; off += MiB) fs.writeSync(fd, pattern, 0, MiB, offsetBytes + off);
    fs.fdatasyncSync(fd);
    return lengthBytes / MiB / seconds(t0);
  } finally {
    fs.closeSync(fd);
  }
}

function rawRandomRead(path: string, blocks: number[]): number {
  const fd = fs.openSync(path, 'r');
  try {
    const buf = Buffer.alloc(B);
    const t0 = performance.now();
    for (const b of blocks) fs.readSync(fd, buf, 0, B, b * B);
    return blocks.length / seconds(t0);
  } finally {
    fs.closeSync(fd);
  }
}

function rawTransactions(path: string, e: Extent, blocks: number, count: number, pattern: Uint8Array): number {
  const fd = fs.openSync(path, 'r+');
  try {
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      fs.writeSync(fd, pattern, 0, blocks * B, e.blockIndex * B);
      fs.fdatasyncSync(fd);
    }
    return count / seconds(t0);
  } finally {
    fs.closeSync(fd);
  }
}

function rawRegionRead(path: string, e: Extent): number {
  const fd = fs.openSync(path, 'r');
  try {
    const buf = Buffer.alloc(MiB);
    const t0 = performance.now();
    for (let off = 0; off < e.blockCount * B; off += MiB) fs.readSync(fd, buf, 0, Math.min(MiB, e.blockCount * B - off), e.blockIndex * B + off);
    return seconds(t0);
  } finally {
    fs.closeSync(fd);
  }
}
