// The block service on the real stack (machine, kernel, virtio-blk driver): the protocol
// end to end, inline and by grant; bad input answered with typed errors and no crash;
// state across clean reboots and power cuts; superblock recovery from the spare.
import { afterEach, describe, expect, it } from 'vitest';
import { bootTestSystem, codeOf } from '../helpers/stack.ts';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { FaultyBackend } from '../../kernel/machine/disk/faulty.ts';
import type { DiskBackend } from '../../kernel/machine/disk/backend.ts';
import type { System } from '../../tools/system.ts';
import { blockManifest } from '../../services/block/service.ts';
import { BLOCK_ENDPOINT, BlockClient } from '../../services/block/protocol.ts';
import { VIRTIO_BLK_ENDPOINT } from '../../drivers/virtio-blk/protocol.ts';
import { B, MiB, formatInto, isTagged, tagged } from './helpers.ts';

const systems: System[] = [];
afterEach(async () => {
  for (const s of systems.splice(0)) await s.kernel.shutdown().catch(() => undefined);
});

async function boot(disk: DiskBackend, seed = 1) {
  const sys = await bootTestSystem({ disk, seed, userCalls: [VIRTIO_BLK_ENDPOINT, BLOCK_ENDPOINT] });
  systems.push(sys);
  await sys.kernel.spawn(blockManifest({ background: false }));
  return { sys, block: new BlockClient(sys.user) };
}

function formattedMemory(sizeBytes = 32 * MiB): MemoryBackend {
  const disk = new MemoryBackend(sizeBytes);
  formatInto(disk);
  return disk;
}

describe('block service', () => {
  it('lists the allocated extents as the allocator knows them, at once and in pages', async () => {
    const { sys, block } = await boot(formattedMemory());
    expect(await block.allocated()).toEqual([]);
    const a = await block.allocate(10, { contiguous: true });
    const b = await block.allocate(5, { contiguous: true });
    const c = await block.allocate(7, { contiguous: true });
    await block.free(b);
    const listed = await block.allocated();
    const blocks = (xs: { blockIndex: number; blockCount: number }[]) => xs.flatMap((e) => Array.from({ length: e.blockCount }, (_, i) => e.blockIndex + i));
    expect(blocks(listed).sort((x, y) => x - y)).toEqual([...blocks(a), ...blocks(c)].sort((x, y) => x - y));
    // Pages: one extent at a time, continuing where the last one stopped.
    const first = await sys.user.call<{ extents: unknown[]; nextBlockIndex: number | null }>(BLOCK_ENDPOINT, 'allocated', { extentsMax: 1 });
    expect(first.extents).toEqual([listed[0]]);
    expect(first.nextBlockIndex).not.toBeNull();
    const rest = await sys.user.call<{ extents: unknown[]; nextBlockIndex: number | null }>(BLOCK_ENDPOINT, 'allocated', { fromBlockIndex: first.nextBlockIndex });
    expect(rest.extents).toEqual(listed.slice(1));
    expect(rest.nextBlockIndex).toBeNull();
    expect(await codeOf(sys.user.call(BLOCK_ENDPOINT, 'allocated', { fromBlockIndex: -1 }))).toBe('BADMSG');
  });

  it('serves info, allocate, write, read, flush, transactions and stats', async () => {
    const { block } = await boot(formattedMemory());
    const info = await block.info();
    expect(info.blockSizeBytes).toBe(4096);
    expect(info.blockCount).toBe(8192);
    expect(info.mount.superblockSource).toBe('primary');
    expect(info.regions.axiom.blockCount).toBeGreaterThan(0);
    const free0 = (await block.stats()).freeBlocks;
    expect(free0).toBe(info.regions.data.blockCount);

    const [e] = await block.allocate(8, { contiguous: true });
    expect(e.blockCount).toBe(8);
    const data = new Uint8Array(8 * B);
    for (let i = 0; i < 8; i++) data.set(tagged(42, i), i * B);
    await block.write(e.blockIndex, data);
    await block.flush();
    const back = await block.read(e.blockIndex, 8);
    for (let i = 0; i < 8; i++) expect(isTagged(back.subarray(i * B, (i + 1) * B), 42, i)).toBe(true);

    const tx = await block.txBegin();
    await block.txWrite(tx, e.blockIndex, tagged(43, 0));
    await block.txWrite(tx, info.regions.axiom.blockIndex, tagged(44, 0));
    expect(await block.txCommit(tx)).toBeGreaterThan(0);
    expect(isTagged(await block.read(e.blockIndex, 1), 43, 0)).toBe(true);
    expect(isTagged(await block.read(info.regions.axiom.blockIndex, 1), 44, 0)).toBe(true);
    await block.commit([{ blockIndex: e.blockIndex + 1, data: tagged(45, 1) }]);
    expect(isTagged(await block.read(e.blockIndex + 1, 1), 45, 1)).toBe(true);

    await block.sync();
    expect((await block.stats()).journal.usedBlocks).toBe(0);
    expect(await block.free([e])).toBe(8);
    const s = await block.stats();
    expect(s.freeBlocks).toBe(free0);
    expect(s.journal.commits).toBeGreaterThanOrEqual(4);
    expect(s.cache.hits + s.cache.misses).toBeGreaterThan(0);
    expect(s.failed).toBeNull();
  });

  it('moves bulk data by grant in both directions', async () => {
    const { sys, block } = await boot(formattedMemory());
    const info = await block.info();
    const region = sys.user.memory.alloc(16 * B);
    const grantId = sys.user.memory.grant(region, BLOCK_ENDPOINT, 'rw');
    const view = sys.user.memory.view(region);
    for (let i = 0; i < 16; i++) view.set(tagged(7, i), i * B);
    const axiom = info.regions.axiom.blockIndex;
    await block.writeFrom(axiom, [{ grantId, offsetBytes: 0, lengthBytes: 8 * B }, { grantId, offsetBytes: 8 * B, lengthBytes: 8 * B }]);
    view.fill(0);
    await block.readInto(axiom, 16, [{ grantId, offsetBytes: 0, lengthBytes: 16 * B }]);
    for (let i = 0; i < 16; i++) expect(isTagged(view.subarray(i * B, (i + 1) * B), 7, i)).toBe(true);
  });

  it('answers bad input with typed errors and keeps serving', async () => {
    const { sys, block } = await boot(formattedMemory());
    const info = await block.info();
    const call = (op: string, body: unknown) => codeOf(sys.user.call(BLOCK_ENDPOINT, op, body));
    expect(await call('read', { blockIndex: -1, blockCount: 1 })).toBe('BADMSG');
    expect(await call('read', { blockIndex: 'x', blockCount: 1 })).toBe('BADMSG');
    expect(await call('read', [1, 2])).toBe('BADMSG');
    expect(await call('write', { blockIndex: info.regions.axiom.blockIndex, data: new Uint8Array(100) })).toBe('BADMSG');
    expect(await call('write', { blockIndex: info.regions.axiom.blockIndex })).toBe('BADMSG');
    expect(await call('nosuchop', {})).toBe('BADOP');
    expect(await call('read', { blockIndex: info.blockCount - 1, blockCount: 2 })).toBe('RANGE');
    expect(await call('read', { blockIndex: 2 ** 40, blockCount: 1 })).toBe('RANGE');
    expect(await call('read', { blockIndex: 0, blockCount: 5000 })).toBe('TOOBIG');
    expect(await call('write', { blockIndex: 0, data: new Uint8Array(B) })).toBe('RANGE'); // the superblock
    expect(await call('write', { blockIndex: info.regions.journal.blockIndex, data: new Uint8Array(B) })).toBe('RANGE');
    expect(await call('write', { blockIndex: info.regions.data.blockIndex, data: new Uint8Array(B) })).toBe('NOTALLOCATED');
    expect(await call('commit', { writes: [{ blockIndex: info.regions.bitmap.blockIndex, data: new Uint8Array(B) }] })).toBe('RANGE');
    expect(await call('free', { extents: [{ blockIndex: info.regions.data.blockIndex, blockCount: 1 }] })).toBe('NOTALLOCATED');
    expect(await call('free', { extents: [{ blockIndex: 3, blockCount: 1 }] })).toBe('RANGE');
    expect(await call('allocate', { blockCount: info.regions.data.blockCount + 1 })).toBe('NOSPC');
    expect(await call('txCommit', { txId: 999 })).toBe('NOTX');
    expect(await call('write', { blockIndex: info.regions.axiom.blockIndex, from: [{ grantId: 12345, offsetBytes: 0, lengthBytes: B }] })).toBe('GRANT');
    // Still healthy, nothing leaked.
    expect((await block.stats()).freeBlocks).toBe(info.regions.data.blockCount);
    const [e] = await block.allocate(1);
    await block.write(e.blockIndex, tagged(1, 1));
    expect(isTagged(await block.read(e.blockIndex, 1), 1, 1)).toBe(true);
    expect(sys.kernel.serviceStats().find((s) => s.name === 'block')!.internalErrors).toBe(0);
  });

  it('keeps allocations and data across a clean reboot', async () => {
    const disk = formattedMemory();
    const first = await boot(disk);
    const extents = await first.block.allocate(100);
    await first.block.write(extents[0].blockIndex, tagged(5, 0));
    const tx = await first.block.txBegin();
    await first.block.txWrite(tx, extents[0].blockIndex + 1, tagged(6, 1));
    await first.block.txCommit(tx);
    const free = (await first.block.stats()).freeBlocks;
    await first.sys.kernel.shutdown(); // unmount: write back, checkpoint
    systems.length = 0;
    const second = await boot(disk);
    expect((await second.block.info()).mount.replayedTransactions).toBe(0);
    expect((await second.block.stats()).freeBlocks).toBe(free);
    expect(isTagged(await second.block.read(extents[0].blockIndex, 1), 5, 0)).toBe(true);
    expect(isTagged(await second.block.read(extents[0].blockIndex + 1, 1), 6, 1)).toBe(true);
    expect(await codeOf(second.block.free(extents))).toBe('ok');
    expect(await codeOf(second.block.free(extents))).toBe('NOTALLOCATED');
  });

  it('after a power cut keeps every acknowledged allocation, commit and flushed write', async () => {
    const mem = formattedMemory();
    const disk = new FaultyBackend(mem.bytes);
    const first = await boot(disk);
    const [a] = await first.block.allocate(10);
    await first.block.write(a.blockIndex, tagged(1, 0));
    await first.block.flush();
    await first.block.commit([{ blockIndex: a.blockIndex + 1, data: tagged(2, 1) }]);
    await first.block.write(a.blockIndex + 2, tagged(3, 2)); // never flushed: may be lost
    const free = (await first.block.stats()).freeBlocks;
    disk.crash('lose-all');
    const second = await boot(disk, 2);
    const info = await second.block.info();
    expect(info.mount.replayedTransactions).toBeGreaterThanOrEqual(2);
    expect((await second.block.stats()).freeBlocks).toBe(free);
    expect(isTagged(await second.block.read(a.blockIndex, 1), 1, 0)).toBe(true);
    expect(isTagged(await second.block.read(a.blockIndex + 1, 1), 2, 1)).toBe(true);
    expect(await codeOf(second.block.free([a]))).toBe('ok');
  });

  it('mounts from the spare superblock when the primary is corrupt, and repairs it', async () => {
    const disk = formattedMemory();
    disk.bytes[100] ^= 0xff; // inside the region table
    const { block } = await boot(disk);
    const info = await block.info();
    expect(info.mount.superblockSource).toBe('spare');
    expect(info.mount.problems.join()).toMatch(/primary.*checksum/);
    expect(disk.bytes.subarray(0, B)).toEqual(disk.bytes.subarray((info.blockCount - 1) * B, info.blockCount * B));
  });

  it('refuses every request, with a clear error, when both superblock copies are corrupt', async () => {
    const disk = formattedMemory();
    disk.bytes[100] ^= 0xff;
    disk.bytes[disk.bytes.length - B + 8] ^= 0xff;
    const { sys, block } = await boot(disk);
    const err = await block.info().catch((e: unknown) => e);
    expect((err as { code: string }).code).toBe('INTEGRITY');
    expect((err as Error).message).toMatch(/mount failed: .*neither superblock copy is valid/);
    expect(sys.kernel.logLines.join('\n')).toMatch(/block: mount failed/);
  });

  it('refuses to mount an unformatted disk', async () => {
    const { block } = await boot(new MemoryBackend(32 * MiB));
    const err = await block.stats().catch((e: unknown) => e);
    expect((err as { code: string }).code).toBe('INTEGRITY');
    expect((err as Error).message).toMatch(/magic/);
  });
});
