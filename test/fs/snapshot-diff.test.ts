// Diff's renamed-looking paths over the whole stack (times move between the operations, so
// a rename that keeps a file's contents is still found): a moved file, a moved directory
// (one entry, nothing listed under it), a moved-and-changed file (removed and added), and
// the shell's view of it.
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { ROOT_INO, type FsClient } from '../../services/fs/protocol.ts';
import { bootFsStack, formatTestDisk, MiB, patterned } from '../helpers/stack.ts';
import { FsSnapshots } from '../../tools/shell/backends.ts';

async function put(fs: FsClient, parent: number, name: string, data: Uint8Array): Promise<void> {
  const { handle } = await fs.create(parent, name, 0o644);
  await fs.write(handle, 0, data);
  await fs.close(handle);
}

describe('snapshot diff', () => {
  it('reports a moved file and a moved directory as renames, a moved-and-changed file as removed and added', async () => {
    const disk = await formatTestDisk(new MemoryBackend(64 * MiB));
    const sys = await bootFsStack(disk);
    try {
      const fs = sys.fs!;
      const d = await fs.mkdir(ROOT_INO, 'd');
      const e = await fs.mkdir(d.ino, 'e');
      await put(fs, ROOT_INO, 'a', patterned(70_000, 1));
      await put(fs, ROOT_INO, 'c', patterned(3000, 2));
      await put(fs, e.ino, 'x', patterned(5000, 3));
      await put(fs, e.ino, 'y', patterned(6000, 4));
      await fs.snapshotCreate('before');
      await sys.kernel.advanceTime(5_000);
      await fs.rename(ROOT_INO, 'a', d.ino, 'a2');
      await fs.rename(d.ino, 'e', ROOT_INO, 'e2');
      await fs.rename(ROOT_INO, 'c', ROOT_INO, 'c2');
      const h = await fs.open((await fs.resolve('/c2')).ino, { write: true });
      await fs.write(h.handle, 0, new Uint8Array([1]));
      await fs.close(h.handle);
      const { entries } = await fs.snapshotDiff('before');
      // Directories whose entries changed are not 'modified' (times aside, only mode and owner count).
      expect(entries.map((x) => (x.change === 'renamed' ? `renamed ${x.from} -> ${x.path}` : `${x.change} ${x.path}`)).sort()).toEqual(['added /c2', 'removed /c', 'renamed /a -> /d/a2', 'renamed /d/e -> /e2']);
      const a = entries.find((x) => x.path === '/d/a2')!;
      expect(a).toMatchObject({ type: 'file', sizeBytesBefore: 70_000, sizeBytesAfter: 70_000 });
      expect(entries.find((x) => x.path === '/e2')!.type).toBe('dir');
      // The same through a second snapshot, and through the shell's view.
      await fs.snapshotCreate('after');
      const shell = await new FsSnapshots(fs).diff('before', 'after');
      expect(shell.filter((x) => x.change === 'renamed').map((x) => `${x.from} -> ${x.path}`).sort()).toEqual(['/a -> /d/a2', '/d/e -> /e2']);
      // Reversed, the renames go the other way.
      const back = await fs.snapshotDiff('after', 'before');
      expect(back.entries.filter((x) => x.change === 'renamed').map((x) => `${x.from} -> ${x.path}`).sort()).toEqual(['/d/a2 -> /a', '/e2 -> /d/e']);
    } finally {
      await sys.shutdown();
      disk.close();
    }
  });
});
