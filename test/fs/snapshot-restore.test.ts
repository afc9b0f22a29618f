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
    // The automatic snapshot had nothing new to encode (its tree is 'b'), and the restore
    // told the cache which held object each inode it changed or made now is: a new snapshot
    // of the restored tree encodes nothing.
    await fs.snapshotCreate('c');
    expect(m.engine().objectsEncoded() - encodedBefore).toBe(0);
    const c = (await fs.snapshotList()).find((s) => s.name === 'c')!;
    const a = (await fs.snapshotList()).find((s) => s.name === 'a')!;
    expect(c.rootHash).toBe(a.rootHash);
    // The cache a restore seeded follows later changes as one it made itself: change a
    // rebuilt file, a kept one and a restored directory, snapshot; a cold cache after a
    // remount (replay applies the same restore) materialises the same root.
    const w = await fs.open(await inoBefore('/d3/f7'), { write: true });
    await fs.write(w.handle, 5, patterned(3, 7));
    await fs.close(w.handle);
    await fs.setattr(kept, { mode: 0o600 });
    await fs.mkdir(dirs[4], 'sub');
    const warm = await fs.snapshotCreate('warm');
    const dumpWarm = await snapDump(fs);
    const fs2 = await m.remount();
    expect(await snapDump(fs2)).toEqual(dumpWarm);
    expect((await fs2.resolve('/d5/f5')).ino).toBe(kept);
    expect((await fs2.snapshotCreate('cold')).rootHash).toBe(warm.rootHash);
    await fs2.snapshotRestore('a');
    expect(await snapDump(fs2)).toEqual(dumpA);
    await m.close();
  });
});
