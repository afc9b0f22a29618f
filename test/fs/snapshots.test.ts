// Snapshots and clones over the whole stack (content store, Axiom, block service): the
// random model check with reboots, GC across snapshots, clones sharing chunks, a
// checkpoint image that carries snapshots, bad input, and restore under open handles.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ROOT_INO } from '../../services/fs/protocol.ts';
import { codeOf, MiB, openStackSubject, patterned, readWholeFile, writeWholeFile } from '../helpers/stack.ts';
import { runSnapshotCheck, snapDump, snapOpArb } from './snapshot-check.ts';
import { memFs } from './mem-seams.ts';
import { FsSnapshots, backendsFor } from '../../tools/shell/backends.ts';

const openStack = () => openStackSubject();

describe('snapshots over the whole stack', () => {
  it('agree with their model on random operations across reboots', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(snapOpArb, { minLength: 10, maxLength: 30 }), async (script) => void (await runSnapshotCheck(openStack, script))),
      { numRuns: 6 },
    );
  });

  it('keep data only a snapshot holds through gc until the snapshot is deleted', async () => {
    const s = await openStack();
    try {
      const fs = s.fs;
      const data = patterned(2 * MiB, 7);
      await writeWholeFile(fs, ROOT_INO, 'f', data);
      await fs.snapshotCreate('keep');
      await fs.unlink(ROOT_INO, 'f');
      await s.sys().kernel.advanceTime(11 * 60_000); // past the lease: only the snapshot keeps the pages now
      await fs.gc();
      const held = await s.sys().content!.stats();
      expect(held.storedBytes).toBeGreaterThanOrEqual(data.length);
      const [info] = await fs.snapshotList();
      expect(info).toMatchObject({ name: 'keep', fileCount: 1, sizeBytes: data.length });
      expect(info.exclusiveBytes).toBe(data.length); // the live tree no longer has it
      await fs.snapshotRestore('keep');
      expect(Buffer.compare(await readWholeFile(fs, '/f'), data)).toBe(0);
      // Delete every snapshot and the file again: the bytes go.
      await fs.unlink(ROOT_INO, 'f');
      for (const sn of await fs.snapshotList()) await fs.snapshotDelete(sn.name);
      await s.sys().kernel.advanceTime(11 * 60_000); // past the content store's lease on puts without a reference
      const report = await fs.gc();
      expect(report.sweptBytes).toBeGreaterThanOrEqual(data.length);
      expect((await s.sys().content!.stats()).storedBytes).toBeLessThan(held.storedBytes - data.length + 1);
    } finally {
      await s.close();
    }
  });

  it('clone a multi-MiB file without new data chunks; a 4 KiB write into the clone adds one chunk', async () => {
    const s = await openStack();
    try {
      const fs = s.fs;
      const data = patterned(4 * MiB, 11);
      const ino = await writeWholeFile(fs, ROOT_INO, 'orig', data);
      const before = await s.sys().content!.stats();
      const c = await fs.clone(ino, ROOT_INO, 'copy');
      expect(c.sizeBytes).toBe(data.length);
      expect(c.ino).not.toBe(ino);
      const cloned = await s.sys().content!.stats();
      expect(cloned.chunkCount).toBe(before.chunkCount);
      expect(cloned.storedBytes).toBe(before.storedBytes);
      const { handle } = await fs.open(c.ino, { read: true, write: true });
      await fs.write(handle, 100_000, new Uint8Array(4096).fill(0xab));
      await fs.close(handle);
      const after = await s.sys().content!.stats();
      expect(after.chunkCount).toBe(cloned.chunkCount + 1);
      expect(Buffer.compare(await readWholeFile(fs, '/orig'), data)).toBe(0);
      const expected = data.slice();
      expected.fill(0xab, 100_000, 104_096);
      expect(Buffer.compare(await readWholeFile(fs, '/copy'), expected)).toBe(0);
      // A directory clone copies the subtree; both survive a reboot.
      const d = await fs.mkdir(ROOT_INO, 'd');
      await writeWholeFile(fs, d.ino, 'x', patterned(70_000, 3));
      await fs.clone(d.ino, ROOT_INO, 'd2');
      const dump = await snapDump(fs);
      expect(dump['/d2/x']).toBe(dump['/d/x']);
      const fs2 = await s.remount();
      expect(await snapDump(fs2)).toEqual(dump);
    } finally {
      await s.close();
    }
  });

  it('refuse bad input: unknown names, duplicates, names with / ; restore gives ESTALE to handles on files it removed or replaced', async () => {
    const s = await openStack();
    try {
      const fs = s.fs;
      expect(await codeOf(fs.snapshotCreate('a/b'))).toBe('EINVAL');
      expect(await codeOf(fs.snapshotCreate(''))).toBe('EINVAL');
      expect(await codeOf(fs.snapshotCreate('x'.repeat(300)))).toBe('ENAMETOOLONG');
      expect(await codeOf(fs.snapshotRestore('nope'))).toBe('ENOENT');
      expect(await codeOf(fs.snapshotDelete('nope'))).toBe('ENOENT');
      expect(await codeOf(fs.snapshotDiff('nope'))).toBe('ENOENT');
      await writeWholeFile(fs, ROOT_INO, 'kept', patterned(1000, 1));
      await writeWholeFile(fs, ROOT_INO, 'changed', patterned(1000, 3));
      await fs.snapshotCreate('one');
      const changed = await fs.open((await fs.resolve('/changed')).ino, { read: true, write: true });
      await fs.write(changed.handle, 0, patterned(10, 4));
      await fs.fsync(changed.handle);
      expect(await codeOf(fs.snapshotCreate('one'))).toBe('EEXIST');
      expect(await codeOf(fs.snapshotDiff('one', 'nope'))).toBe('ENOENT');
      const late = await fs.create(ROOT_INO, 'late', 0o644);
      await fs.write(late.handle, 0, patterned(5000, 2)); // buffered: restore commits it into the automatic snapshot
      const kept = await fs.open((await fs.resolve('/kept')).ino, { read: true });
      const saved = await fs.snapshotRestore('one');
      expect(saved).toBe('pre-restore-1');
      expect(await codeOf(fs.read(late.handle, 0, 10))).toBe('ESTALE');
      expect(await codeOf(fs.write(late.handle, 0, new Uint8Array(1)))).toBe('ESTALE');
      expect(await codeOf(fs.read(changed.handle, 0, 10))).toBe('ESTALE'); // replaced: never the snapshot's bytes through it
      // A file the restore did not change keeps its inode, and its handle reads what it always had.
      expect(Buffer.compare(await fs.read(kept.handle, 0, 1000), patterned(1000, 1))).toBe(0);
      expect(Buffer.compare(await readWholeFile(fs, '/changed'), patterned(1000, 3))).toBe(0);
      await fs.close(late.handle);
      await fs.close(kept.handle);
      await fs.close(changed.handle);
      expect(await codeOf(fs.resolve('/late'))).toBe('ENOENT');
      const diff = await fs.snapshotDiff('one', saved);
      expect(diff.entries.map((e) => `${e.change} ${e.path}`)).toEqual(['modified /changed', 'added /late']);
      expect((await fs.snapshotList()).map((x) => x.name)).toEqual(['one', 'pre-restore-1']);
      expect(await codeOf(fs.clone(999_999, ROOT_INO, 'c'))).toBe('ESTALE');
      expect(await codeOf(fs.clone((await fs.resolve('/kept')).ino, ROOT_INO, 'kept'))).toBe('EEXIST');
    } finally {
      await s.close();
    }
  });
});

describe('the shell wiring (tools/shell/backends.ts)', () => {
  it('serves SnapshotsApi and GcApi from services/fs over the real stack', async () => {
    const s = await openStack();
    try {
      const backends = backendsFor(s.sys());
      expect(backends.snapshots).toBeInstanceOf(FsSnapshots);
      const api = backends.snapshots!;
      await writeWholeFile(s.fs, ROOT_INO, 'a', patterned(3000, 1));
      const made = await api.create('one');
      expect(made).toMatchObject({ name: 'one', fileCount: 1, dirCount: 1, sizeBytes: 3000 });
      expect(made.rootHash).toMatch(/^[0-9a-f]{64}$/);
      await s.fs.unlink(ROOT_INO, 'a');
      expect(await api.diff('one')).toEqual([{ path: '/a', change: 'removed', type: 'file', sizeBytesBefore: 3000, sizeBytesAfter: undefined }]);
      expect((await api.show('one')).name).toBe('one');
      expect(await codeOf(api.show('nope'))).toBe('ENOENT');
      await api.restore('one');
      expect((await api.list()).map((x) => x.name)).toEqual(['one', 'pre-restore-1']);
      await api.delete('pre-restore-1');
      expect((await backends.gc!.gc()).liveChunks).toBeGreaterThan(0);
      expect((await s.fs.resolve('/a')).sizeBytes).toBe(3000);
    } finally {
      await s.close();
    }
  });
});

describe('snapshots in the engine', () => {
  it('materialise again only what changed, and survive a checkpoint image', async () => {
    const m = await memFs();
    const fs = m.fs;
    const dirs: number[] = [];
    for (let i = 0; i < 10; i++) dirs.push((await fs.mkdir(ROOT_INO, `d${i}`)).ino);
    for (const d of dirs) for (let j = 0; j < 20; j++) await fs.close((await fs.create(d, `f${j}`, 0o644)).handle);
    await fs.snapshotCreate('a');
    const first = m.engine().objectsEncoded();
    expect(first).toBe(1 + 10 + 200);
    const h = await fs.open((await fs.resolve('/d3/f7')).ino, { write: true });
    await fs.write(h.handle, 0, patterned(10, 1));
    await fs.close(h.handle);
    await fs.snapshotCreate('b');
    expect(m.engine().objectsEncoded() - first).toBe(3); // the file, /d3 and the root
    const diff = await fs.snapshotDiff('a', 'b');
    expect(diff.entries).toEqual([{ path: '/d3/f7', change: 'modified', type: 'file', sizeBytesBefore: 0, sizeBytesAfter: 10, what: ['content', 'size'] }]);
    await m.engine().checkpoint();
    const dump = await snapDump(fs);
    await fs.snapshotRestore('a');
    const fs2 = await m.remount(); // the image holds the snapshots; the log after it the restore
    expect((await fs2.snapshotList()).map((s) => s.name)).toEqual(['a', 'b', 'pre-restore-1']);
    expect((await fs2.getattr((await fs2.resolve('/d3/f7')).ino)).sizeBytes).toBe(0);
    await fs2.snapshotRestore('b');
    expect(await snapDump(fs2)).toEqual(dump);
    m.engine().checkState();
    await m.close();
  });

  it('serve snapshots read-only under /.snapshots/NAME', async () => {
    const m = await memFs();
    const fs = m.fs;
    const d = await fs.mkdir(ROOT_INO, 'd');
    const old = patterned(150_000, 5);
    await writeWholeFile(fs, d.ino, 'f', old);
    await fs.symlink(d.ino, 'l', 'f');
    await fs.snapshotCreate('snap');
    const h = await fs.open((await fs.resolve('/d/f')).ino, { write: true, truncate: true });
    await fs.write(h.handle, 0, patterned(10, 6));
    await fs.close(h.handle);
    expect((await fs.readdir(ROOT_INO)).entries.map((e) => e.name)).toEqual(['d']); // hidden, as .zfs
    const top = await fs.resolve('/.snapshots');
    expect(top.type).toBe('dir');
    expect((await fs.readdir(top.ino)).entries.map((e) => e.name)).toEqual(['snap']);
    const sd = await fs.resolve('/.snapshots/snap/d');
    expect((await fs.readdir(sd.ino)).entries.map((e) => `${e.name} ${e.type}`)).toEqual(['f file', 'l symlink']);
    const f = await fs.resolve('/.snapshots/snap/d/l'); // follows the symlink inside the snapshot
    expect(f.sizeBytes).toBe(old.length);
    expect(Buffer.compare(await readWholeFile(fs, '/.snapshots/snap/d/f'), old)).toBe(0);
    expect((await fs.lookup(sd.ino, '..')).ino).toBe((await fs.resolve('/.snapshots/snap')).ino);
    expect((await fs.lookup(top.ino, '..')).ino).toBe(ROOT_INO); // what a 9P readdir of /.snapshots asks for its '..' entry
    expect(await codeOf(fs.open(f.ino, { read: true, write: true }))).toBe('EROFS');
    expect(await codeOf(fs.create(sd.ino, 'new', 0o644))).toBe('EROFS');
    expect(await codeOf(fs.mkdir(sd.ino, 'new'))).toBe('EROFS');
    expect(await codeOf(fs.unlink(sd.ino, 'f'))).toBe('EROFS');
    expect(await codeOf(fs.rename(sd.ino, 'f', ROOT_INO, 'stolen'))).toBe('EROFS');
    expect(await codeOf(fs.setattr(f.ino, { mode: 0o600 }))).toBe('EROFS');
    expect(await codeOf(fs.truncate(f.ino, 0))).toBe('EROFS');
    expect(await codeOf(fs.link(f.ino, ROOT_INO, 'x'))).toBe('EROFS');
    expect(await codeOf(fs.resolve('/.snapshots/nope'))).toBe('ENOENT');
    const r = await fs.open(f.ino, { read: true });
    await fs.snapshotDelete('snap');
    expect(await codeOf(fs.read(r.handle, 0, 10))).toBe('ESTALE');
    await fs.close(r.handle);
    expect(Buffer.compare(await readWholeFile(fs, '/d/f'), patterned(10, 6))).toBe(0);
    await m.close();
  });
});
