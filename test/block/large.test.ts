// Large-file style allocation on sparse images (AegisFS's 2 MiB and 1 GiB cases): many
// GiB worth of extents allocated, written (first, middle and last block of each),
// freed and reallocated; freed blocks must be reused, surviving data intact, and the
// free count right after a remount. Runs on a sparse raw image file.
import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileBackend } from '../../kernel/machine/disk/file.ts';
import { backendDevice } from '../../services/block/device.ts';
import { BlockStore } from '../../services/block/store.ts';
import type { Extent } from '../../services/block/format/index.ts';
import { formatInto, isTagged, tagged } from './helpers.ts';

const GiB = 1024 * 1024 * 1024;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function sparseImage(sizeBytes: number): FileBackend {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-large-'));
  dirs.push(dir);
  const disk = FileBackend.open(path.join(dir, 'large.img'), { create: true, sizeBytes });
  formatInto(disk);
  return disk;
}

const mount = (disk: FileBackend) => BlockStore.mount(backendDevice(disk), { cacheSizeBytes: 8 * 1024 * 1024 });

async function stamp(store: BlockStore, e: Extent, tag: number): Promise<void> {
  const last = e.blockCount - 1;
  const mid = Math.floor(e.blockCount / 2);
  await store.write(e.blockIndex, tagged(tag, 0));
  if (mid > 0) await store.write(e.blockIndex + mid, tagged(tag, mid));
  if (last > mid) await store.write(e.blockIndex + last, tagged(tag, last));
}

async function checkStamp(store: BlockStore, e: Extent, tag: number): Promise<void> {
  const mid = Math.floor(e.blockCount / 2);
  for (const i of [0, mid, e.blockCount - 1]) expect(isTagged(await store.read(e.blockIndex + i, 1), tag, i), `extent ${e.blockIndex} block ${i}`).toBe(true);
}

const overlaps = (a: Extent, b: Extent) => a.blockIndex < b.blockIndex + b.blockCount && b.blockIndex < a.blockIndex + a.blockCount;

describe('large extents on a sparse image', () => {
  it('allocates, writes, frees and reuses 1 GiB extents over a 64 GiB image', async () => {
    const disk = sparseImage(64 * GiB);
    let store = await mount(disk);
    const perExtent = GiB / 4096;
    const all: Extent[] = [];
    while (store.allocator.freeBlockCount >= perExtent) {
      const ex = await store.allocate(perExtent, { contiguous: true });
      expect(ex).toHaveLength(1);
      all.push(ex[0]);
    }
    expect(all.length).toBeGreaterThanOrEqual(58); // ~58 GiB of 1 GiB extents
    for (const [i, e] of all.entries()) await stamp(store, e, i);
    const freed = all.filter((_, i) => i % 2 === 0);
    const kept = all.filter((_, i) => i % 2 === 1);
    for (const e of freed) await store.free([e]);
    await store.flush();
    await store.unmount();
    store = await mount(disk);
    const again: Extent[] = [];
    for (let i = 0; i < freed.length; i++) again.push(...(await store.allocate(perExtent, { contiguous: true })));
    // Every reallocated extent is one of the freed ones (nothing else is free enough), none overlaps a kept one.
    for (const e of again) {
      expect(freed.some((f) => f.blockIndex === e.blockIndex)).toBe(true);
      expect(kept.some((k) => overlaps(k, e))).toBe(false);
    }
    for (const [i, e] of all.entries()) if (i % 2 === 1) await checkStamp(store, e, i);
    expect(await store.allocate(perExtent, { contiguous: true }).catch((e: { code: string }) => e.code)).toBe('NOSPC');
    store.allocator.checkConsistency();
    await store.unmount();
    disk.close();
  });

  it('allocates thousands of 2 MiB extents, frees every other one, and refills the holes', async () => {
    const disk = sparseImage(16 * GiB);
    let store = await mount(disk);
    const perExtent = 512; // 2 MiB
    const count = Math.floor(store.allocator.freeBlockCount / perExtent);
    const all: Extent[] = [];
    for (let i = 0; i < count; i++) all.push(...(await store.allocate(perExtent)));
    expect(all.length).toBe(count); // each one a single run
    for (const [i, e] of all.entries()) if (i % 16 === 0 || i % 16 === 1) await stamp(store, e, i);
    const freed = all.filter((_, i) => i % 2 === 0);
    for (let i = 0; i < freed.length; i += 256) await store.free(freed.slice(i, i + 256));
    expect(store.allocator.freeBlockCount).toBeGreaterThanOrEqual(freed.length * perExtent);
    await store.flush();
    await store.unmount();
    store = await mount(disk);
    const refill: Extent[] = [];
    for (let i = 0; i < freed.length; i++) refill.push(...(await store.allocate(perExtent)));
    const freedStarts = new Set(freed.map((e) => e.blockIndex));
    for (const e of refill) expect(freedStarts.has(e.blockIndex)).toBe(true);
    for (const [i, e] of all.entries()) if (i % 16 === 1) await checkStamp(store, e, i);
    expect(store.allocator.freeBlockCount).toBeLessThan(perExtent);
    await store.unmount();
    disk.close();
  });
});
