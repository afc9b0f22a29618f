// The block service in the isolated kernel: the same service code, started in its own
// worker by module and export, calling the driver in another worker through the kernel.
// A subset of test/block/service.test.ts, then a kill: committed transactions survive
// the block service's restart (it mounts again and replays its journal).
import { afterEach, describe, expect, it } from 'vitest';
import { IsolatedKernel } from '../../kernel/isolated/isolated-kernel.ts';
import { bootIsolated } from '../../kernel/isolated/boot.ts';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import type { Manifest } from '../../kernel/service.ts';
import { blockManifest } from '../../services/block/service.ts';
import { BLOCK_ENDPOINT, BlockClient } from '../../services/block/protocol.ts';
import { B, MiB, formatInto, isTagged, tagged } from '../block/helpers.ts';

afterEach(() => IsolatedKernel.shutdownAll());

function isolatedBlock(): Manifest {
  return { ...blockManifest({ background: false }), entry: { module: new URL('../../services/block/service.ts', import.meta.url).href, export: 'blockService' } };
}

async function boot(disk: MemoryBackend) {
  const sys = await bootIsolated({ disk, memorySizeBytes: 64 * MiB, services: [isolatedBlock()] });
  return { sys, block: new BlockClient(sys.user) };
}

describe('block service (isolated kernel)', () => {
  it('serves allocate, write, read, transactions and grants from its own thread', async () => {
    const disk = new MemoryBackend(32 * MiB);
    formatInto(disk);
    const { sys, block } = await boot(disk);
    const info = await block.info();
    expect(info.blockCount).toBe(8192);
    const [e] = await block.allocate(8, { contiguous: true });
    const data = new Uint8Array(8 * B);
    for (let i = 0; i < 8; i++) data.set(tagged(42, i), i * B);
    await block.write(e.blockIndex, data);
    const tx = await block.txBegin();
    await block.txWrite(tx, e.blockIndex, tagged(43, 0));
    expect(await block.txCommit(tx)).toBeGreaterThan(0);
    const back = await block.read(e.blockIndex, 8);
    expect(isTagged(back.subarray(0, B), 43, 0)).toBe(true);
    for (let i = 1; i < 8; i++) expect(isTagged(back.subarray(i * B, (i + 1) * B), 42, i)).toBe(true);
    // Bulk data by grant: the user lends pages to the block service in its worker.
    const region = sys.user.memory.alloc(4 * B);
    const grantId = sys.user.memory.grant(region, BLOCK_ENDPOINT, 'rw');
    for (let i = 0; i < 4; i++) sys.user.memory.view(region).set(tagged(7, i), i * B);
    await block.writeFrom(e.blockIndex + 4, [{ grantId, offsetBytes: 0, lengthBytes: 4 * B }]);
    sys.user.memory.view(region).fill(0);
    await block.readInto(e.blockIndex + 4, 4, [{ grantId, offsetBytes: 0, lengthBytes: 4 * B }]);
    for (let i = 0; i < 4; i++) expect(isTagged(sys.user.memory.view(region, i * B, B), 7, i)).toBe(true);
    expect((await block.stats()).failed).toBeNull();
    await sys.shutdown();
  });

  it('keeps every committed transaction across a kill and restart of the block service', async () => {
    const disk = new MemoryBackend(32 * MiB);
    formatInto(disk);
    const { sys, block } = await boot(disk);
    const [e] = await block.allocate(16, { contiguous: true });
    for (let i = 0; i < 16; i++) {
      const tx = await block.txBegin();
      await block.txWrite(tx, e.blockIndex + i, tagged(90, i));
      await block.txCommit(tx);
    }
    expect((await sys.kill('block')).kind).toBe('restarted');
    const back = await block.read(e.blockIndex, 16);
    for (let i = 0; i < 16; i++) expect(isTagged(back.subarray(i * B, (i + 1) * B), 90, i), `block ${i}`).toBe(true);
    expect(sys.ps().find((s) => s.name === 'block')!.restarts).toBe(1);
    await sys.shutdown();
  });
});
