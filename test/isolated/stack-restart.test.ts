// Killing the virtio-blk driver in the middle of a large file write through the whole
// isolated stack: the supervisor resets the device and restarts the driver, the block
// service lends its staging pages again and re-issues what was in flight
// (services/block/transport.ts), and the layers above never see the failure. The file
// reads back byte for byte, then again after a clean reboot. A driver killed while idle
// does not hold the staging grant either: the next request meets GRANT and is re-issued.
import { afterEach, describe, expect, it } from 'vitest';
import { IsolatedKernel } from '../../kernel/isolated/isolated-kernel.ts';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { ROOT_INO } from '../../services/fs/protocol.ts';
import { bootIsolatedSystem, type IsolatedStackSystem } from '../../tools/system-isolated.ts';
import { formatTestDisk, MiB, patterned, readWholeFile, TEST_EPOCH_MS } from '../helpers/stack.ts';
import { until } from './helpers.ts';

afterEach(() => IsolatedKernel.shutdownAll());

const FILE_BYTES = 40 * MiB + 777;

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  if (Buffer.compare(a, b) === 0) return -1;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

function driverHandled(sys: IsolatedStackSystem): number {
  return sys.ps().find((s) => s.name === 'virtio-blk')?.handled ?? 0;
}

describe('driver restart under the whole isolated stack', () => {
  it('a large write survives a kill of virtio-blk in its middle; every byte reads back, also after a reboot', async () => {
    const disk = await formatTestDisk(new MemoryBackend(256 * MiB));
    const boot = () => bootIsolatedSystem({ disk, memorySizeBytes: 256 * MiB, epochMs: TEST_EPOCH_MS, upTo: 'fs', keepDiskOpen: true });
    let sys = await boot();
    const fs = sys.fs!;
    const data = patterned(FILE_BYTES, 5);
    const { handle } = await fs.create(ROOT_INO, 'big', 0o644);
    for (let off = 0; off < data.length; off += MiB) await fs.write(handle, off, data.subarray(off, off + MiB));
    // close commits: chunks go down to the disk, then the records naming them.
    const before = driverHandled(sys);
    let closed = false;
    const closing = fs.close(handle).then(() => (closed = true));
    await until(() => driverHandled(sys) >= before + 20 || closed, 60_000, 'the driver to be busy with the write');
    // Supervision events so far: a failure below says what the supervisor did.
    const events = () => sys.isolated.events.map((e) => `${e.service} ${e.kind} ${e.detail}`).join('\n');
    expect(closed, events()).toBe(false); // the kill lands in the middle of the write (the close makes ~100 driver calls)
    const event = await sys.kill('virtio-blk');
    expect(event.kind, events()).toBe('restarted');
    await closing.catch((e: Error) => expect.fail(`the close failed: ${e.message}\n${events()}`));
    const virtio = sys.ps().find((s) => s.name === 'virtio-blk')!;
    expect(virtio.restarts).toBe(1);
    expect(sys.isolated.events.some((e) => e.kind === 'killed' && e.service === 'virtio-blk')).toBe(true);
    expect(firstDifference(await readWholeFile(fs, '/big'), data)).toBe(-1);
    expect((await sys.block!.stats()).failed).toBeNull();
    await sys.shutdown();

    sys = await boot();
    expect(firstDifference(await readWholeFile(sys.fs!, '/big'), data)).toBe(-1);
    await sys.shutdown();
    disk.close();
  });

  it('a driver killed while idle: the next block requests meet the lost grant, lend it again and succeed', async () => {
    const disk = await formatTestDisk(new MemoryBackend(64 * MiB));
    const sys = await bootIsolatedSystem({ disk, memorySizeBytes: 128 * MiB, upTo: 'block', keepDiskOpen: true });
    const block = sys.block!;
    const [e] = await block.allocate(4, { contiguous: true });
    const data = patterned(4 * 4096, 3);
    await block.write(e.blockIndex, data);
    await block.sync();
    expect((await sys.kill('virtio-blk')).kind).toBe('restarted');
    const more = patterned(4 * 4096, 4);
    await block.write(e.blockIndex, more);
    await block.sync(); // the write-back to the device goes through the new driver instance
    expect(firstDifference(await block.read(e.blockIndex, 4), more)).toBe(-1);
    expect((await block.stats()).failed).toBeNull();
    await sys.shutdown();
    disk.close();
  });
});
