// The guest's IDE disk over the block service: arbitrary unaligned reads and writes (as
// v86's IDE issues them) agree with a byte array model, survive a reboot of the stack,
// stay inside their extent, and the synchronous first-sector cache v86 reads the geometry
// from follows writes.
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { blockManifest } from '../../services/block/service.ts';
import { BLOCK_ENDPOINT, BlockClient } from '../../services/block/protocol.ts';
import { formatImage, parseUuid } from '../../services/block/format/index.ts';
import { BlockDisk, DISK_BLOCK_BYTES } from '../../tools/guest/disk.ts';
import type { System } from '../../tools/system.ts';
import { bootTestSystem, MiB } from '../helpers/stack.ts';

const systems: System[] = [];
afterEach(async () => {
  for (const s of systems.splice(0)) await s.kernel.shutdown().catch(() => undefined);
});

function formatted(sizeBytes = 16 * MiB): MemoryBackend {
  const disk = new MemoryBackend(sizeBytes);
  formatImage((blockIndex, data) => disk.write(blockIndex * 4096, data), sizeBytes, { uuid: parseUuid('d15cd15c-0000-4000-8000-000000000001') });
  disk.flush();
  return disk;
}

async function boot(disk: MemoryBackend): Promise<BlockClient> {
  const sys = await bootTestSystem({ disk, upTo: 'driver', userCalls: [BLOCK_ENDPOINT] });
  systems.push(sys);
  await sys.kernel.spawn(blockManifest({ background: false }));
  return new BlockClient(sys.user);
}

const get = (d: BlockDisk, start: number, len: number) => new Promise<Uint8Array>((resolve) => d.get(start, len, resolve));
const set = (d: BlockDisk, start: number, data: Uint8Array) => new Promise<void>((resolve) => d.set(start, data, resolve));

describe('BlockDisk (the guest IDE disk over the block service)', () => {
  it('agrees with a byte-array model on unaligned reads and writes, and after a reboot', async () => {
    const image = formatted();
    const block = await boot(image);
    const [extent] = await block.allocate(24, { contiguous: true });
    const size = extent.blockCount * DISK_BLOCK_BYTES;
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), start: fc.nat(size - 1), data: fc.uint8Array({ minLength: 1, maxLength: 3 * DISK_BLOCK_BYTES }) }),
      fc.record({ kind: fc.constant('get' as const), start: fc.nat(size - 1), length: fc.nat(3 * DISK_BLOCK_BYTES) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 20 }), async (ops) => {
        const model = new Uint8Array(size);
        const disk = new BlockDisk(block, extent, { ioBlocksMax: 2, writeThrough: false });
        await set(disk, 0, model); // start from zeros
        for (const o of ops) {
          if (o.kind === 'set') {
            const data = o.data.subarray(0, size - o.start);
            model.set(data, o.start);
            // v86 may reuse its buffer at once: the disk must have copied it.
            const pending = set(disk, o.start, data);
            data.fill(0xee);
            await pending;
          } else {
            const length = Math.min(o.length, size - o.start);
            expect(await get(disk, o.start, length)).toEqual(model.subarray(o.start, o.start + length));
          }
        }
        expect(await get(disk, 0, size)).toEqual(model);
        expect(disk.get_from_cache(0, 512)).toEqual(model.subarray(0, 512));
        await disk.drain();
      }),
      { numRuns: 10 },
    );
    // Write-through: what the guest was told is written is in the image after a reboot.
    const disk = new BlockDisk(block, extent, { ioBlocksMax: 8 });
    const pattern = new Uint8Array(10_000).map((_, i) => (i * 13) & 0xff);
    await set(disk, 777, pattern);
    const again = await boot(new MemoryBackend(image.bytes.slice()));
    expect(await new Promise((r) => new BlockDisk(again, extent, { ioBlocksMax: 8 }).get(777, pattern.length, r))).toEqual(pattern);
  });

  it('refuses accesses outside the extent and reports its size, load and state', async () => {
    const block = await boot(formatted());
    const [extent] = await block.allocate(4, { contiguous: true });
    const disk = new BlockDisk(block, extent, { ioBlocksMax: 4 });
    expect(disk.byteLength).toBe(4 * DISK_BLOCK_BYTES);
    expect(() => disk.get(disk.byteLength - 10, 11, () => {})).toThrow(RangeError);
    expect(() => disk.set(-1, new Uint8Array(1), () => {})).toThrow(RangeError);
    expect(disk.get_from_cache(0, 512)).toBeUndefined();
    await new Promise<void>((resolve) => {
      disk.onload = () => resolve();
      disk.load();
    });
    expect(disk.get_from_cache(0, 512)?.length).toBe(512);
    expect(disk.get_from_cache(4000, 512)).toBeUndefined();
    expect(() => disk.set_state(disk.get_state())).not.toThrow();
    expect(() => disk.set_state([123])).toThrow(/123/);
  });
});
