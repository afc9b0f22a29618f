// Boots the real system (machine, kernel, driver) on an in-memory or faulty disk for tests.
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import type { DiskBackend } from '../../kernel/machine/disk/backend.ts';
import { bootSystem, type BootOptions, type System } from '../../tools/system.ts';
import { formatDisk } from '../../tools/cli/mkimage.ts';
import type { FsClient } from '../../services/fs/protocol.ts';

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

/** Creates `name` in `parent` (mode 0o644) holding `data`, written in 1 MiB pieces; resolves to its inode. */
export async function writeWholeFile(fs: FsClient, parent: number, name: string, data: Uint8Array): Promise<number> {
  const { attr, handle } = await fs.create(parent, name, 0o644);
  for (let off = 0; off < data.length; off += MiB) await fs.write(handle, off, data.subarray(off, off + MiB));
  await fs.close(handle);
  return attr.ino;
}

/** The whole file at `path`, read in 1 MiB pieces. */
export async function readWholeFile(fs: FsClient, path: string): Promise<Uint8Array> {
  const attr = await fs.resolve(path);
  const { handle } = await fs.open(attr.ino, { read: true });
  const out = new Uint8Array(attr.sizeBytes);
  for (let off = 0; off < attr.sizeBytes; off += MiB) out.set(await fs.read(handle, off, Math.min(MiB, attr.sizeBytes - off)), off);
  await fs.close(handle);
  return out;
}

/**
 * A fresh stack on a formatted memory disk (64 MiB by default), booted by `boot` (the
 * deterministic stack by default): its fs, the system now running, a remount (shut down,
 * boot again on the same disk) and a close (shut down, close the disk).
 */
export async function openStackSubject(
  boot: (disk: DiskBackend) => Promise<System> = (d) => bootFsStack(d),
  diskBytes = 64 * MiB,
): Promise<{ fs: FsClient; sys: () => System; remount: () => Promise<FsClient>; close: () => Promise<void> }> {
  const disk = await formatTestDisk(new MemoryBackend(diskBytes));
  let sys = await boot(disk);
  return {
    fs: sys.fs!,
    sys: () => sys,
    remount: async () => {
      await sys.shutdown();
      sys = await boot(disk);
      return sys.fs!;
    },
    close: async () => {
      await sys.shutdown();
      disk.close();
    },
  };
}
