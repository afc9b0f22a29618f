// Restore walks the live tree and the snapshot together and touches only what differs:
// unchanged paths keep their inodes (and hard links their identity), changed ones get new
// inodes, and the next materialisation re-encodes only the changed objects and the
// directories above them. The log says the same after a remount (replay applies the same
// restore from a fresh cache).
import { describe, expect, it } from 'vitest';
import { ROOT_INO, type FsClient } from '../../services/fs/protocol.ts';
import { memFs } from './mem-seams.ts';
import { snapDump } from './snapshot-check.ts';
import { patterned } from '../helpers/stack.ts';

async function put(fs: FsClient, parent: number, name: string, data: Uint8Array): Promise<number> {
  const { attr, handle } = await fs.create(parent, name, 0o644);
  await fs.write(handle, 0, data);
  await fs.close(handle);
  return attr.ino;
}

describe('snapshot restore', () => {
  it('costs the difference: unchanged paths keep their inodes, changed ones are rebuilt', async () => {
    const m = await memFs();
    const fs = m.fs;
    const dirs: number[] = [];
    for (let i = 0; i < 10; i++) dirs.push((await fs.mkdir(ROOT_INO, `d${i}`)).ino);
    for (const [i, d] of dirs.entries()) for (let j = 0; j < 20; j++) await put(fs, d, `f${j}`, patterned(100 + j, i * 100 + j));
    const linked = (await fs.resolve('/d0/f0')).ino;
    await fs.link(linked, dirs[1], 'hard');
    await fs.snapshotCreate('a');
    const dumpA = await snapDump(fs);
    const inoBefore = (path: string) => fs.resolve(path).then((a) => a.ino);
    const kept = await inoBefore('/d5/f5');
    const changedIno = await inoBefore('/d3/f7');
    const h = await fs.open(changedIno, { write: true });
    await fs.write(h.handle, 0, patterned(10, 999));
    await fs.close(h.handle);
    await fs.unlink(dirs[4], 'f1');
    await put(fs, dirs[6], 'new', patterned(50, 1));
    await fs.snapshotCreate('b');
    const encodedBefore = m.engine().objectsEncoded();
    await fs.snapshotRestore('a');
    expect(await snapDump(fs)).toEqual(dumpA);
    expect(await inoBefore('/d5/f5')).toBe(kept);
    expect(await inoBefore('/d3/f7')).not.toBe(changedIno);
    expect(await inoBefore('/d0/f0')).toBe(linked); // an unchanged hard link keeps its identity
    expect(await inoBefore('/d1/hard')).toBe(linked);
    expect((await fs.getattr(linked)).nlink).toBe(2);
    m.engine().checkState();
    // The automatic snapshot had nothing new to encode (its tree is 'b'); the restored
    // tree's objects are all held, and a new snapshot of it encodes only the three directories
    // that changed in place (/d3, /d4, /d6), the root and the rebuilt /d3/f7 and /d4/f1.
    await fs.snapshotCreate('c');
    expect(m.engine().objectsEncoded() - encodedBefore).toBeLessThanOrEqual(6);
    const c = (await fs.snapshotList()).find((s) => s.name === 'c')!;
    const a = (await fs.snapshotList()).find((s) => s.name === 'a')!;
    expect(c.rootHash).toBe(a.rootHash);
    // Replay applies the same restore from a cold cache and reaches the same tree.
    const fs2 = await m.remount();
    expect(await snapDump(fs2)).toEqual(dumpA);
    expect((await fs2.resolve('/d5/f5')).ino).toBe(kept);
    await m.close();
  });
});
