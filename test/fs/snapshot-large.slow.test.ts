// A snapshot of a 1.6 GiB file over the whole stack on a memory disk: 26,000 pages that
// are not holes (one repeated 64 KiB page, so the store keeps one data chunk), whose
// manifest passes one chunk and is stored indirect (tree.ts 'F' and its parts). The parts
// survive a gc after the put lease, a reboot that replays the snapshot (loading the tree,
// parts included, from the content store) and one that reads the checkpoint image; the
// snapshot reads back under /.snapshots and restores; the offline fsck walks the indirect
// manifest, its parts included, and finds the image clean.
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { ROOT_INO, type FsClient } from '../../services/fs/protocol.ts';
import { PAGE_SIZE_BYTES } from '../../services/fs/limits.ts';
import type { System } from '../../tools/system.ts';
import { bootFsStack, formatTestDisk, MiB, patterned } from '../helpers/stack.ts';
import { fsckImage } from '../../tools/fsck/index.ts';

const PAGES = 26_000;

async function readAt(fs: FsClient, path: string, offsetBytes: number, lengthBytes: number): Promise<Uint8Array> {
  const { handle } = await fs.open((await fs.resolve(path)).ino, { read: true });
  try {
    return await fs.read(handle, offsetBytes, lengthBytes);
  } finally {
    await fs.close(handle);
  }
}

describe('snapshots of a file past one manifest chunk (whole stack)', () => {
  it('create, gc, reboot (replay and checkpoint image), read under /.snapshots, restore', async () => {
    const disk = await formatTestDisk(new MemoryBackend(256 * MiB));
    let sys: System = await bootFsStack(disk, { fsCheckpoints: false });
    try {
      let fs = sys.fs!;
      const page = patterned(PAGE_SIZE_BYTES, 9);
      const buf = new Uint8Array(4 * MiB);
      for (let at = 0; at < buf.length; at += PAGE_SIZE_BYTES) buf.set(page, at);
      const sizeBytes = PAGES * PAGE_SIZE_BYTES;
      const { handle } = await fs.create(ROOT_INO, 'big', 0o644);
      for (let at = 0; at < sizeBytes; at += buf.length) await fs.write(handle, at, buf.subarray(0, Math.min(buf.length, sizeBytes - at)));
      await fs.close(handle);
      const info = await fs.snapshotCreate('s');
      expect(info).toMatchObject({ fileCount: 1, sizeBytes });
      await fs.truncate((await fs.resolve('/big')).ino, 0);
      await sys.kernel.advanceTime(11 * 60_000); // past the lease on puts without a reference
      await fs.gc();
      const last = sizeBytes - 1000;
      expect(Buffer.compare(await readAt(fs, '/.snapshots/s/big', last, 1000), page.subarray(PAGE_SIZE_BYTES - 1000))).toBe(0);
      // Reboot without a checkpoint: the mount replays FsSnapshotCreate and loads the tree from the store.
      await sys.shutdown();
      sys = await bootFsStack(disk, { fsCheckpoints: false });
      fs = sys.fs!;
      expect((await fs.snapshotList()).map((x) => x.rootHash)).toEqual([info.rootHash]);
      await fs.snapshotRestore('s');
      expect((await fs.resolve('/big')).sizeBytes).toBe(sizeBytes);
      expect(Buffer.compare(await readAt(fs, '/big', last, 1000), page.subarray(PAGE_SIZE_BYTES - 1000))).toBe(0);
      // Reboot through a checkpoint image: it carries the parts.
      await fs.checkpoint();
      await sys.shutdown();
      sys = await bootFsStack(disk);
      fs = sys.fs!;
      expect((await fs.snapshotDiff('s')).entries).toEqual([]);
      expect(Buffer.compare(await readAt(fs, '/.snapshots/s/big', 12_345 * PAGE_SIZE_BYTES, 100), page.subarray(0, 100))).toBe(0);
      await sys.shutdown();
      const report = await fsckImage(disk, { repair: false });
      expect(report.problems).toEqual([]);
      expect(report.exitCode).toBe(0);
      sys = await bootFsStack(disk);
    } finally {
      await sys.shutdown();
      disk.close();
    }
  });
});
