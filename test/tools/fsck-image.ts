// Builds small test images for the fsck and inspect tests: a formatted memory disk with
// files, a hard link, a symlink, a directory, a snapshot and a change after it, shut down
// cleanly (so the fs has checkpointed).
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import type { DiskBackend } from '../../kernel/machine/disk/backend.ts';
import { ROOT_INO } from '../../services/fs/protocol.ts';
import { bootFsStack, formatTestDisk, MiB, patterned, writeWholeFile } from '../helpers/stack.ts';

/** A 32 MiB image: /a (200 KiB), /dir/b (5000 bytes), /dir/b-link (hard link), /s -> a, snapshot 'one', then /a rewritten and /c added. */
export async function sampleImage(): Promise<DiskBackend> {
  const disk = await formatTestDisk(new MemoryBackend(32 * MiB));
  const sys = await bootFsStack(disk, { seed: 1 });
  const fs = sys.fs!;
  await writeWholeFile(fs, ROOT_INO, 'a', patterned(200 * 1024, 1));
  const dir = await fs.mkdir(ROOT_INO, 'dir');
  const b = await writeWholeFile(fs, dir.ino, 'b', patterned(5000, 2));
  await fs.link(b, dir.ino, 'b-link');
  await fs.symlink(ROOT_INO, 's', 'a');
  await fs.snapshotCreate('one');
  await writeWholeFile(fs, ROOT_INO, 'c', patterned(70 * 1024, 3));
  const a = await fs.lookup(ROOT_INO, 'a');
  const { handle } = await fs.open(a.ino, { write: true });
  await fs.write(handle, 0, patterned(4096, 4));
  await fs.close(handle);
  await sys.shutdown();
  return disk;
}
