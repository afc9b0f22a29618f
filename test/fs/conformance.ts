// The classic cases pjdfstest and xfstests check for these operations, written once
// against the fs protocol client, and run against every implementation of it (the
// reference model and services/fs). Each case is named after what it checks.
import { expect, it } from 'vitest';
import type { FsClient } from '../../services/fs/protocol.ts';
import { ROOT_INO } from '../../services/fs/protocol.ts';

export interface FsUnderTest {
  fs: FsClient;
  /** Unmount and mount again (a no-op for in-memory models). */
  remount?: () => Promise<FsClient>;
  close: () => Promise<void>;
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

export function conformanceCases(open: () => Promise<FsUnderTest>): void {
  const withFs = (name: string, body: (fs: FsClient, t: FsUnderTest) => Promise<void>) =>
    it(name, async () => {
      const t = await open();
      try {
        await body(t.fs, t);
      } finally {
        await t.close();
      }
    });

  withFs('create then lookup finds the same inode; a second create is EEXIST', async (fs) => {
    const { attr, handle } = await fs.create(ROOT_INO, 'a', 0o644);
    expect(attr.type).toBe('file');
    expect(attr.nlink).toBe(1);
    expect((await fs.lookup(ROOT_INO, 'a')).ino).toBe(attr.ino);
    expect(await code(fs.create(ROOT_INO, 'a', 0o644))).toBe('EEXIST');
    await fs.close(handle);
  });

  withFs('names: empty, slash, NUL, dot, dot-dot and over-long names are refused', async (fs) => {
    expect(await code(fs.mkdir(ROOT_INO, ''))).toBe('EINVAL');
    expect(await code(fs.mkdir(ROOT_INO, 'a/b'))).toBe('EINVAL');
    expect(await code(fs.mkdir(ROOT_INO, 'a\0b'))).toBe('EINVAL');
    expect(await code(fs.mkdir(ROOT_INO, '.'))).toBe('EINVAL');
    expect(await code(fs.mkdir(ROOT_INO, '..'))).toBe('EINVAL');
    expect(await code(fs.mkdir(ROOT_INO, 'x'.repeat(256)))).toBe('ENAMETOOLONG');
    expect(await code(fs.mkdir(ROOT_INO, 'x'.repeat(255)))).toBe('ok');
    expect(await code(fs.mkdir(ROOT_INO, 'é'.repeat(128)))).toBe('ENAMETOOLONG'); // 256 bytes of UTF-8
  });

  withFs('lookup of dot and dot-dot; lookup under a file is ENOTDIR', async (fs) => {
    const d = await fs.mkdir(ROOT_INO, 'd');
    expect((await fs.lookup(d.ino, '.')).ino).toBe(d.ino);
    expect((await fs.lookup(d.ino, '..')).ino).toBe(ROOT_INO);
    expect((await fs.lookup(ROOT_INO, '..')).ino).toBe(ROOT_INO);
    const { attr } = await fs.create(d.ino, 'f', 0o600);
    expect(await code(fs.lookup(attr.ino, 'x'))).toBe('ENOTDIR');
    expect(await code(fs.lookup(d.ino, 'missing'))).toBe('ENOENT');
  });

  withFs('walk returns the prefix it could walk and why it stopped', async (fs) => {
    const a = await fs.mkdir(ROOT_INO, 'a');
    const b = await fs.mkdir(a.ino, 'b');
    const w = await fs.walk(ROOT_INO, ['a', 'b', 'c', 'd']);
    expect(w.attrs.map((x) => x.ino)).toEqual([a.ino, b.ino]);
    expect(w.error?.code).toBe('ENOENT');
    expect(await code(fs.walk(ROOT_INO, ['zz']))).toBe('ENOENT');
    expect((await fs.walk(ROOT_INO, [])).attrs).toEqual([]);
  });

  withFs('directory nlink counts its subdirectories', async (fs) => {
    const d = await fs.mkdir(ROOT_INO, 'd');
    expect(d.nlink).toBe(2);
    await fs.mkdir(d.ino, 's1');
    await fs.mkdir(d.ino, 's2');
    await fs.create(d.ino, 'f', 0o644);
    expect((await fs.getattr(d.ino)).nlink).toBe(4);
    await fs.rmdir(d.ino, 's1');
    expect((await fs.getattr(d.ino)).nlink).toBe(3);
  });

  withFs('rmdir: non-empty is ENOTEMPTY, a file is ENOTDIR; unlink of a directory is EISDIR', async (fs) => {
    const d = await fs.mkdir(ROOT_INO, 'd');
    await fs.create(d.ino, 'f', 0o644);
    expect(await code(fs.rmdir(ROOT_INO, 'd'))).toBe('ENOTEMPTY');
    expect(await code(fs.rmdir(d.ino, 'f'))).toBe('ENOTDIR');
    expect(await code(fs.unlink(ROOT_INO, 'd'))).toBe('EISDIR');
    await fs.unlink(d.ino, 'f');
    await fs.rmdir(ROOT_INO, 'd');
    expect(await code(fs.lookup(ROOT_INO, 'd'))).toBe('ENOENT');
  });

  withFs('write and read at offsets; reads past the end are short; holes read as zeros', async (fs) => {
    const { attr, handle } = await fs.create(ROOT_INO, 'f', 0o644);
    expect(await fs.write(handle, 0, bytes('hello'))).toBe(5);
    expect(await fs.write(handle, 10_000, bytes('world'))).toBe(5);
    expect((await fs.getattr(attr.ino)).sizeBytes).toBe(10_005);
    expect(text(await fs.read(handle, 0, 5))).toBe('hello');
    expect((await fs.read(handle, 5, 100)).every((b) => b === 0)).toBe(true);
    expect(text(await fs.read(handle, 10_000, 100))).toBe('world');
    expect((await fs.read(handle, 20_000, 10)).length).toBe(0);
    await fs.close(handle);
  });

  withFs('truncate down and up: the tail is gone and reads back as zeros', async (fs) => {
    const { attr, handle } = await fs.create(ROOT_INO, 'f', 0o644);
    await fs.write(handle, 0, bytes('abcdefgh'));
    await fs.truncate(attr.ino, 3);
    expect(text(await fs.read(handle, 0, 100))).toBe('abc');
    await fs.truncate(attr.ino, 6);
    expect([...(await fs.read(handle, 0, 100))]).toEqual([97, 98, 99, 0, 0, 0]);
    expect((await fs.getattr(attr.ino)).sizeBytes).toBe(6);
    const d = await fs.mkdir(ROOT_INO, 'd');
    expect(await code(fs.truncate(d.ino, 0))).toBe('EISDIR');
    await fs.close(handle);
  });

  withFs('a handle opened read-only cannot write; a closed handle is EBADF', async (fs) => {
    const { attr, handle } = await fs.create(ROOT_INO, 'f', 0o644);
    await fs.close(handle);
    const { handle: ro } = await fs.open(attr.ino, { read: true });
    expect(await code(fs.write(ro, 0, bytes('x')))).toBe('EBADF');
    await fs.close(ro);
    expect(await code(fs.read(ro, 0, 1))).toBe('EBADF');
    expect(await code(fs.close(ro))).toBe('EBADF');
    const d = await fs.mkdir(ROOT_INO, 'd');
    expect(await code(fs.open(d.ino, { write: true }))).toBe('EISDIR');
  });

  withFs('open with truncate empties the file; append writes at the end', async (fs) => {
    const { attr, handle } = await fs.create(ROOT_INO, 'f', 0o644);
    await fs.write(handle, 0, bytes('0123456789'));
    await fs.close(handle);
    const { handle: ap } = await fs.open(attr.ino, { write: true, append: true, read: true });
    await fs.write(ap, 0, bytes('AB'));
    expect(text(await fs.read(ap, 0, 100))).toBe('0123456789AB');
    await fs.close(ap);
    const { handle: tr } = await fs.open(attr.ino, { write: true, truncate: true });
    expect((await fs.getattr(attr.ino)).sizeBytes).toBe(0);
    await fs.close(tr);
  });

  withFs('unlink of an open file: the data stays readable through the handle', async (fs) => {
    const { handle } = await fs.create(ROOT_INO, 'f', 0o644);
    await fs.write(handle, 0, bytes('still here'));
    await fs.unlink(ROOT_INO, 'f');
    expect(await code(fs.lookup(ROOT_INO, 'f'))).toBe('ENOENT');
    expect(text(await fs.read(handle, 0, 100))).toBe('still here');
    await fs.write(handle, 10, bytes('!'));
    expect(text(await fs.read(handle, 0, 100))).toBe('still here!');
    await fs.close(handle);
  });

  withFs('hard links share an inode and count nlink; a link to a directory is EPERM', async (fs) => {
    const { attr, handle } = await fs.create(ROOT_INO, 'a', 0o644);
    await fs.write(handle, 0, bytes('shared'));
    const l = await fs.link(attr.ino, ROOT_INO, 'b');
    expect(l.ino).toBe(attr.ino);
    expect(l.nlink).toBe(2);
    await fs.unlink(ROOT_INO, 'a');
    expect((await fs.getattr(attr.ino)).nlink).toBe(1);
    const { handle: h2 } = await fs.open((await fs.lookup(ROOT_INO, 'b')).ino, { read: true });
    expect(text(await fs.read(h2, 0, 10))).toBe('shared');
    const d = await fs.mkdir(ROOT_INO, 'd');
    expect(await code(fs.link(d.ino, ROOT_INO, 'dl'))).toBe('EPERM');
    expect(await code(fs.link(attr.ino, ROOT_INO, 'b'))).toBe('EEXIST');
    await fs.close(handle);
    await fs.close(h2);
  });

  withFs('rename a file over a file replaces it; over a directory is EISDIR', async (fs) => {
    const a = await fs.create(ROOT_INO, 'a', 0o644);
    await fs.write(a.handle, 0, bytes('A'));
    const b = await fs.create(ROOT_INO, 'b', 0o644);
    await fs.rename(ROOT_INO, 'a', ROOT_INO, 'b');
    expect(await code(fs.lookup(ROOT_INO, 'a'))).toBe('ENOENT');
    expect((await fs.lookup(ROOT_INO, 'b')).ino).toBe(a.attr.ino);
    await fs.mkdir(ROOT_INO, 'd');
    expect(await code(fs.rename(ROOT_INO, 'b', ROOT_INO, 'd'))).toBe('EISDIR');
    await fs.close(a.handle);
    await fs.close(b.handle);
  });

  withFs('rename a directory over an empty directory replaces it; over a non-empty one is ENOTEMPTY', async (fs) => {
    const src = await fs.mkdir(ROOT_INO, 'src');
    await fs.mkdir(ROOT_INO, 'empty');
    const full = await fs.mkdir(ROOT_INO, 'full');
    await fs.create(full.ino, 'x', 0o644);
    expect(await code(fs.rename(ROOT_INO, 'src', ROOT_INO, 'full'))).toBe('ENOTEMPTY');
    await fs.rename(ROOT_INO, 'src', ROOT_INO, 'empty');
    expect((await fs.lookup(ROOT_INO, 'empty')).ino).toBe(src.ino);
    expect((await fs.getattr(ROOT_INO)).nlink).toBe(4); // root, '.', empty (was src), full
    const { attr } = await fs.create(ROOT_INO, 'file', 0o644);
    expect(await code(fs.rename(ROOT_INO, 'empty', ROOT_INO, 'file'))).toBe('ENOTDIR');
    expect(attr.type).toBe('file');
  });

  withFs('rename a directory into its own subtree is EINVAL; across directories moves nlink', async (fs) => {
    const a = await fs.mkdir(ROOT_INO, 'a');
    const b = await fs.mkdir(a.ino, 'b');
    expect(await code(fs.rename(ROOT_INO, 'a', b.ino, 'a2'))).toBe('EINVAL');
    expect(await code(fs.rename(ROOT_INO, 'a', a.ino, 'self'))).toBe('EINVAL');
    const c = await fs.mkdir(ROOT_INO, 'c');
    await fs.rename(a.ino, 'b', c.ino, 'b');
    expect((await fs.getattr(a.ino)).nlink).toBe(2);
    expect((await fs.getattr(c.ino)).nlink).toBe(3);
    expect((await fs.lookup(b.ino, '..')).ino).toBe(c.ino);
  });

  withFs('rename between two links of one inode is a no-op', async (fs) => {
    const { attr, handle } = await fs.create(ROOT_INO, 'a', 0o644);
    await fs.link(attr.ino, ROOT_INO, 'b');
    await fs.rename(ROOT_INO, 'a', ROOT_INO, 'b');
    expect((await fs.lookup(ROOT_INO, 'a')).ino).toBe(attr.ino);
    expect((await fs.lookup(ROOT_INO, 'b')).ino).toBe(attr.ino);
    expect((await fs.getattr(attr.ino)).nlink).toBe(2);
    await fs.close(handle);
  });

  withFs('symlinks: readlink, resolve follows them, loops are ELOOP', async (fs) => {
    const d = await fs.mkdir(ROOT_INO, 'd');
    const { attr, handle } = await fs.create(d.ino, 'f', 0o644);
    const s = await fs.symlink(ROOT_INO, 's', 'd/f');
    expect(s.type).toBe('symlink');
    expect(await fs.readlink(s.ino)).toBe('d/f');
    expect((await fs.resolve('/s')).ino).toBe(attr.ino);
    expect((await fs.resolve('/s', false)).ino).toBe(s.ino);
    await fs.symlink(ROOT_INO, 'abs', '/d');
    expect((await fs.resolve('/abs/f')).ino).toBe(attr.ino);
    await fs.symlink(ROOT_INO, 'l1', 'l2');
    await fs.symlink(ROOT_INO, 'l2', 'l1');
    expect(await code(fs.resolve('/l1'))).toBe('ELOOP');
    expect(await code(fs.readlink(attr.ino))).toBe('EINVAL');
    await fs.close(handle);
  });

  withFs('readdir lists every entry once across pages, and its cookies survive changes', async (fs) => {
    const d = await fs.mkdir(ROOT_INO, 'd');
    for (let i = 0; i < 50; i++) await fs.create(d.ino, `f${i}`, 0o644).then((r) => fs.close(r.handle));
    const first = await fs.readdir(d.ino, 0, 20);
    expect(first.entries.length).toBe(20);
    expect(first.eof).toBe(false);
    // Change the directory between pages: remove one seen and one unseen entry, add one.
    await fs.unlink(d.ino, first.entries[0].name);
    await fs.unlink(d.ino, 'f30');
    await fs.create(d.ino, 'late', 0o644).then((r) => fs.close(r.handle));
    const names = new Set(first.entries.map((e) => e.name));
    let cookie = first.entries[first.entries.length - 1].cookie;
    for (;;) {
      const page = await fs.readdir(d.ino, cookie, 20);
      for (const e of page.entries) {
        expect(names.has(e.name)).toBe(false);
        names.add(e.name);
      }
      if (page.eof) break;
      cookie = page.entries[page.entries.length - 1].cookie;
    }
    for (let i = 1; i < 50; i++) if (i !== 30) expect(names.has(`f${i}`)).toBe(true);
    expect(names.has('f30')).toBe(false);
    expect(names.has('late')).toBe(true);
  });

  withFs('setattr changes mode, owner and times; size through setattr truncates', async (fs) => {
    const { attr, handle } = await fs.create(ROOT_INO, 'f', 0o644);
    await fs.write(handle, 0, bytes('12345'));
    const a = await fs.setattr(attr.ino, { mode: 0o600, uid: 1000, gid: 100, mtime: { sec: 1000, nsec: 5 }, sizeBytes: 2 });
    expect(a).toMatchObject({ mode: 0o600, uid: 1000, gid: 100, sizeBytes: 2, mtime: { sec: 1000, nsec: 5 } });
    expect(await code(fs.setattr(attr.ino, { mode: 0o17777 }))).toBe('EINVAL');
    await fs.close(handle);
  });

  withFs('bad handles and inodes: EBADF and ESTALE, and nothing changes', async (fs) => {
    expect(await code(fs.read(12345, 0, 1))).toBe('EBADF');
    expect(await code(fs.getattr(999_999))).toBe('ESTALE');
    expect(await code(fs.mkdir(999_999, 'x'))).toBe('ESTALE');
    expect((await fs.readdir(ROOT_INO)).entries).toEqual([]);
  });
}
