/**
 * The filesystem's committed-or-committing state in memory: inodes, directories, page
 * maps. It changes only through `apply(record)`, the same function on the live path and
 * on replay, so the state after mount is by construction the state the records describe.
 *
 * `apply` checks each record against the state and throws FsStateError if it does not fit
 * (a corrupt or misordered log), before changing anything. It returns the chunk reference
 * changes the record caused (pages gained and dropped), which the live path commits as
 * ChunkRef records in the same transaction.
 *
 * Invariants (asserted by `check()`, and after every apply in tests): every directory
 * entry names a live inode; a directory's nlink is 2 + its subdirectories; a file's nlink
 * is the number of entries naming it; every directory but the root has exactly one
 * parent entry; page indices are below ceil(size / PAGE_SIZE_BYTES). Snapshots
 * (state-snapshots.ts): every snapshot's root is held, and held objects are closed
 * downwards and all reachable from some snapshot.
 */
import { ROOT_INO, type Attr, type DirEntry, type FileType, type Timespec } from './protocol.ts';
import { PAGE_SIZE_BYTES } from './limits.ts';
import type { FsRecord, PageRef, Time } from './records.ts';
import type { ObjectSource, TreeObject } from './tree.ts';
import { applyClone, applyRestore, applySnapshotCreate, applySnapshotDelete, countHeldRefs, reachable, type LiveTree } from './state-snapshots.ts';

export class FsStateError extends Error {
  constructor(message: string) {
    super(`fs state: ${message}`);
    this.name = 'FsStateError';
  }
}

export interface Page {
  hash: Uint8Array | null;
  lengthBytes: number;
}

export interface Inode {
  ino: number;
  type: FileType;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  sizeBytes: number;
  atime: Time;
  mtime: Time;
  ctime: Time;
  dataVersion: number;
  /** Files: page number -> page. */
  pages?: Map<number, Page>;
  /** Directories. */
  dir?: { entries: Map<string, { ino: number; cookie: number }>; parent: number; nextCookie: number };
  /** Symlinks. */
  target?: string;
}

export interface ChunkDelta {
  hash: Uint8Array;
  delta: number;
}

function fail(message: string): never {
  throw new FsStateError(message);
}

export interface Snapshot {
  root: Uint8Array;
  t: Time;
  /**
   * Log sequence number of its FsSnapshotCreate record: not part of the record (the log
   * assigns it at commit), noted by state-snapshots.noteSnapshotSeqs once it is known.
   */
  seq?: number;
}

export interface HeldObject {
  hash: Uint8Array;
  obj: TreeObject;
  /** Snapshots whose root it is plus entries of held directories naming it (state-snapshots.ts); it goes at 0. */
  refs: number;
}

export class FsState {
  readonly inodes = new Map<number, Inode>();
  nextIno = ROOT_INO + 1;
  /** Snapshots by name. */
  readonly snapshots = new Map<string, Snapshot>();
  /** Tree objects some snapshot reaches, by hex hash. */
  readonly held = new Map<string, HeldObject>();

  constructor(t: Time = [0, 0]) {
    this.inodes.set(ROOT_INO, {
      ino: ROOT_INO,
      type: 'dir',
      mode: 0o755,
      uid: 0,
      gid: 0,
      nlink: 2,
      sizeBytes: 0,
      atime: t,
      mtime: t,
      ctime: t,
      dataVersion: 0,
      dir: { entries: new Map(), parent: ROOT_INO, nextCookie: 1 },
    });
  }

  // ---- queries ----------------------------------------------------------------------

  get(ino: number): Inode | undefined {
    return this.inodes.get(ino);
  }

  inode(ino: number): Inode {
    return this.inodes.get(ino) ?? fail(`no inode ${ino}`);
  }

  dirOf(ino: number): NonNullable<Inode['dir']> {
    return this.inode(ino).dir ?? fail(`inode ${ino} is not a directory`);
  }

  /** The inode a name in a directory refers to ('.' and '..' included), or undefined. */
  child(parent: number, name: string): number | undefined {
    const d = this.dirOf(parent);
    if (name === '.') return parent;
    if (name === '..') return d.parent;
    return d.entries.get(name)?.ino;
  }

  attr(ino: number): Attr {
    const n = this.inode(ino);
    let blocks = 0;
    if (n.pages) for (const p of n.pages.values()) if (p.hash) blocks += Math.ceil(p.lengthBytes / 512);
    return {
      ino: n.ino,
      type: n.type,
      mode: n.mode,
      uid: n.uid,
      gid: n.gid,
      nlink: n.nlink,
      sizeBytes: n.type === 'dir' ? n.dir!.entries.size : n.sizeBytes,
      blockCount: blocks,
      atime: ts(n.atime),
      mtime: ts(n.mtime),
      ctime: ts(n.ctime),
      dataVersion: n.dataVersion,
    };
  }

  /** Entries with cookie > after, in cookie order, at most `limit`. */
  readdir(ino: number, after: number, limit: number): { entries: DirEntry[]; eof: boolean } {
    const d = this.dirOf(ino);
    const out: DirEntry[] = [];
    let more = false;
    // Entries are kept in insertion (= cookie) order by the Map; a rename re-inserts.
    for (const [name, e] of d.entries) {
      if (e.cookie <= after) continue;
      if (out.length === limit) {
        more = true;
        break;
      }
      out.push({ name, ino: e.ino, type: this.inode(e.ino).type, cookie: e.cookie });
    }
    return { entries: out, eof: !more };
  }

  isAncestor(ancestor: number, ino: number): boolean {
    for (let cur = ino, steps = 0; steps <= this.inodes.size; steps++) {
      if (cur === ancestor) return true;
      if (cur === ROOT_INO) return false;
      cur = this.dirOf(cur).parent;
    }
    return fail(`cycle in the parent chain of ${ino}`);
  }

  // ---- apply ------------------------------------------------------------------------

  /**
   * `objects` supplies the new tree objects an FsSnapshotCreate names; `live`, the live tree's
   * object hashes an FsRestore compares with (the engine's cache, told what changed;
   * without it a fresh one). See state-snapshots.ts.
   */
  apply(record: FsRecord, objects?: ObjectSource, live?: LiveTree): ChunkDelta[] {
    const deltas: ChunkDelta[] = [];
    switch (record.type) {
      case 'FsSnapshotCreate':
        applySnapshotCreate(this, record.payload, objects);
        return deltas;
      case 'FsSnapshotDelete':
        applySnapshotDelete(this, record.payload);
        return deltas;
      case 'FsRestore':
        applyRestore(this, record.payload, deltas, live);
        return deltas;
      case 'FsClone':
        applyClone(this, record.payload, deltas);
        return deltas;
      case 'FsMkdir':
      case 'FsCreate':
      case 'FsSymlink': {
        const pp = record.payload as { parent: number; name: string; ino: number; mode?: number; uid: number; gid: number; t: Time; target?: string };
        const d = this.dirOf(pp.parent);
        if (d.entries.has(pp.name)) fail(`${record.type}: '${pp.name}' exists in ${pp.parent}`);
        if (this.inodes.has(pp.ino)) fail(`${record.type}: inode ${pp.ino} is in use`);
        const type: FileType = record.type === 'FsMkdir' ? 'dir' : record.type === 'FsCreate' ? 'file' : 'symlink';
        const n: Inode = {
          ino: pp.ino,
          type,
          mode: type === 'symlink' ? 0o777 : pp.mode!,
          uid: pp.uid,
          gid: pp.gid,
          nlink: type === 'dir' ? 2 : 1,
          sizeBytes: type === 'symlink' ? new TextEncoder().encode(pp.target!).length : 0,
          atime: pp.t,
          mtime: pp.t,
          ctime: pp.t,
          dataVersion: 0,
        };
        if (type === 'dir') n.dir = { entries: new Map(), parent: pp.parent, nextCookie: 1 };
        if (type === 'file') n.pages = new Map();
        if (type === 'symlink') n.target = pp.target;
        this.inodes.set(n.ino, n);
        this.addEntry(pp.parent, pp.name, n.ino, pp.t);
        if (type === 'dir') this.inode(pp.parent).nlink++;
        this.nextIno = Math.max(this.nextIno, n.ino + 1);
        return deltas;
      }
      case 'FsLink': {
        const p = record.payload;
        const n = this.inode(p.ino);
        if (n.type === 'dir') fail('FsLink: a directory');
        if (this.dirOf(p.parent).entries.has(p.name)) fail(`FsLink: '${p.name}' exists`);
        this.addEntry(p.parent, p.name, n.ino, p.t);
        n.nlink++;
        n.ctime = p.t;
        return deltas;
      }
      case 'FsUnlink': {
        const p = record.payload;
        const d = this.dirOf(p.parent);
        const e = d.entries.get(p.name) ?? fail(`FsUnlink: no '${p.name}' in ${p.parent}`);
        const n = this.inode(e.ino);
        if (n.type === 'dir') fail('FsUnlink: a directory');
        this.removeEntry(p.parent, p.name, p.t);
        n.nlink--;
        n.ctime = p.t;
        return deltas;
      }
      case 'FsRmdir': {
        const p = record.payload;
        const d = this.dirOf(p.parent);
        const e = d.entries.get(p.name) ?? fail(`FsRmdir: no '${p.name}' in ${p.parent}`);
        const n = this.inode(e.ino);
        if (!n.dir) fail('FsRmdir: not a directory');
        if (n.dir.entries.size) fail('FsRmdir: not empty');
        this.removeEntry(p.parent, p.name, p.t);
        this.inode(p.parent).nlink--;
        this.inodes.delete(n.ino);
        return deltas;
      }
      case 'FsRename': {
        const p = record.payload;
        return this.rename(p.parent, p.name, p.newParent, p.newName, p.t);
      }
      case 'FsSetAttr': {
        const p = record.payload;
        const n = this.inode(p.ino);
        if (p.mode !== undefined) n.mode = p.mode;
        if (p.uid !== undefined) n.uid = p.uid;
        if (p.gid !== undefined) n.gid = p.gid;
        if (p.atime) n.atime = p.atime;
        if (p.mtime) n.mtime = p.mtime;
        n.ctime = p.t;
        return deltas;
      }
      case 'FsTruncate': {
        const p = record.payload;
        const n = this.inode(p.ino);
        if (!n.pages) fail('FsTruncate: not a file');
        this.truncatePages(n, p.sizeBytes, deltas);
        n.sizeBytes = p.sizeBytes;
        n.mtime = n.ctime = p.t;
        n.dataVersion++;
        return deltas;
      }
      case 'FsWrite': {
        const p = record.payload;
        const n = this.inode(p.ino);
        if (!n.pages) fail('FsWrite: not a file');
        const pageLimit = Math.ceil(p.sizeBytes / PAGE_SIZE_BYTES);
        for (const page of p.pages) {
          if (page.index >= pageLimit) fail(`FsWrite: page ${page.index} is past size ${p.sizeBytes}`);
          if (page.lengthBytes > PAGE_SIZE_BYTES) fail(`FsWrite: page of ${page.lengthBytes} bytes`);
        }
        // The size goes first: pages past a shrunken size go, then the new pages land.
        if (p.sizeBytes < n.sizeBytes) this.truncatePages(n, p.sizeBytes, deltas);
        n.sizeBytes = p.sizeBytes;
        for (const page of p.pages) this.setPage(n, page, deltas);
        n.mtime = n.ctime = p.t;
        n.dataVersion++;
        return deltas;
      }
      case 'FsFree': {
        const p = record.payload;
        const n = this.inode(p.ino);
        if (n.nlink !== 0) fail(`FsFree: inode ${p.ino} still has ${n.nlink} links`);
        if (n.pages) for (const page of n.pages.values()) if (page.hash) deltas.push({ hash: page.hash, delta: -1 });
        this.inodes.delete(n.ino);
        return deltas;
      }
    }
  }

  /** For apply and state-snapshots.ts only. */
  addEntry(parent: number, name: string, ino: number, t: Time): void {
    const d = this.dirOf(parent);
    d.entries.set(name, { ino, cookie: d.nextCookie++ });
    const pn = this.inode(parent);
    pn.mtime = pn.ctime = t;
    pn.dataVersion++;
  }

  private removeEntry(parent: number, name: string, t: Time): void {
    this.dirOf(parent).entries.delete(name);
    const pn = this.inode(parent);
    pn.mtime = pn.ctime = t;
    pn.dataVersion++;
  }

  private rename(parent: number, name: string, newParent: number, newName: string, t: Time): ChunkDelta[] {
    const deltas: ChunkDelta[] = [];
    const from = this.dirOf(parent);
    const src = from.entries.get(name) ?? fail(`FsRename: no '${name}' in ${parent}`);
    const to = this.dirOf(newParent);
    const dst = to.entries.get(newName);
    if (dst?.ino === src.ino) return deltas;
    const n = this.inode(src.ino);
    if (n.dir && this.isAncestor(n.ino, newParent)) fail('FsRename: a directory into itself');
    if (dst) {
      const old = this.inode(dst.ino);
      if (!!old.dir !== !!n.dir) fail('FsRename: replaces a different kind of inode');
      if (old.dir) {
        if (old.dir.entries.size) fail('FsRename: replaces a non-empty directory');
        this.removeEntry(newParent, newName, t);
        this.inode(newParent).nlink--;
        this.inodes.delete(old.ino);
      } else {
        this.removeEntry(newParent, newName, t);
        old.nlink--;
        old.ctime = t;
      }
    }
    this.removeEntry(parent, name, t);
    this.addEntry(newParent, newName, n.ino, t);
    if (n.dir && parent !== newParent) {
      this.inode(parent).nlink--;
      this.inode(newParent).nlink++;
      n.dir.parent = newParent;
    }
    n.ctime = t;
    return deltas;
  }

  private setPage(n: Inode, page: PageRef, deltas: ChunkDelta[]): void {
    const old = n.pages!.get(page.index);
    if (old?.hash) deltas.push({ hash: old.hash, delta: -1 });
    if (page.hash) {
      deltas.push({ hash: page.hash, delta: +1 });
      n.pages!.set(page.index, { hash: page.hash, lengthBytes: page.lengthBytes });
    } else n.pages!.delete(page.index);
  }

  private truncatePages(n: Inode, sizeBytes: number, deltas: ChunkDelta[]): void {
    const keepPages = Math.ceil(sizeBytes / PAGE_SIZE_BYTES);
    for (const [index, page] of n.pages!) {
      if (index >= keepPages) {
        if (page.hash) deltas.push({ hash: page.hash, delta: -1 });
        n.pages!.delete(index);
      } else if (index === keepPages - 1) {
        page.lengthBytes = Math.min(page.lengthBytes, sizeBytes - index * PAGE_SIZE_BYTES);
      }
    }
  }

  // ---- invariants -------------------------------------------------------------------

  /** Walks everything and throws FsStateError on the first broken invariant. */
  check(): void {
    const linksSeen = new Map<number, number>();
    for (const n of this.inodes.values()) {
      if (n.dir) {
        let subdirs = 0;
        for (const [name, e] of n.dir.entries) {
          const c = this.inodes.get(e.ino) ?? fail(`entry '${name}' in ${n.ino} names missing inode ${e.ino}`);
          if (c.dir) {
            subdirs++;
            if (c.dir.parent !== n.ino) fail(`directory ${c.ino} is in ${n.ino} but its parent is ${c.dir.parent}`);
          }
          linksSeen.set(e.ino, (linksSeen.get(e.ino) ?? 0) + 1);
        }
        if (n.nlink !== 2 + subdirs) fail(`directory ${n.ino} has nlink ${n.nlink}, expected ${2 + subdirs}`);
      }
      if (n.pages) {
        const limit = Math.ceil(n.sizeBytes / PAGE_SIZE_BYTES);
        for (const index of n.pages.keys()) if (index >= limit) fail(`inode ${n.ino} has page ${index} past its size ${n.sizeBytes}`);
      }
    }
    for (const n of this.inodes.values()) {
      const seen = linksSeen.get(n.ino) ?? 0;
      if (n.dir) {
        if (n.ino !== ROOT_INO && seen !== 1) fail(`directory ${n.ino} has ${seen} entries naming it`);
      } else if (seen !== n.nlink) fail(`inode ${n.ino} has nlink ${n.nlink} but ${seen} entries`);
    }
    const marked = reachable(this, [...this.snapshots.values()].map((v) => v.root));
    if (marked.size !== this.held.size) fail(`${this.held.size - marked.size} held object(s) no snapshot reaches`);
    const refs = countHeldRefs(this);
    for (const [k, h] of this.held) if (h.refs !== refs.get(k)) fail(`held object ${k} counts ${h.refs} references, has ${refs.get(k) ?? 0}`);
  }
}

export function ts(t: Time): Timespec {
  return { sec: t[0], nsec: t[1] };
}

export function fromTimespec(t: Timespec): Time {
  return [t.sec, t.nsec];
}
