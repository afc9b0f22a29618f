/**
 * The reference model of the filesystem protocol: a deliberately plain, synchronous,
 * in-memory POSIX tree, written for obviousness rather than speed. Property tests run the
 * same operations against services/fs and this model and compare every reply and the
 * final tree; the 9P server's tests use it as a stand-in filesystem service.
 *
 * Files hold their bytes in one Uint8Array (sizes in tests are small). Times come from an
 * injected clock so two models fed the same operations agree exactly.
 *
 * Snapshots, as services/fs gives them (snapshots.ts, state-snapshots.ts): a snapshot is a
 * frozen copy of the tree reachable from the root when it was made (hard links become
 * separate files, open-but-unlinked files are not in it); restore keeps the tree it
 * replaces as `pre-restore-N` (smallest N free) and makes the live tree equal to the copy
 * the way state-snapshots.ts applyRestore does, so inode numbers agree with the service's:
 * an entry equal to the snapshot's (same kind, mode, owner, mtime and contents, the
 * service's object-hash equality) keeps its inode and handles; a directory in both is
 * restored in place; anything else is dropped (its handles get ESTALE) and built anew,
 * numbered in name order, depth first. Equality of files is by bytes, where the service
 * compares page hashes: they differ only for a page of zeros written against a hole,
 * which the crash harness's workloads never make (and the recorder would flag). clone copies a
 * file or directory tree (entries in cookie order). gc and checkpoint change nothing a
 * client can see. Replies of snapshotCreate and snapshotList carry names only (the
 * service's hashes and space figures are not modelled); snapshotDiff is not modelled.
 *
 * By grant (writeFrom / readInto): the segments are reached only through the memory
 * given to apply (the service's ctx.memory, whose grantView checks grant, rights and
 * bounds before a byte moves, as services/fs/dispatch.ts does); without memory they are
 * refused with GRANT, as a filesystem given no memory refuses them. Then they are the
 * same as write / read of the bytes the segments hold, in order as one stream.
 */
import { ServiceError } from '../../kernel/errors.ts';
import type { Manifest, ServiceMemory } from '../../kernel/service.ts';
import {
  FILE_SIZE_BYTES_MAX,
  FS_ENDPOINT,
  NAME_LENGTH_BYTES_MAX,
  ROOT_INO,
  SYMLINK_FOLLOW_MAX,
  parseFsRequest,
  type Attr,
  type DirEntry,
  type Errno,
  type FileType,
  type FsRequest,
  type OpenFlags,
  type Segment,
  type StatFs,
  type Timespec,
  type WalkResult,
} from '../../services/fs/protocol.ts';

interface Node {
  ino: number;
  type: FileType;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  data: Uint8Array; // file contents
  target: string; // symlink target
  entries: Map<string, { ino: number; cookie: number }>; // directory entries
  parent: number; // directories only
  nextCookie: number;
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
  dataVersion: number;
  openCount: number;
}

interface Handle {
  ino: number;
  flags: OpenFlags;
}

/** A snapshot's copy of one file, directory or symlink; never modified once made. */
interface Frozen {
  type: FileType;
  mode: number;
  uid: number;
  gid: number;
  mtime: Timespec;
  data: Uint8Array;
  target: string;
  /** Sorted by name (as the service's tree objects). */
  entries: [string, Frozen][];
}

export const MODEL_AUTO_SNAPSHOT_PREFIX = 'pre-restore-';

function err(code: Errno, message: string): never {
  throw new ServiceError(code, message);
}

export class FsModel {
  readonly nodes = new Map<number, Node>();
  private readonly handles = new Map<number, Handle>();
  /** Snapshots by name, in creation order (snapshotList's order). */
  private readonly snapshots = new Map<string, Frozen>();
  private nextIno = ROOT_INO + 1;
  private nextHandle = 1;

  constructor(private readonly now: () => Timespec = () => ({ sec: 0, nsec: 0 })) {
    this.nodes.set(ROOT_INO, this.newNode(ROOT_INO, 'dir', 0o755, 0, 0));
    this.node(ROOT_INO).parent = ROOT_INO;
  }

  private newNode(ino: number, type: FileType, mode: number, uid: number, gid: number): Node {
    const t = this.now();
    return {
      ino,
      type,
      mode,
      uid,
      gid,
      nlink: type === 'dir' ? 2 : 1,
      data: new Uint8Array(0),
      target: '',
      entries: new Map(),
      parent: 0,
      nextCookie: 1,
      atime: t,
      mtime: t,
      ctime: t,
      dataVersion: 0,
      openCount: 0,
    };
  }

  private node(ino: number): Node {
    const n = this.nodes.get(ino);
    if (!n) err('ESTALE', `no inode ${ino}`);
    return n;
  }

  private dir(ino: number): Node {
    const n = this.node(ino);
    if (n.type !== 'dir') err('ENOTDIR', `inode ${ino} is not a directory`);
    return n;
  }

  attr(ino: number): Attr {
    const n = this.node(ino);
    const sizeBytes = n.type === 'file' ? n.data.length : n.type === 'symlink' ? new TextEncoder().encode(n.target).length : n.entries.size;
    return {
      ino: n.ino,
      type: n.type,
      mode: n.mode,
      uid: n.uid,
      gid: n.gid,
      nlink: n.nlink,
      sizeBytes,
      blockCount: n.type === 'file' ? Math.ceil(countNonZeroBlocks(n.data) * 8) : 0,
      atime: n.atime,
      mtime: n.mtime,
      ctime: n.ctime,
      dataVersion: n.dataVersion,
    };
  }

  private touch(n: Node, data: boolean): void {
    const t = this.now();
    n.ctime = t;
    if (data) {
      n.mtime = t;
      n.dataVersion++;
    }
  }

  private child(parent: number, name: string): number | undefined {
    const d = this.dir(parent);
    if (name === '.') return d.ino;
    if (name === '..') return d.parent;
    return d.entries.get(name)?.ino;
  }

  private addEntry(d: Node, name: string, ino: number): void {
    d.entries.set(name, { ino, cookie: d.nextCookie++ });
    this.touch(d, true);
  }

  private dropLink(n: Node): void {
    n.nlink--;
    this.touch(n, false);
    this.collect(n);
  }

  /** Frees an inode nobody links to or holds open. */
  private collect(n: Node): void {
    const dead = n.type === 'dir' ? n.nlink <= 1 : n.nlink === 0;
    if (dead && n.openCount === 0) this.nodes.delete(n.ino);
  }

  private create(parent: number, name: string, type: FileType, mode: number, uid = 0, gid = 0): Node {
    const d = this.dir(parent);
    if (d.nlink < 2) err('ENOENT', 'directory was removed');
    if (d.entries.has(name)) err('EEXIST', `'${name}' exists`);
    const n = this.newNode(this.nextIno++, type, mode, uid, gid);
    this.nodes.set(n.ino, n);
    this.addEntry(d, name, n.ino);
    if (type === 'dir') {
      n.parent = d.ino;
      d.nlink++;
    }
    return n;
  }

  private isAncestor(ancestor: number, ino: number): boolean {
    for (let cur = ino, steps = 0; steps < 1_000_000; steps++) {
      if (cur === ancestor) return true;
      if (cur === ROOT_INO) return false;
      cur = this.node(cur).parent;
    }
    throw new Error('model: cycle in parent chain');
  }

  private handle(h: number): Handle {
    const handle = this.handles.get(h);
    if (!handle) err('EBADF', `no handle ${h}`);
    return handle;
  }

  private resize(n: Node, sizeBytes: number): void {
    if (sizeBytes > FILE_SIZE_BYTES_MAX) err('EFBIG', `size ${sizeBytes} is past the limit`);
    if (sizeBytes === n.data.length) return;
    const next = new Uint8Array(sizeBytes);
    next.set(n.data.subarray(0, Math.min(sizeBytes, n.data.length)));
    n.data = next;
  }

  /** Bytes of `from` at `offset` (or the end, for an append handle), as the write op does. */
  private write(handle: number, offsetBytes: number, data: Uint8Array): { countBytes: number } {
    const h = this.handle(handle);
    if (!h.flags.write && !h.flags.append) err('EBADF', 'handle is not open for writing');
    const n = this.node(h.ino);
    const offset = h.flags.append ? n.data.length : offsetBytes;
    if (offset + data.length > FILE_SIZE_BYTES_MAX) err('EFBIG', 'write past the size limit');
    if (data.length === 0) return { countBytes: 0 };
    if (offset + data.length > n.data.length) this.resize(n, offset + data.length);
    n.data.set(data, offset);
    this.touch(n, true);
    return { countBytes: data.length };
  }

  /** The bytes a read returns (a copy). */
  private read(handle: number, offsetBytes: number, lengthBytes: number): Uint8Array {
    const h = this.handle(handle);
    const n = this.node(h.ino);
    if (n.type === 'dir') err('EISDIR', 'read of a directory');
    if (!h.flags.read) err('EBADF', 'handle is not open for reading');
    const end = Math.min(n.data.length, offsetBytes + lengthBytes);
    return offsetBytes >= end ? new Uint8Array(0) : n.data.slice(offsetBytes, end);
  }

  /**
   * Applies one validated request; returns the reply or throws a ServiceError with an
   * errno. `memory` serves the by-grant ops (the service's ctx.memory); without it they
   * are refused with GRANT.
   */
  apply(req: FsRequest, memory?: Pick<ServiceMemory, 'grantView'>): unknown {
    const views = (segments: Segment[], need: 'r' | 'w'): Uint8Array[] => {
      if (!memory) throw new ServiceError('GRANT', 'this filesystem takes no grants (it was given no memory)');
      return segments.map((s) => memory.grantView(s.grantId, need, s.offsetBytes, s.lengthBytes));
    };
    switch (req.op) {
      case 'getattr':
        return this.attr(req.ino);
      case 'setattr': {
        const n = this.node(req.ino);
        const s = req.set;
        if (s.sizeBytes !== undefined) {
          if (n.type === 'dir') err('EISDIR', 'cannot set the size of a directory');
          if (n.type !== 'file') err('EINVAL', 'cannot set the size of a symlink');
          this.resize(n, s.sizeBytes);
          this.touch(n, true);
        }
        if (s.mode !== undefined) n.mode = s.mode;
        if (s.uid !== undefined) n.uid = s.uid;
        if (s.gid !== undefined) n.gid = s.gid;
        if (s.atime !== undefined) n.atime = s.atime === 'now' ? this.now() : s.atime;
        if (s.mtime !== undefined) n.mtime = s.mtime === 'now' ? this.now() : s.mtime;
        n.ctime = this.now();
        return this.attr(n.ino);
      }
      case 'lookup': {
        const ino = this.child(req.parent, req.name);
        if (ino === undefined) err('ENOENT', `'${req.name}' not found`);
        return this.attr(ino);
      }
      case 'walk': {
        const out: WalkResult = { attrs: [] };
        let cur = req.ino;
        this.node(cur);
        for (const name of req.names) {
          try {
            const ino = this.child(cur, name);
            if (ino === undefined) err('ENOENT', `'${name}' not found`);
            cur = ino;
            out.attrs.push(this.attr(cur));
          } catch (e) {
            if (out.attrs.length === 0 || !(e instanceof ServiceError)) throw e;
            out.error = { code: e.code as Errno, message: e.message };
            break;
          }
        }
        return out;
      }
      case 'resolve':
        return this.attr(this.resolve(req.path, req.followLast !== false));
      case 'create': {
        const n = this.create(req.parent, req.name, 'file', req.mode, req.uid, req.gid);
        const handle = this.open(n, req.flags ?? { read: true, write: true });
        return { attr: this.attr(n.ino), handle };
      }
      case 'open': {
        const n = this.node(req.ino);
        if (n.type === 'symlink') err('ELOOP', 'cannot open a symlink');
        if (n.type === 'dir' && (req.flags.write || req.flags.truncate || req.flags.append)) err('EISDIR', 'cannot open a directory for writing');
        if (req.flags.truncate && n.type === 'file' && req.flags.write) {
          this.resize(n, 0);
          this.touch(n, true);
        }
        return { handle: this.open(n, req.flags), attr: this.attr(n.ino) };
      }
      case 'close': {
        const h = this.handle(req.handle);
        this.handles.delete(req.handle);
        const n = this.nodes.get(h.ino);
        if (n) {
          n.openCount--;
          this.collect(n);
        }
        return {};
      }
      case 'read':
        return { data: this.read(req.handle, req.offsetBytes, req.lengthBytes) };
      case 'write':
        return this.write(req.handle, req.offsetBytes, req.data);
      case 'readInto': {
        const into = views(req.into, 'w');
        const room = into.reduce((n, v) => n + v.length, 0);
        if (room < req.lengthBytes) err('EINVAL', `readInto: ${room} bytes of room for ${req.lengthBytes}`);
        const data = this.read(req.handle, req.offsetBytes, req.lengthBytes);
        let at = 0;
        for (const v of into) {
          if (at >= data.length) break;
          const n = Math.min(v.length, data.length - at);
          v.set(data.subarray(at, at + n));
          at += n;
        }
        return { countBytes: data.length };
      }
      case 'writeFrom': {
        const from = views(req.from, 'r');
        const data = new Uint8Array(from.reduce((n, v) => n + v.length, 0));
        let at = 0;
        for (const v of from) (data.set(v, at), (at += v.length));
        return this.write(req.handle, req.offsetBytes, data);
      }
      case 'truncate': {
        const n = this.node(req.ino);
        if (n.type === 'dir') err('EISDIR', 'truncate of a directory');
        if (n.type !== 'file') err('EINVAL', 'truncate of a symlink');
        this.resize(n, req.sizeBytes);
        this.touch(n, true);
        return this.attr(n.ino);
      }
      case 'fsync':
        this.handle(req.handle);
        return {};
      case 'mkdir':
        return this.attr(this.create(req.parent, req.name, 'dir', req.mode, req.uid, req.gid).ino);
      case 'symlink': {
        const n = this.create(req.parent, req.name, 'symlink', 0o777, req.uid, req.gid);
        n.target = req.target;
        return this.attr(n.ino);
      }
      case 'readlink': {
        const n = this.node(req.ino);
        if (n.type !== 'symlink') err('EINVAL', 'not a symlink');
        return { target: n.target };
      }
      case 'link': {
        const n = this.node(req.ino);
        if (n.type === 'dir') err('EPERM', 'hard link to a directory');
        if (n.nlink === 0) err('ENOENT', 'inode was unlinked');
        const d = this.dir(req.parent);
        if (d.entries.has(req.name)) err('EEXIST', `'${req.name}' exists`);
        this.addEntry(d, req.name, n.ino);
        n.nlink++;
        this.touch(n, false);
        return this.attr(n.ino);
      }
      case 'unlink': {
        const d = this.dir(req.parent);
        const e = d.entries.get(req.name);
        if (!e) err('ENOENT', `'${req.name}' not found`);
        const n = this.node(e.ino);
        if (n.type === 'dir') err('EISDIR', `'${req.name}' is a directory`);
        d.entries.delete(req.name);
        this.touch(d, true);
        this.dropLink(n);
        return {};
      }
      case 'rmdir': {
        const d = this.dir(req.parent);
        const e = d.entries.get(req.name);
        if (!e) err('ENOENT', `'${req.name}' not found`);
        const n = this.node(e.ino);
        if (n.type !== 'dir') err('ENOTDIR', `'${req.name}' is not a directory`);
        if (n.entries.size) err('ENOTEMPTY', `'${req.name}' is not empty`);
        d.entries.delete(req.name);
        d.nlink--;
        this.touch(d, true);
        // A removed directory is gone at once, open handles or not (protocol.ts): later
        // calls naming it get ESTALE.
        this.nodes.delete(n.ino);
        return {};
      }
      case 'readdir': {
        const d = this.dir(req.ino);
        const all: DirEntry[] = [...d.entries].map(([name, e]) => ({ name, ino: e.ino, type: this.node(e.ino).type, cookie: e.cookie }));
        all.sort((a, b) => a.cookie - b.cookie);
        const after = all.filter((e) => e.cookie > req.cookie);
        return { entries: after.slice(0, req.limit), eof: after.length <= req.limit };
      }
      case 'rename':
        this.rename(req.parent, req.name, req.newParent, req.newName);
        return {};
      case 'statfs': {
        const s: StatFs = { blockSizeBytes: 4096, blockCount: 1 << 20, blocksFree: 1 << 20, fileCount: this.nodes.size, filesFree: 1 << 20, nameLengthMax: NAME_LENGTH_BYTES_MAX };
        return s;
      }
      case 'sync':
        return {};
      case 'snapshotCreate':
        if (this.snapshots.has(req.name)) err('EEXIST', `snapshot '${req.name}' exists`);
        this.snapshots.set(req.name, this.freeze(ROOT_INO));
        return { name: req.name };
      case 'snapshotList':
        return { snapshots: [...this.snapshots.keys()].map((name) => ({ name })) };
      case 'snapshotDelete':
        if (!this.snapshots.delete(req.name)) err('ENOENT', `no snapshot '${req.name}'`);
        return {};
      case 'snapshotRestore':
        return this.restore(req.name);
      case 'snapshotDiff':
        throw new Error('model: snapshotDiff is not modelled');
      case 'clone':
        return this.attr(this.clone(req.ino, req.parent, req.name));
      default: {
        const unknown: never = req;
        throw new ServiceError('BADOP', `model: no op ${(unknown as { op: string }).op}`);
      }
    }
  }

  /** Admin: content-store gc; nothing a client sees changes (a zero report). */
  gc(): { sweptChunks: number; sweptBytes: number; freedBlocks: number; keptByRoots: number; missingRoots: number; liveChunks: number } {
    return { sweptChunks: 0, sweptBytes: 0, freedBlocks: 0, keptByRoots: 0, missingRoots: 0, liveChunks: 0 };
  }

  /** Admin: checkpoint; nothing a client sees changes. */
  checkpoint(): Record<string, never> {
    return {};
  }

  /** Snapshot names in creation order. */
  snapshotNames(): string[] {
    return [...this.snapshots.keys()];
  }

  private freeze(ino: number): Frozen {
    const n = this.node(ino);
    const entries: [string, Frozen][] = [...n.entries.keys()].sort().map((name) => [name, this.freeze(n.entries.get(name)!.ino)]);
    return { type: n.type, mode: n.mode, uid: n.uid, gid: n.gid, mtime: n.mtime, data: n.data.slice(), target: n.target, entries: n.type === 'dir' ? entries : [] };
  }

  private restore(name: string): { saved: string } {
    const snap = this.snapshots.get(name);
    if (!snap) err('ENOENT', `no snapshot '${name}'`);
    let k = 1;
    while (this.snapshots.has(`${MODEL_AUTO_SNAPSHOT_PREFIX}${k}`)) k++;
    const saved = `${MODEL_AUTO_SNAPSHOT_PREFIX}${k}`;
    this.snapshots.set(saved, this.freeze(ROOT_INO));
    if (!this.sameAs(this.node(ROOT_INO), snap)) this.restoreDir(this.node(ROOT_INO), snap);
    return { saved };
  }

  /** The service's object equality: kind, mode, owner, mtime and contents, recursively. */
  private sameAs(n: Node, f: Frozen): boolean {
    if (n.type !== f.type || n.mode !== f.mode || n.uid !== f.uid || n.gid !== f.gid || n.mtime.sec !== f.mtime.sec || n.mtime.nsec !== f.mtime.nsec) return false;
    if (n.type === 'file') return n.data.length === f.data.length && n.data.every((b, i) => b === f.data[i]);
    if (n.type === 'symlink') return n.target === f.target;
    if (n.entries.size !== f.entries.length) return false;
    return f.entries.every(([name, child]) => {
      const e = n.entries.get(name);
      return e !== undefined && this.sameAs(this.node(e.ino), child);
    });
  }

  /** Directory `d` becomes `f`, touching only what differs (state-snapshots.ts restoreDir, step for step). */
  private restoreDir(d: Node, f: Frozen): void {
    const want = new Map(f.entries);
    const recurse: [Node, Frozen][] = [];
    const drop: string[] = [];
    for (const [name, e] of d.entries) {
      const target = want.get(name);
      const n = this.node(e.ino);
      if (target === undefined) drop.push(name);
      else if (this.sameAs(n, target)) want.delete(name);
      else if (target.type === 'dir' && n.type === 'dir') {
        recurse.push([n, target]);
        want.delete(name);
      } else drop.push(name);
    }
    for (const name of drop) {
      const e = d.entries.get(name)!;
      d.entries.delete(name);
      this.dropName(e.ino);
    }
    for (const [name, target] of want) {
      const c = this.thaw(target, this.nextIno++, d.ino);
      d.entries.set(name, { ino: c.ino, cookie: d.nextCookie++ });
    }
    for (const [n, target] of recurse) this.restoreDir(n, target);
    d.nlink = 2 + [...d.entries.values()].filter((e) => this.node(e.ino).type === 'dir').length;
    d.mode = f.mode;
    d.uid = f.uid;
    d.gid = f.gid;
    d.mtime = f.mtime;
    d.ctime = this.now();
    d.dataVersion++;
  }

  /** A restore drops one name of `ino` (a directory with everything under it); an inode left with no name goes, open or not. */
  private dropName(ino: number): void {
    const n = this.node(ino);
    if (n.type === 'dir') {
      for (const e of n.entries.values()) this.dropName(e.ino);
      this.nodes.delete(ino);
      return;
    }
    if (--n.nlink > 0) return;
    this.nodes.delete(ino);
  }

  /** Rebuilds a frozen tree: `ino` for its top, fresh numbers below in name order, depth first (state-snapshots.ts buildEntries). */
  private thaw(f: Frozen, ino: number, parent: number): Node {
    const n = this.newNode(ino, f.type, f.mode, f.uid, f.gid);
    n.mtime = f.mtime;
    n.data = f.data.slice();
    n.target = f.target;
    this.nodes.set(ino, n);
    if (f.type === 'dir') {
      n.parent = parent;
      for (const [name, child] of f.entries) {
        const c = this.thaw(child, this.nextIno++, ino);
        n.entries.set(name, { ino: c.ino, cookie: n.nextCookie++ });
        if (c.type === 'dir') n.nlink++;
      }
    }
    return n;
  }

  private clone(ino: number, parent: number, name: string): number {
    const src = this.node(ino);
    if (src.nlink === 0) err('ENOENT', `inode ${ino} was unlinked`);
    const d = this.dir(parent);
    if (d.entries.has(name)) err('EEXIST', `'${name}' exists`);
    const copy = this.copyNode(src, parent);
    this.addEntry(d, name, copy.ino);
    if (copy.type === 'dir') d.nlink++;
    return copy.ino;
  }

  /** A copy of `n` and its subtree (entries in cookie order: state-snapshots.ts copyInode). */
  private copyNode(n: Node, parent: number): Node {
    const c = this.newNode(this.nextIno++, n.type, n.mode, n.uid, n.gid);
    c.data = n.data.slice();
    c.target = n.target;
    c.mtime = n.mtime;
    this.nodes.set(c.ino, c);
    if (n.type === 'dir') {
      c.parent = parent;
      for (const [entryName, e] of [...n.entries].sort((a, b) => a[1].cookie - b[1].cookie)) {
        const child = this.copyNode(this.node(e.ino), c.ino);
        c.entries.set(entryName, { ino: child.ino, cookie: c.nextCookie++ });
        if (child.type === 'dir') c.nlink++;
      }
    }
    return c;
  }

  private open(n: Node, flags: OpenFlags): number {
    const h = this.nextHandle++;
    this.handles.set(h, { ino: n.ino, flags: { ...flags } });
    n.openCount++;
    return h;
  }

  private rename(parent: number, name: string, newParent: number, newName: string): void {
    const from = this.dir(parent);
    const to = this.dir(newParent);
    const src = from.entries.get(name);
    if (!src) err('ENOENT', `'${name}' not found`);
    const n = this.node(src.ino);
    const dst = to.entries.get(newName);
    if (dst && dst.ino === src.ino) return; // two links to one inode: nothing to do
    if (n.type === 'dir' && this.isAncestor(n.ino, to.ino)) err('EINVAL', 'cannot move a directory into itself');
    if (dst) {
      const old = this.node(dst.ino);
      if (n.type === 'dir' && old.type !== 'dir') err('ENOTDIR', `'${newName}' is not a directory`);
      if (n.type !== 'dir' && old.type === 'dir') err('EISDIR', `'${newName}' is a directory`);
      if (old.type === 'dir' && old.entries.size) err('ENOTEMPTY', `'${newName}' is not empty`);
      to.entries.delete(newName);
      if (old.type === 'dir') {
        to.nlink--;
        this.nodes.delete(old.ino); // gone at once, as a removed directory is
      } else this.dropLink(old);
    }
    from.entries.delete(name);
    this.touch(from, true);
    this.addEntry(to, newName, n.ino);
    if (n.type === 'dir' && from !== to) {
      from.nlink--;
      to.nlink++;
      n.parent = to.ino;
    }
    this.touch(n, false);
  }

  private resolve(path: string, followLast: boolean): number {
    if (!path.startsWith('/')) err('EINVAL', 'path must be absolute');
    let follows = 0;
    const walk = (start: number, parts: string[]): number => {
      let cur = start;
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i];
        if (part === '' || part === '.') continue;
        const next = this.child(cur, part);
        if (next === undefined) err('ENOENT', `'${part}' not found`);
        const n = this.node(next);
        if (n.type === 'symlink' && (followLast || i < parts.length - 1)) {
          if (++follows > SYMLINK_FOLLOW_MAX) err('ELOOP', 'too many symbolic links');
          const base = n.target.startsWith('/') ? ROOT_INO : cur;
          cur = walk(base, n.target.split('/'));
        } else cur = next;
      }
      return cur;
    };
    return walk(ROOT_INO, path.split('/'));
  }

  /** A canonical dump of the tree reachable from the root: path -> type, mode, size, content hash, nlink. */
  dump(): Record<string, string> {
    const out: Record<string, string> = {};
    const visit = (ino: number, path: string) => {
      const n = this.node(ino);
      const a = this.attr(ino);
      const detail = n.type === 'file' ? fingerprint(n.data) : n.type === 'symlink' ? `-> ${n.target}` : '';
      out[path || '/'] = `${n.type} ${a.mode.toString(8)} ${a.sizeBytes} nlink=${a.nlink} ${detail}`.trim();
      if (n.type === 'dir') for (const [name, e] of [...n.entries].sort()) visit(e.ino, `${path}/${name}`);
    };
    visit(ROOT_INO, '');
    return out;
  }

  /**
   * The snapshots as /.snapshots/NAME/... shows them: path -> type, mode, size, content
   * hash; no link count (a snapshot does not keep hard-link identity) and no times.
   */
  dumpSnapshots(): Record<string, string> {
    const out: Record<string, string> = {};
    const visit = (f: Frozen, path: string) => {
      const size = f.type === 'file' ? f.data.length : f.type === 'symlink' ? new TextEncoder().encode(f.target).length : f.entries.length;
      const detail = f.type === 'file' ? fingerprint(f.data) : f.type === 'symlink' ? `-> ${f.target}` : '';
      out[path] = `${f.type} ${f.mode.toString(8)} ${size} ${detail}`.trim();
      for (const [name, child] of f.entries) visit(child, `${path}/${name}`);
    };
    for (const name of [...this.snapshots.keys()].sort()) visit(this.snapshots.get(name)!, `/.snapshots/${name}`);
    return out;
  }
}

function countNonZeroBlocks(data: Uint8Array): number {
  let blocks = 0;
  for (let off = 0; off < data.length; off += 4096) {
    const end = Math.min(data.length, off + 4096);
    for (let i = off; i < end; i++) {
      if (data[i] !== 0) {
        blocks++;
        break;
      }
    }
  }
  return blocks;
}

/** A short, stable content fingerprint (FNV-1a over the bytes) for tree dumps. */
export function fingerprint(data: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < data.length; i++) h = Math.imul(h ^ data[i], 0x01000193);
  return `${data.length}:${(h >>> 0).toString(16)}`;
}

/**
 * The model as a service behind the fs protocol (for the 9P server's tests). It serves
 * writeFrom / readInto through its ctx.memory, as services/fs does; `byGrant: false`
 * makes a server that answers them with nothing (no count), as one that does not serve
 * data by grant: FsClient then goes inline.
 */
export function modelFsManifest(name = 'fs-model', endpoint = FS_ENDPOINT, options: { byGrant?: boolean } = {}): Manifest {
  const byGrant = options.byGrant ?? true;
  return {
    name,
    provides: [endpoint],
    calls: [],
    service: {
      start: (ctx) => {
        const model = new FsModel(() => {
          const ms = 1_700_000_000_000 + ctx.clock.nowMs();
          return { sec: Math.floor(ms / 1000), nsec: Math.round((ms % 1000) * 1e6) };
        });
        return {
          handle: (req) => {
            const r = parseFsRequest(req.op, req.body);
            if (!byGrant && (r.op === 'writeFrom' || r.op === 'readInto')) return undefined;
            return model.apply(r, ctx.memory);
          },
        };
      },
    },
  };
}
