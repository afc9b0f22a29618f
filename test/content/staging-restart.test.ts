// The content store's staging over the block service (services/content/adapters.ts)
// when the block service restarts and no longer holds the grants it was lent: a staged
// write (and a staged read) meets GRANT once, is done inline with the same bytes, the old
// region is freed once idle, and the next one lends a fresh region. Deterministic: a fake
// block service and memory that record what they are asked.
import { describe, expect, it } from 'vitest';
import { ServiceError } from '../../kernel/errors.ts';
import type { Region } from '../../kernel/memory.ts';
import type { ServiceMemory } from '../../kernel/service.ts';
import type { BlockClient } from '../../services/block/protocol.ts';
import { blockPortOver } from '../../services/content/adapters.ts';
import { BLOCK_SIZE_BYTES, READ_SLOT_BYTES, WRITE_BLOCKS_MAX } from '../../services/content/limits.ts';

interface Seg {
  grantId: number;
  offsetBytes: number;
  lengthBytes: number;
}

/** Memory whose grants the fake block service reads and writes through; `lost` grants are those a restarted block service no longer holds. */
function fakeWorld() {
  const regions = new Map<number, Uint8Array>();
  const grants = new Map<number, { regionId: number; rights: string }>();
  const lost = new Set<number>();
  const freed: number[] = [];
  let nextRegion = 1, nextGrant = 1;
  const memory = {
    alloc(sizeBytes: number): Region {
      const regionId = nextRegion++;
      regions.set(regionId, new Uint8Array(sizeBytes));
      return { regionId, addr: regionId * 1e8, sizeBytes };
    },
    free(region: Region) {
      freed.push(region.regionId);
      regions.delete(region.regionId);
    },
    view: (region: Region) => regions.get(region.regionId)!,
    grant(region: Region, _endpoint: string, rights: string) {
      const id = nextGrant++;
      grants.set(id, { regionId: region.regionId, rights });
      return id;
    },
  } as unknown as ServiceMemory;
  const disk = new Uint8Array(4096 * BLOCK_SIZE_BYTES);
  const calls: string[] = [];
  const bytesOf = (s: Seg, need: string): Uint8Array => {
    const g = grants.get(s.grantId);
    if (!g || lost.has(s.grantId) || !g.rights.includes(need)) throw new ServiceError('GRANT', `grant ${s.grantId} is not held`);
    return regions.get(g.regionId)!.subarray(s.offsetBytes, s.offsetBytes + s.lengthBytes);
  };
  const block = {
    endpoint: 'block',
    info: async () => ({ blockSizeBytes: BLOCK_SIZE_BYTES, regions: { data: { blockIndex: 0, blockCount: 4096 } }, limits: { ioBlocksMax: WRITE_BLOCKS_MAX } }),
    async writeFrom(blockIndex: number, from: Seg[]) {
      calls.push(`writeFrom g${from[0].grantId}`);
      disk.set(bytesOf(from[0], 'r'), blockIndex * BLOCK_SIZE_BYTES);
      return {};
    },
    async write(blockIndex: number, bytes: Uint8Array) {
      calls.push('write');
      disk.set(bytes, blockIndex * BLOCK_SIZE_BYTES);
      return {};
    },
    async readInto(blockIndex: number, blockCount: number, into: Seg[]) {
      calls.push(`readInto g${into[0].grantId}`);
      bytesOf(into[0], 'w').set(disk.subarray(blockIndex * BLOCK_SIZE_BYTES, (blockIndex + blockCount) * BLOCK_SIZE_BYTES));
      return {};
    },
    async read(blockIndex: number, blockCount: number) {
      calls.push('read');
      return disk.slice(blockIndex * BLOCK_SIZE_BYTES, (blockIndex + blockCount) * BLOCK_SIZE_BYTES);
    },
    /** The block service restarted: it holds none of the grants lent so far. */
    restart() {
      for (const id of grants.keys()) lost.add(id);
    },
  };
  return { memory, block, disk, calls, freed, grants };
}

const filled = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 13 + seed) & 0xff);

describe('content staging across a restart of the block service', () => {
  it('a staged write meets the lost grant once, goes inline with the same bytes, and the next write lends afresh', async () => {
    const w = fakeWorld();
    const port = await blockPortOver(w.block as unknown as BlockClient, w.memory);
    const stage = port.writeStaged!;
    const a = filled(2 * BLOCK_SIZE_BYTES, 1);
    await stage(0, 2, (dst) => dst.set(a));
    expect(w.calls).toEqual(['writeFrom g1']);

    w.block.restart();
    const b = filled(3 * BLOCK_SIZE_BYTES, 2);
    let fills = 0;
    await stage(10, 3, (dst) => (fills++, dst.set(b)));
    expect(fills).toBe(2); // filled again (and so checked again) for the inline write
    expect(Buffer.compare(w.disk.subarray(10 * BLOCK_SIZE_BYTES, 13 * BLOCK_SIZE_BYTES), b)).toBe(0);
    await Promise.resolve();
    expect(w.freed).toHaveLength(1); // the old staging region, once idle

    const c = filled(BLOCK_SIZE_BYTES, 3);
    await stage(20, 1, (dst) => dst.set(c));
    expect(Buffer.compare(w.disk.subarray(20 * BLOCK_SIZE_BYTES, 21 * BLOCK_SIZE_BYTES), c)).toBe(0);
    const fresh = Math.max(...w.grants.keys());
    expect(w.grants.get(fresh)?.rights).toBe('r');
    expect(w.calls).toEqual(['writeFrom g1', 'writeFrom g1', 'write', `writeFrom g${fresh}`]);
  });

  it('a staged read does the same', async () => {
    const w = fakeWorld();
    const port = await blockPortOver(w.block as unknown as BlockClient, w.memory);
    const a = filled(2 * BLOCK_SIZE_BYTES, 4);
    w.disk.set(a, 5 * BLOCK_SIZE_BYTES);
    expect(Buffer.compare(await port.read(5, 2), a)).toBe(0);
    w.block.restart();
    expect(Buffer.compare(await port.read(5, 2), a)).toBe(0);
    expect(Buffer.compare(await port.read(5, 2), a)).toBe(0);
    const reads = w.calls.filter((c) => c.startsWith('read'));
    expect(reads[0]).toMatch(/^readInto g\d+$/);
    expect(reads.slice(1, 3)).toEqual([reads[0], 'read']);
    expect(reads[3]).toMatch(/^readInto g\d+$/);
    expect(reads[3]).not.toBe(reads[0]);
    expect(READ_SLOT_BYTES).toBeGreaterThanOrEqual(2 * BLOCK_SIZE_BYTES);
  });

  it('a write that fails otherwise is not redone inline', async () => {
    const w = fakeWorld();
    const port = await blockPortOver(w.block as unknown as BlockClient, w.memory);
    w.block.writeFrom = async () => {
      throw new ServiceError('EIO', 'device error');
    };
    await expect(port.writeStaged!(0, 1, (dst) => dst.fill(1))).rejects.toMatchObject({ code: 'EIO' });
    expect(w.calls).not.toContain('write');
  });
});
