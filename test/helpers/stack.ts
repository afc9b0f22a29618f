// Boots the real system (machine, kernel, driver) on an in-memory or faulty disk for tests.
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import type { DiskBackend } from '../../kernel/machine/disk/backend.ts';
import { bootSystem, type BootOptions, type System } from '../../tools/system.ts';
import { formatDisk } from '../../tools/cli/mkimage.ts';

export const MiB = 1024 * 1024;

/** Boots machine, kernel and driver (and more with `upTo`) on a raw in-memory disk by default. */
export async function bootTestSystem(options: Partial<BootOptions> & { sizeBytes?: number } = {}): Promise<System> {
  const disk: DiskBackend = options.disk ?? new MemoryBackend(options.sizeBytes ?? 16 * MiB);
  return bootSystem({ memorySizeBytes: 64 * MiB, upTo: 'driver', ...options, disk });
}

/** Resolves to the error code a promise rejects with, or 'ok'. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

/** Deterministic bytes from a seed (the crash harness's generator, so both make the same files). */
export { patternedBytes as patterned } from '../../tools/crashtest/workloads.ts';

/** Formats a disk the way mkimage does, with fixed ids (so runs are reproducible). */
export async function formatTestDisk(disk: DiskBackend): Promise<DiskBackend> {
  await formatDisk(disk, { uuid: new Uint8Array(16).fill(7), logId: new Uint8Array(16).fill(9) });
  return disk;
}

export const TEST_EPOCH_MS = 1_700_000_000_000;

/** The whole stack up to the filesystem on `disk` (formatted already), disk left open at shutdown. */
export function bootFsStack(disk: DiskBackend, options: Partial<BootOptions> = {}): Promise<System> {
  return bootSystem({ memorySizeBytes: 128 * MiB, epochMs: TEST_EPOCH_MS, ...options, disk, upTo: 'fs', keepDiskOpen: true });
}
