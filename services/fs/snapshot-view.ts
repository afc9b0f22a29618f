/**
 * Read-only access to snapshots under /.snapshots/NAME/...: lookup, getattr, readdir,
 * readlink, open for reading and read, served from the snapshots' tree objects (held in
 * FsState); every change is EROFS.
 *
 * Inode numbers. A virtual inode is numbered from VIRTUAL_INO_BASE (2^50, above any real
 * one) and stands for (snapshot, path). Numbers are handed out as paths are looked up and
 * kept while the engine runs (they are not persistent, as 9P qids need not be across
 * restarts); a path whose snapshot was deleted or whose object is gone gives ESTALE.
 * '.snapshots' is found by lookup in the root but not listed by readdir, as ZFS's .zfs.
 *
 * Invariant: every virtual inode's `hash` is an object some snapshot's tree reaches from
 * the root of `snap` along `path` at the time it was numbered; a snapshot's objects never
 * change, so the pair stays right until the snapshot is deleted (a new snapshot of the
 * same name is checked by its root).
 */
import { fsError, ROOT_INO, type Attr, type DirEntry } from './protocol.ts';
import type { FsState } from './state.ts';
import { hashKey } from './pages.ts';
import type { NodeObject } from './tree.ts';
import { PAGE_SIZE_BYTES } from './limits.ts';

export const VIRTUAL_INO_BASE = 2 ** 50;
export const SNAPSHOTS_DIR_NAME = '.snapshots';
/** The /.snapshots directory itself. */
export const SNAPSHOTS_DIR_INO = VIRTUAL_INO_BASE;
/** Bounds the numbers handed out (each is a few dozen bytes of memory). */
const VIRTUAL_INODES_MAX = 1_000_000;

export function isVirtual(ino: number): boolean {
  return ino >= VIRTUAL_INO_BASE;
}

interface VNode {
  snap: string;
  /** The snapshot's root when numbered (a re-created name is another tree). */
  root: string;
  hash: Uint8Array;
  parent: number;
}

export class SnapshotView {
  private readonly nodes = new Map<number, VNode>();
  private readonly byKey = new Map<string, number>();
  private next = VIRTUAL_INO_BASE + 1;

  constructor(private readonly state: () => FsState) {}

  private node(ino: number): { v: VNode; obj: NodeObject } {
    const v = this.nodes.get(ino);
    if (!v) throw fsError('ESTALE', `no inode ${ino}`);
    const s = this.state().snapshots.get(v.snap);
    if (!s || hashKey(s.root) !== v.root) throw fsError('ESTALE', `snapshot '${v.snap}' is gone`);
    const held = this.state().held.get(hashKey(v.hash));
    if (!held) throw fsError('ESTALE', `inode ${ino} is gone`);
    if (held.obj.kind === 'piece') throw fsError('EIO', `inode ${ino} names a directory piece: the snapshot's tree is damaged`);
    return { v, obj: held.obj };
  }

  private number(snap: string, root: string, path: string, hash: Uint8Array, parent: number): number {
    const key = `${snap}\0${root}\0${path}`;
    let ino = this.byKey.get(key);
    if (ino === undefined) {
      if (this.nodes.size >= VIRTUAL_INODES_MAX) throw fsError('ENOSPC', `${VIRTUAL_INODES_MAX} snapshot inodes are in use`);
      ino = this.next++;
      this.byKey.set(key, ino);
      this.nodes.set(ino, { snap, root, hash, parent });
      this.paths.set(ino, path);
    }
    return ino;
  }
  private readonly paths = new Map<number, string>();

  getattr(ino: number): Attr {
    if (ino === SNAPSHOTS_DIR_INO) {
      const t = { sec: 0, nsec: 0 };
      return { ino, type: 'dir', mode: 0o555, uid: 0, gid: 0, nlink: 2, sizeBytes: this.state().snapshots.size, blockCount: 0, atime: t, mtime: t, ctime: t, dataVersion: 0 };
    }
    const { obj } = this.node(ino);
    const t = { sec: obj.mtime[0], nsec: obj.mtime[1] };
    let blockCount = 0;
    if (obj.kind === 'file') for (const [, h, l] of obj.pages) if (h) blockCount += Math.ceil(l / 512);
    const sizeBytes = obj.kind === 'file' ? obj.sizeBytes : obj.kind === 'dir' ? obj.entries.length : new TextEncoder().encode(obj.target).length;
    return { ino, type: obj.kind, mode: obj.mode, uid: obj.uid, gid: obj.gid, nlink: obj.kind === 'dir' ? 2 : 1, sizeBytes, blockCount, atime: t, mtime: t, ctime: t, dataVersion: 0 };
  }

  /** `parent` is SNAPSHOTS_DIR_INO or a virtual directory; '.' and '..' resolve. */
  lookup(parent: number, name: string): number {
    if (parent === SNAPSHOTS_DIR_INO) {
      if (name === '.') return parent;
      if (name === '..') return ROOT_INO;
      const s = this.state().snapshots.get(name);
      if (!s) throw fsError('ENOENT', `no snapshot '${name}'`);
      return this.number(name, hashKey(s.root), '', s.root, SNAPSHOTS_DIR_INO);
    }
    const { v, obj } = this.node(parent);
    if (name === '.') return parent;
    if (name === '..') return v.parent;
    if (obj.kind !== 'dir') throw fsError('ENOTDIR', `inode ${parent} is not a directory`);
    const e = obj.entries.find((x) => x[0] === name);
    if (!e) throw fsError('ENOENT', `'${name}' not found`);
    return this.number(v.snap, v.root, `${this.paths.get(parent)}/${name}`, e[2], parent);
  }

  /** Entries after `cookie` (cookie = position + 1), names in order. */
  readdir(ino: number, cookie: number, limit: number): { entries: DirEntry[]; eof: boolean } {
    let names: [string, Attr['type']][];
    if (ino === SNAPSHOTS_DIR_INO) names = [...this.state().snapshots.keys()].map((n) => [n, 'dir']);
    else {
      const { obj } = this.node(ino);
      if (obj.kind !== 'dir') throw fsError('ENOTDIR', `inode ${ino} is not a directory`);
      names = obj.entries.map((e) => [e[0], e[1]]);
    }
    const slice = names.slice(cookie, cookie + limit);
    const entries = slice.map(([name, type], i) => ({ name, type, ino: this.lookup(ino, name), cookie: cookie + i + 1 }));
    return { entries, eof: cookie + slice.length >= names.length };
  }

  readlink(ino: number): string {
    const { obj } = this.node(ino);
    if (obj.kind !== 'symlink') throw fsError('EINVAL', 'not a symlink');
    return obj.target;
  }

  /** The page a file's byte range starts in: [chunk hash or null, valid bytes], for read. */
  page(ino: number, index: number): { hash: Uint8Array | null; lengthBytes: number } | null {
    const { obj } = this.node(ino);
    if (obj.kind !== 'file') throw fsError('EISDIR', 'not a file');
    const p = obj.pages.find((x) => x[0] === index);
    return p ? { hash: p[1], lengthBytes: p[2] } : null;
  }

  sizeOf(ino: number): number {
    const { obj } = this.node(ino);
    return obj.kind === 'file' ? obj.sizeBytes : 0;
  }

  static readonly PAGE_SIZE_BYTES = PAGE_SIZE_BYTES;
}
