// bootIsolated: the driver and the services asked for, each in its own thread, a user
// context that may call them all, the boot log, and clear refusals of what a worker
// cannot run (no entry; a config that is not plain data).
import { afterEach, describe, expect, it } from 'vitest';
import { IsolatedKernel } from '../../kernel/isolated/isolated-kernel.ts';
import { bootIsolated } from '../../kernel/isolated/boot.ts';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { fixture, MiB } from './helpers.ts';

afterEach(() => IsolatedKernel.shutdownAll());

describe('isolated boot', () => {
  it('starts the driver and the given services in their own threads', async () => {
    const lines: string[] = [];
    const sys = await bootIsolated({ disk: new MemoryBackend(4 * MiB), memorySizeBytes: 16 * MiB, services: [fixture('echoService', 'echo')], log: (l) => lines.push(l) });
    expect(sys.layers).toEqual(['driver', 'echo']);
    expect(await sys.user.call('echo', 'echo', 'hi')).toBe('hi');
    expect((await sys.blk.info()).capacitySectors).toBe((4 * MiB) / 512);
    const ps = sys.ps();
    const threads = ps.filter((s) => s.threadId > 0).map((s) => s.threadId);
    expect(ps.map((s) => s.name)).toEqual(['virtio-blk', 'echo', 'user']);
    expect(new Set(threads).size).toBe(2);
    expect(lines.some((l) => l.includes('isolated mode'))).toBe(true);
    expect(lines.some((l) => l.includes('service echo up in its own thread'))).toBe(true);
    await sys.shutdown();
    expect(IsolatedKernel.live.size).toBe(0);
  });

  it('refuses a service whose config is not plain data, and leaves nothing running', async () => {
    const bad = fixture('echoService', 'echo', { config: { device: () => 1 } });
    await expect(bootIsolated({ disk: new MemoryBackend(4 * MiB), memorySizeBytes: 16 * MiB, services: [bad] })).rejects.toThrow(/plain data/);
    expect(IsolatedKernel.live.size).toBe(0);
  });
});
