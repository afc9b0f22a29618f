/**
 * The filesystem engine: the protocol's operations over FsState (metadata), dirty pages
 * (buffered data) and two seams, a chunk store and a metadata log (seams.ts).
 *
 * Commit point. A namespace operation builds its records, applies them to the state at
 * once (later operations see it) and replies when MetaLog.commit resolves: that is its
 * commit point and its acknowledgement. File data is buffered per inode and committed on
 * fsync, close, sync, truncate of the file, or when buffered bytes pass DIRTY_BYTES_MAX:
 * pages go to the chunk store (durable first), then one FsWrite transaction names them.
 * Commits are called in apply order and the log commits them in call order, so the log
 * always describes a prefix of what was applied.
 *
 * Failure. If a commit fails, memory is ahead of the log and nobody can say by how much:
 * the engine turns read-only-broken (every call EIO) until it is mounted again.
 *
 * Invariants: data operations on one inode run one at a time (a per-inode queue); a
 * handle refers to a live inode; an inode with no names is freed (FsFree) when its last
 * handle closes, or at mount.
 */
import { ServiceError } from '../../kernel/errors.ts';
import {
  FILE_SIZE_BYTES_MAX,
  NAME_LENGTH_BYTES_MAX,
  ROOT_INO,
  SYMLINK_FOLLOW_MAX,
  fsError,
  type Attr,
  type OpenFlags,
  type SetAttr,
  type StatFs,
  type WalkResult,
  type Errno,
} from './protocol.ts';
import { FsState, type ChunkDelta } from './state.ts';
import * as ops from './namespace-ops.ts';
import { DirtyPages, PageCache, hashKey, isZero } from './pages.ts';
import { DIRTY_BYTES_MAX, HANDLES_MAX, PAGE_SIZE_BYTES, READ_PAGES_IN_FLIGHT, WRITE_RECORD_PAGES_MAX, CHECKPOINT_RECORDS_INTERVAL } from './limits.ts';
import type { ChunkSink, MetaLog } from './seams.ts';
import type { FsRecord, PageRef, Time } from './records.ts';
import { decodeImage, encodeImage } from './image.ts';
import { Materialiser } from './materialise.ts';
import { Snapshots } from './snapshots.ts';
import { loadTree, mapSource, type ObjectSource } from './tree.ts';
import { SnapshotView, SNAPSHOTS_DIR_INO, SNAPSHOTS_DIR_NAME, isVirtual } from './snapshot-view.ts';
import { noteSnapshotSeqs } from './state-snapshots.ts';

interface Handle {
  ino: number;
  flags: OpenFlags;
}

/** Where a read puts its bytes, at offsets from the start of the read: data, or zeros for holes. */
interface ReadSink {
  put(atBytes: number, bytes: Uint8Array): void;
  zero(atBytes: number, lengthBytes: number): void;
}

/** Copies `src` (or, given a count, that many zeros) into the views of `into`, as one stream starting at atBytes. */
function scatter(into: readonly Uint8Array[], atBytes: number, src: Uint8Array | number): void {
  let left = typeof src === 'number' ? src : src.length;
  let done = 0;
  let skip = atBytes;
  for (const view of into) {
    if (left === 0) break;
    if (skip >= view.length) {
      skip -= view.length;
      continue;
    }
    const n = Math.min(left, view.length - skip);
    if (typeof src === 'number') view.fill(0, skip, skip + n);
    else view.set(src.subarray(done, done + n), skip);
    done += n;
    left -= n;
    skip = 0;
  }
  if (left !== 0) throw new Error(`filesystem: ${left} bytes of a read found no room`);
}

/** Reads views in order as one stream: the source of a write. */
class Gather {
  private piece = 0;
  private at = 0;
  constructor(private readonly pieces: readonly Uint8Array[]) {}

  copyTo(dst: Uint8Array, dstOffsetBytes: number, lengthBytes: number): void {
    let left = lengthBytes;
    while (left > 0) {
      const src = this.pieces[this.piece];
      if (!src) throw new Error('filesystem: a write ran past its bytes');
      const n = Math.min(left, src.length - this.at);
      dst.set(src.subarray(this.at, this.at + n), dstOffsetBytes + lengthBytes - left);
      left -= n;
      this.at += n;
      if (this.at === src.length) {
        this.piece++;
        this.at = 0;
      }
    }
  }

  done(): boolean {
    while (this.piece < this.pieces.length && this.pieces[this.piece].length === 0) this.piece++;
    return this.piece === this.pieces.length;
  }
}

/** What the engine shows of a file beyond the committed state: buffered size and time. */
interface Pending {
  sizeBytes: number;
  mtime: Time;
  versionBump: number;
}

export interface FilesystemStats {
  inodes: number;
  snapshots: number;
  handles: number;
  dirtyBytes: number;
  commits: number;
  recordsCommitted: number;
  recordsSinceCheckpoint: number;
  checkpoints: number;
  pageCacheHits: number;
  pageCacheMisses: number;
  broken: string | null;
}

export class Filesystem {
  private state: FsState;
  private readonly handles = new Map<number, Handle>();
  private readonly openCount = new Map<number, number>();
  private readonly dirty = new DirtyPages();
  private readonly pending = new Map<number, Pending>();
  private readonly cache = new PageCache();
  private readonly inodeQueues = new Map<number, Promise<unknown>>();
  private nextHandle = 1;
  private broken: string | null = null;
  private commits = 0;
  private recordsCommitted = 0;
  private recordsSinceCheckpoint = 0;
  private checkpoints = 0;
  private checkpointing: Promise<void> | null = null;
  /** Checkpoint by itself every CHECKPOINT_RECORDS_INTERVAL records. */
  private autoCheckpoint = true;
  /** Set while a checkpoint takes its image: new changes wait here before they apply. */
  private gate: Promise<void> | null = null;
  /** Commits applied and proposed, not yet committed; a checkpoint waits for them. */
  private inflight = 0;
  private drainWaiters: (() => void)[] = [];
  /** Per-inode tree object cache (materialise.ts); told of every applied record. */
  private readonly mat = new Materialiser();
  /** Snapshot operations (snapshots.ts), over this engine's state and commit path. */
  readonly snapshots: Snapshots;
  /** Read-only /.snapshots (snapshot-view.ts): inodes from VIRTUAL_INO_BASE up. */
  private readonly view = new SnapshotView(() => this.state);

  private constructor(
    private readonly chunks: ChunkSink,
    private readonly log: MetaLog,
    private readonly now: () => Time,
    state: FsState,
  ) {
    this.state = state;
    const self = this;
    this.snapshots = new Snapshots({
      get state() {
        return self.state;
      },
      mat: this.mat,
      chunks: this.chunks,
      now: () => this.now(),
      sync: () => this.sync(),
      syncInode: (ino) => this.serial(ino, () => this.commitData(ino)),
      admit: () => this.admit(),
      commit: (records, objects) => this.commit(records, objects),
      commitNow: (records, objects) => this.commitNow(records, objects),
      exclusive: (work) => this.exclusive(work),
      getattr: (ino) => this.getattr(ino),
    });
  }

  /** Rebuilds the state from the log (checkpoint + records) and frees orphaned inodes. */
  static async mount(chunks: ChunkSink, log: MetaLog, now: () => Time, options: { checkpoints?: boolean } = {}): Promise<{ fs: Filesystem; replayed: number; orphansFreed: number }> {
    const { image, records } = await log.replay();
    const state = image ? decodeImage(image) : new FsState(now());
    let replayed = 0;
    for await (const r of records) {
      // A snapshot's new objects come from the store (tree.ts: content-addressed, verified).
      const objects = r.type === 'FsSnapshotCreate' ? mapSource(await loadTree(r.payload.root, { object: (h) => state.held.get(hashKey(h))?.obj }, (h) => chunks.get(h))) : undefined;
      state.apply(r, objects);
      if (r.seq !== undefined) noteSnapshotSeqs(state, [r], r.seq);
      replayed++;
    }
    state.check();
    const fs = new Filesystem(chunks, log, now, state);
    fs.autoCheckpoint = options.checkpoints !== false;
    fs.recordsSinceCheckpoint = replayed;
    const orphans = [...state.inodes.values()].filter((n) => !n.dir && n.nlink === 0).map((n) => n.ino);
    if (orphans.length) await fs.commit(orphans.map((ino) => ({ type: 'FsFree' as const, payload: { ino } })));
    return { fs, replayed, orphansFreed: orphans.length };
  }

  // ---- plumbing ---------------------------------------------------------------------

  private alive(): void {
    if (this.broken) throw fsError('EIO', `the filesystem stopped after a failed commit (${this.broken}); remount it`);
  }

  private opContext(): ops.OpContext {
    return { now: this.now, allocIno: () => this.state.nextIno };
  }

  /** Waits while a checkpoint takes its image. Mutating operations call it before they look at the state. */
  private async admit(): Promise<void> {
    while (this.gate) await this.gate;
  }

  /**
   * Applies records now; resolves when they are committed. Callers compute `records` and
   * call this in one synchronous stretch after admit(), so nothing changes the state in
   * between; a data commit, which waits for its chunks first, is re-checked after the gate.
   */
  private async commit(records: FsRecord[], objects?: ObjectSource): Promise<void> {
    if (records.length === 0) return;
    this.alive();
    if (this.gate) {
      await this.admit();
      records = records.filter((r) => r.type !== 'FsWrite' || this.state.get(r.payload.ino));
      if (records.length === 0) return;
    }
    return this.commitNow(records, objects);
  }

  /** commit() without waiting at the gate: for the holder of the gate (exclusive()) only. */
  private async commitNow(records: FsRecord[], objects?: ObjectSource): Promise<void> {
    this.alive();
    const deltas: ChunkDelta[] = [];
    try {
      for (const r of records) {
        for (const d of this.state.apply(r, objects, this.mat)) deltas.push(d); // a restore may carry 10^5 changes: no spread
        this.mat.touched(this.state, r);
      }
    } catch (e) {
      // Some records may have applied: memory is ahead of the log by an unknown amount.
      this.broken ??= `applying ${records.length} record(s) failed: ${e instanceof Error ? e.message : String(e)}`;
      throw fsError('EIO', this.broken);
    }
    this.commits++;
    this.recordsCommitted += records.length;
    this.recordsSinceCheckpoint += records.length;
    this.inflight++;
    try {
      const firstSeq = await this.log.commit(records, deltas);
      // Before `inflight` drops: a checkpoint's image then has the snapshot's seq.
      if (typeof firstSeq === 'number') noteSnapshotSeqs(this.state, records, firstSeq);
    } catch (e) {
      this.broken ??= e instanceof Error ? e.message : String(e);
      throw fsError('EIO', `commit failed: ${this.broken}`);
    } finally {
      if (--this.inflight === 0) for (const w of this.drainWaiters.splice(0)) w();
    }
    if (this.autoCheckpoint && this.recordsSinceCheckpoint >= CHECKPOINT_RECORDS_INTERVAL && !this.checkpointing) {
      this.checkpointing = this.checkpoint().finally(() => (this.checkpointing = null));
    }
  }

  /** Runs data operations on one inode one at a time. */
  private serial<T>(ino: number, work: () => Promise<T>): Promise<T> {
    const prev = this.inodeQueues.get(ino) ?? Promise.resolve();
    const next = prev.then(work, work);
    const tail = next.catch(() => undefined);
    this.inodeQueues.set(ino, tail);
    void tail.then(() => {
      if (this.inodeQueues.get(ino) === tail) this.inodeQueues.delete(ino);
    });
    return next;
  }

  private handle(h: number): Handle {
    const handle = this.handles.get(h);
    if (!handle) throw fsError('EBADF', `no handle ${h}`);
    return handle;
  }

  private inodeOf(ino: number) {
    const n = this.state.get(ino);
    if (!n) throw fsError('ESTALE', `no inode ${ino}`);
    return n;
  }

  private sizeOf(ino: number): number {
    return this.pending.get(ino)?.sizeBytes ?? this.inodeOf(ino).sizeBytes;
  }

  private pendingOf(ino: number): Pending {
    let p = this.pending.get(ino);
    if (!p) this.pending.set(ino, (p = { sizeBytes: this.inodeOf(ino).sizeBytes, mtime: this.inodeOf(ino).mtime, versionBump: 0 }));
    return p;
  }

  // ---- attributes and names ---------------------------------------------------------

  getattr(ino: number): Attr {
    this.alive();
    if (isVirtual(ino)) return this.view.getattr(ino);
    this.inodeOf(ino);
    const a = this.state.attr(ino);
    const p = this.pending.get(ino);
    if (!p) return a;
    return { ...a, sizeBytes: p.sizeBytes, mtime: { sec: p.mtime[0], nsec: p.mtime[1] }, ctime: { sec: p.mtime[0], nsec: p.mtime[1] }, dataVersion: a.dataVersion + p.versionBump };
  }

  lookup(parent: number, name: string): Attr {
    this.alive();
    if (isVirtual(parent)) {
      const ino = this.view.lookup(parent, name); // '..' of /.snapshots is the (real) root
      return isVirtual(ino) ? this.view.getattr(ino) : this.getattr(ino);
    }
    if (parent === ROOT_INO && name === SNAPSHOTS_DIR_NAME && !this.state.dirOf(ROOT_INO).entries.has(name)) return this.view.getattr(SNAPSHOTS_DIR_INO);
    ops.needDir(this.state, parent);
    const ino = this.state.child(parent, name);
    if (ino === undefined) throw fsError('ENOENT', `'${name}' not found`);
    return this.getattr(ino);
  }

  walk(ino: number, names: string[]): WalkResult {
    this.alive();
    this.getattr(ino);
    const out: WalkResult = { attrs: [] };
    let cur = ino;
    for (const name of names) {
      try {
        cur = this.lookup(cur, name).ino;
        out.attrs.push(this.getattr(cur));
      } catch (e) {
        if (out.attrs.length === 0 || !(e instanceof ServiceError)) throw e;
        out.error = { code: e.code as Errno, message: e.message };
        break;
      }
    }
    return out;
  }

  resolve(path: string, followLast: boolean): Attr {
    this.alive();
    if (!path.startsWith('/')) throw fsError('EINVAL', 'path must be absolute');
    let follows = 0;
    const walk = (start: number, parts: string[]): number => {
      let cur = start;
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i];
        if (part === '' || part === '.') continue;
        if (new TextEncoder().encode(part).length > NAME_LENGTH_BYTES_MAX) throw fsError('ENAMETOOLONG', `'${part.slice(0, 20)}...' is too long`);
        const next = this.lookup(cur, part);
        if (next.type === 'symlink' && (followLast || i < parts.length - 1)) {
          if (++follows > SYMLINK_FOLLOW_MAX) throw fsError('ELOOP', 'too many symbolic links');
          const target = this.readlink(next.ino);
          cur = walk(target.startsWith('/') ? ROOT_INO : cur, target.split('/'));
        } else cur = next.ino;
      }
      return cur;
    };
    return this.getattr(walk(ROOT_INO, path.split('/')));
  }

  readdir(ino: number, cookie: number, limit: number) {
    this.alive();
    if (isVirtual(ino)) return this.view.readdir(ino, cookie, limit);
    ops.needDir(this.state, ino);
    return this.state.readdir(ino, cookie, limit);
  }

  readlink(ino: number): string {
    this.alive();
    if (isVirtual(ino)) return this.view.readlink(ino);
    const n = this.inodeOf(ino);
    if (n.type !== 'symlink') throw fsError('EINVAL', 'not a symlink');
    return n.target!;
  }

  async mkdir(parent: number, name: string, mode: number, uid?: number, gid?: number): Promise<Attr> {
    this.alive();
    await this.admit();
    const records = ops.mkdirOp(this.state, this.opContext(), parent, name, mode, uid, gid);
    await this.commit(records);
    return this.getattr((records[0].payload as { ino: number }).ino);
  }

  async symlink(parent: number, name: string, target: string, uid?: number, gid?: number): Promise<Attr> {
    this.alive();
    await this.admit();
    const records = ops.symlinkOp(this.state, this.opContext(), parent, name, target, uid, gid);
    await this.commit(records);
    return this.getattr((records[0].payload as { ino: number }).ino);
  }

  async link(ino: number, parent: number, name: string): Promise<Attr> {
    this.alive();
    await this.admit();
    await this.commit(ops.linkOp(this.state, this.opContext(), ino, parent, name));
    return this.getattr(ino);
  }

  async unlink(parent: number, name: string): Promise<void> {
    this.alive();
    await this.admit();
    const records = ops.unlinkOp(this.state, this.opContext(), parent, name);
    const ino = this.state.child(parent, name)!;
    const n = this.inodeOf(ino);
    if (n.nlink === 1 && !this.openCount.get(ino)) records.push(...this.freeRecords(ino));
    await this.commit(records);
  }

  async rmdir(parent: number, name: string): Promise<void> {
    this.alive();
    await this.admit();
    await this.commit(ops.rmdirOp(this.state, this.opContext(), parent, name));
  }

  async rename(parent: number, name: string, newParent: number, newName: string): Promise<void> {
    this.alive();
    await this.admit();
    const records = ops.renameOp(this.state, this.opContext(), parent, name, newParent, newName);
    const replaced = records.length ? this.state.dirOf(newParent).entries.get(newName)?.ino : undefined;
    if (replaced !== undefined) {
      const old = this.inodeOf(replaced);
      if (!old.dir && old.nlink === 1 && !this.openCount.get(replaced)) records.push(...this.freeRecords(replaced));
    }
    await this.commit(records);
  }

  private freeRecords(ino: number): FsRecord[] {
    this.dirty.take(ino);
    this.pending.delete(ino);
    return [{ type: 'FsFree', payload: { ino } }];
  }

  async setattr(ino: number, set: SetAttr): Promise<Attr> {
    this.alive();
    if (isVirtual(ino)) throw fsError('EROFS', 'snapshots are read-only');
    const { sizeBytes, ...rest } = set;
    if (sizeBytes !== undefined) await this.truncate(ino, sizeBytes);
    if (Object.keys(rest).length) {
      await this.admit();
      await this.commit(ops.setAttrOp(this.state, this.opContext(), ino, rest));
    }
    return this.getattr(ino);
  }

  statfs(usage: { blockCount: number; blocksFree: number }): StatFs {
    this.alive();
    return { blockSizeBytes: 4096, blockCount: usage.blockCount, blocksFree: usage.blocksFree, fileCount: this.state.inodes.size, filesFree: Math.max(0, 2 ** 32 - this.state.nextIno), nameLengthMax: NAME_LENGTH_BYTES_MAX };
  }

  // ---- handles ----------------------------------------------------------------------

  private openHandle(ino: number, flags: OpenFlags): number {
    if (this.handles.size >= HANDLES_MAX) throw fsError('EMFILE', `${HANDLES_MAX} handles are open`);
    const h = this.nextHandle++;
    this.handles.set(h, { ino, flags: { ...flags } });
    this.openCount.set(ino, (this.openCount.get(ino) ?? 0) + 1);
    return h;
  }

  async create(parent: number, name: string, mode: number, flags: OpenFlags, uid?: number, gid?: number): Promise<{ attr: Attr; handle: number }> {
    this.alive();
    await this.admit();
    const records = ops.createOp(this.state, this.opContext(), parent, name, mode, uid, gid);
    const ino = (records[0].payload as { ino: number }).ino;
    const done = this.commit(records);
    const handle = this.openHandle(ino, flags); // before the await: an unlink meanwhile must not free it
    try {
      await done;
    } catch (e) {
      this.handles.delete(handle);
      throw e;
    }
    return { attr: this.getattr(ino), handle };
  }

  async open(ino: number, flags: OpenFlags): Promise<{ handle: number; attr: Attr }> {
    this.alive();
    if (isVirtual(ino)) {
      const a = this.view.getattr(ino);
      if (a.type === 'symlink') throw fsError('ELOOP', 'cannot open a symlink');
      if (flags.write || flags.truncate || flags.append) throw fsError('EROFS', 'snapshots are read-only');
      return { handle: this.openHandle(ino, flags), attr: a };
    }
    const n = this.inodeOf(ino);
    if (n.type === 'symlink') throw fsError('ELOOP', 'cannot open a symlink');
    if (n.dir && (flags.write || flags.truncate || flags.append)) throw fsError('EISDIR', 'cannot open a directory for writing');
    const handle = this.openHandle(ino, flags);
    if (flags.truncate && flags.write && !n.dir) await this.truncate(ino, 0);
    return { handle, attr: this.getattr(ino) };
  }

  async close(h: number): Promise<void> {
    this.alive();
    const { ino } = this.handle(h);
    this.handles.delete(h);
    const left = (this.openCount.get(ino) ?? 1) - 1;
    if (left) this.openCount.set(ino, left);
    else this.openCount.delete(ino);
    const n = this.state.get(ino);
    if (!n) return;
    // The last handle of a name-less inode frees it; otherwise close commits what was
    // written (the crash contract: data is acknowledged by fsync, sync or close), even
    // while other handles stay open.
    if (!left && n.nlink === 0 && !n.dir) {
      return this.serial(ino, async () => {
        await this.admit();
        if (this.state.get(ino)) await this.commit(this.freeRecords(ino));
      });
    }
    if (this.dirty.has(ino)) await this.serial(ino, () => this.commitData(ino));
  }

  async fsync(h: number): Promise<void> {
    this.alive();
    const { ino } = this.handle(h);
    await this.serial(ino, () => this.commitData(ino));
  }

  async sync(): Promise<void> {
    this.alive();
    await Promise.all(this.dirty.inodes().map((ino) => this.serial(ino, () => this.commitData(ino))));
  }

  // ---- data -------------------------------------------------------------------------

  /** The current contents of a page: buffered, cached or fetched; null for a hole. */
  private async pageBytes(ino: number, index: number): Promise<Uint8Array | null> {
    const d = this.dirty.get(ino, index);
    if (d) return d;
    const page = this.inodeOf(ino).pages!.get(index);
    if (!page?.hash) return null;
    const bytes = await this.chunkBytes(page.hash);
    return page.lengthBytes < bytes.length ? bytes.subarray(0, page.lengthBytes) : bytes;
  }

  /** A stored page by its content hash: from the clean cache, or fetched (verified by the content store) and cached. */
  private async chunkBytes(hash: Uint8Array): Promise<Uint8Array> {
    let bytes = this.cache.getByHash(hash);
    if (!bytes) {
      bytes = await this.chunks.get(hash);
      this.cache.putByHash(hash, bytes);
    }
    return bytes;
  }

  async read(h: number, offsetBytes: number, lengthBytes: number): Promise<Uint8Array> {
    const hit = this.readHit(h, offsetBytes, lengthBytes);
    if (hit) return hit;
    let out = new Uint8Array(0);
    await this.readWith(h, offsetBytes, lengthBytes, (countBytes) => {
      out = new Uint8Array(countBytes); // zeroed: holes need nothing more
      return { put: (at, bytes) => out.set(bytes, at), zero: () => {} };
    });
    return out;
  }

  /**
   * The fast path of a small read: within one page, that page buffered or in the clean
   * cache, nothing queued on the inode. Returns the bytes at once (a view of an immutable
   * cached page - the kernel copies it into the reply - or a copy of a dirty one), or
   * undefined for the general path.
   */
  private readHit(h: number, offsetBytes: number, lengthBytes: number): Uint8Array | undefined {
    const handle = this.handles.get(h);
    if (this.broken || !handle || !handle.flags.read || isVirtual(handle.ino) || this.inodeQueues.has(handle.ino)) return undefined;
    const ino = handle.ino;
    const n = this.state.get(ino);
    if (!n || n.dir || !Number.isSafeInteger(offsetBytes) || !Number.isSafeInteger(lengthBytes) || offsetBytes < 0 || lengthBytes <= 0) return undefined;
    const end = Math.min(this.sizeOf(ino), offsetBytes + lengthBytes);
    const index = Math.floor(offsetBytes / PAGE_SIZE_BYTES);
    if (offsetBytes >= end || Math.floor((end - 1) / PAGE_SIZE_BYTES) !== index) return undefined;
    const from = offsetBytes - index * PAGE_SIZE_BYTES;
    const to = end - index * PAGE_SIZE_BYTES;
    const dirty = this.dirty.get(ino, index);
    if (dirty) return dirty.slice(from, to);
    const page = n.pages?.get(index);
    if (!page?.hash || to > page.lengthBytes) return undefined;
    const bytes = this.cache.getByHash(page.hash);
    if (!bytes || to > bytes.length) return undefined;
    return bytes.subarray(from, to);
  }

  /**
   * Like read, but into `into` (views the caller provides, filled in order as one stream,
   * at least lengthBytes in all: the by-grant path); resolves with the count. Bytes of
   * `into` past the count are left as they were.
   */
  async readInto(h: number, offsetBytes: number, lengthBytes: number, into: readonly Uint8Array[]): Promise<number> {
    const room = into.reduce((n, v) => n + v.length, 0);
    if (room < lengthBytes) throw fsError('EINVAL', `readInto: ${room} bytes of room for ${lengthBytes}`);
    return this.readWith(h, offsetBytes, lengthBytes, () => ({ put: (at, bytes) => scatter(into, at, bytes), zero: (at, n) => scatter(into, at, n) }));
  }

  /** The body of read and readInto: `sink(count)` says where the bytes go once the count is known; holes and short pages are zeroed through it. */
  private async readWith(h: number, offsetBytes: number, lengthBytes: number, sink: (countBytes: number) => ReadSink): Promise<number> {
    this.alive();
    const { ino, flags } = this.handle(h);
    if (isVirtual(ino)) {
      const data = await this.readVirtual(ino, offsetBytes, lengthBytes);
      sink(data.length).put(0, data);
      return data.length;
    }
    const n = this.inodeOf(ino);
    if (n.dir) throw fsError('EISDIR', 'read of a directory');
    if (!flags.read) throw fsError('EBADF', 'the handle is not open for reading');
    return this.serial(ino, async () => {
      const end = Math.min(this.sizeOf(ino), offsetBytes + lengthBytes);
      if (offsetBytes >= end) return (sink(0), 0);
      const out = sink(end - offsetBytes);
      // The pages of one read are fetched together (up to READ_PAGES_IN_FLIGHT at once), so
      // a large read keeps the layers below busy instead of waiting page by page.
      const first = Math.floor(offsetBytes / PAGE_SIZE_BYTES);
      const last = Math.floor((end - 1) / PAGE_SIZE_BYTES);
      for (let batch = first; batch <= last; batch += READ_PAGES_IN_FLIGHT) {
        const indices = Array.from({ length: Math.min(READ_PAGES_IN_FLIGHT, last + 1 - batch) }, (_, i) => batch + i);
        const pages = await Promise.all(indices.map((index) => this.pageBytes(ino, index)));
        indices.forEach((index, i) => {
          const bytes = pages[i];
          const pageStart = index * PAGE_SIZE_BYTES;
          const from = Math.max(offsetBytes, pageStart) - pageStart;
          const to = Math.min(end, pageStart + PAGE_SIZE_BYTES) - pageStart;
          const have = bytes ? Math.max(from, Math.min(bytes.length, to)) : from;
          if (bytes && from < have) out.put(pageStart + from - offsetBytes, bytes.subarray(from, have));
          if (have < to) out.zero(pageStart + have - offsetBytes, to - have);
        });
      }
      return end - offsetBytes;
    });
  }

  /**
   * Writes `data` at offsetBytes (or at the end, for an append handle); resolves with the
   * count. `data` may be several views (the by-grant path: segments of a client's memory),
   * written in order as one stream; they are copied into the file's pages here and not kept.
   */
  async write(h: number, offsetBytes: number, data: Uint8Array | readonly Uint8Array[]): Promise<number> {
    this.alive();
    const handle = this.handle(h);
    const { ino, flags } = handle;
    if (!flags.write && !flags.append) throw fsError('EBADF', 'the handle is not open for writing');
    if (this.inodeOf(ino).dir) throw fsError('EISDIR', 'write to a directory');
    const pieces = data instanceof Uint8Array ? [data] : data;
    const lengthBytes = pieces.reduce((n, v) => n + v.length, 0);
    const written = await this.serial(ino, async () => {
      const start = flags.append ? this.sizeOf(ino) : offsetBytes;
      if (start + lengthBytes > FILE_SIZE_BYTES_MAX) throw fsError('EFBIG', `a write to ${start + lengthBytes} bytes passes the file size limit`);
      if (lengthBytes === 0) return 0;
      const source = new Gather(pieces);
      for (let pos = start; pos < start + lengthBytes; ) {
        const index = Math.floor(pos / PAGE_SIZE_BYTES);
        const inPage = pos - index * PAGE_SIZE_BYTES;
        const take = Math.min(PAGE_SIZE_BYTES - inPage, start + lengthBytes - pos);
        let page = this.dirty.get(ino, index);
        if (!page) {
          page = new Uint8Array(PAGE_SIZE_BYTES);
          if (take < PAGE_SIZE_BYTES) {
            const old = await this.pageBytes(ino, index);
            if (old) page.set(old.subarray(0, Math.min(old.length, Math.max(0, this.sizeOf(ino) - index * PAGE_SIZE_BYTES))));
          }
          this.dirty.set(ino, index, page);
        }
        source.copyTo(page, inPage, take);
        pos += take;
      }
      if (!source.done()) throw new Error('filesystem: a write did not consume exactly its bytes');
      const p = this.pendingOf(ino);
      p.sizeBytes = Math.max(p.sizeBytes, start + lengthBytes);
      p.mtime = this.now();
      p.versionBump++;
      return lengthBytes;
    });
    if (this.dirty.dirtyBytes > DIRTY_BYTES_MAX) await this.relievePressure();
    return written;
  }

  private async relievePressure(): Promise<void> {
    for (const ino of this.dirty.inodes()) {
      if (this.dirty.dirtyBytes <= DIRTY_BYTES_MAX / 2) break;
      await this.serial(ino, () => this.commitData(ino));
    }
  }

  /** A read of a file under /.snapshots: its pages from the snapshot's manifest. */
  private async readVirtual(ino: number, offsetBytes: number, lengthBytes: number): Promise<Uint8Array> {
    if (this.view.getattr(ino).type !== 'file') throw fsError('EISDIR', 'read of a directory');
    const end = Math.min(this.view.sizeOf(ino), offsetBytes + lengthBytes);
    if (offsetBytes >= end) return new Uint8Array(0);
    const out = new Uint8Array(end - offsetBytes);
    for (let index = Math.floor(offsetBytes / PAGE_SIZE_BYTES); index * PAGE_SIZE_BYTES < end; index++) {
      const page = this.view.page(ino, index);
      if (!page?.hash) continue;
      const bytes = await this.chunkBytes(page.hash);
      const pageStart = index * PAGE_SIZE_BYTES;
      const from = Math.max(offsetBytes, pageStart) - pageStart;
      const to = Math.min(end - pageStart, page.lengthBytes, bytes.length);
      if (from < to) out.set(bytes.subarray(from, to), pageStart + from - offsetBytes);
    }
    return out;
  }

  async truncate(ino: number, sizeBytes: number): Promise<Attr> {
    this.alive();
    if (isVirtual(ino)) throw fsError('EROFS', 'snapshots are read-only');
    const n = this.inodeOf(ino);
    if (n.dir) throw fsError('EISDIR', 'truncate of a directory');
    if (n.type !== 'file') throw fsError('EINVAL', 'truncate of a symlink');
    if (sizeBytes > FILE_SIZE_BYTES_MAX) throw fsError('EFBIG', `size ${sizeBytes} passes the file size limit`);
    await this.serial(ino, async () => {
      // Buffered data below the new size is committed with the truncate, so the log
      // never holds a size that exposes bytes the file no longer has.
      this.dirty.truncate(ino, sizeBytes);
      const p = this.pending.get(ino);
      if (p) p.sizeBytes = Math.min(p.sizeBytes, sizeBytes);
      await this.commitData(ino, [{ type: 'FsTruncate', payload: { ino, sizeBytes, t: this.now() } }]);
    });
    return this.getattr(ino);
  }

  /** Commits an inode's buffered pages (and `extra` records after them) as one transaction. Call inside serial(). */
  private async commitData(ino: number, extra: FsRecord[] = []): Promise<void> {
    const pages = this.dirty.take(ino);
    const p = this.pending.get(ino);
    this.pending.delete(ino);
    await this.admit();
    if (!this.state.get(ino)) return; // freed meanwhile
    const sizeBytes = p?.sizeBytes ?? this.inodeOf(ino).sizeBytes;
    const refs: PageRef[] = [];
    const toPut: { ref: PageRef; bytes: Uint8Array }[] = [];
    for (const [index, page] of [...pages].sort((a, b) => a[0] - b[0])) {
      const lengthBytes = Math.min(PAGE_SIZE_BYTES, sizeBytes - index * PAGE_SIZE_BYTES);
      if (lengthBytes <= 0) continue;
      const bytes = page.subarray(0, lengthBytes);
      const ref: PageRef = { index, hash: null, lengthBytes };
      refs.push(ref);
      if (!isZero(bytes)) toPut.push({ ref, bytes });
    }
    if (toPut.length) {
      let hashes: Uint8Array[];
      try {
        hashes = await this.chunks.put(toPut.map((x) => x.bytes));
      } catch (e) {
        // The data never reached the log: put it back so a later fsync can try again.
        for (const [index, page] of pages) if (!this.dirty.get(ino, index)) this.dirty.set(ino, index, page);
        if (p) this.pending.set(ino, p);
        throw e instanceof ServiceError ? e : fsError('EIO', String(e));
      }
      // The committed pages become clean cache entries as they are, without a copy: take()
      // removed them from the dirty set, so nothing else holds or writes them (a later
      // write makes a fresh dirty page). Only a short last page is copied, so the cache
      // does not keep a whole page buffer alive for a few bytes it counts.
      toPut.forEach((x, i) => {
        x.ref.hash = hashes[i];
        this.cache.putByHash(hashes[i], x.bytes.length === x.bytes.buffer.byteLength ? x.bytes : x.bytes.slice());
      });
    }
    // One transaction per WRITE_RECORD_PAGES_MAX pages: an FsWrite and up to two ChunkRefs
    // a page stay within Axiom's records per transaction. Only a file with more buffered
    // pages than that (just past the dirty bound) takes more than one, committed in order.
    const t = p?.mtime ?? this.now();
    for (let i = 0; i < refs.length; i += WRITE_RECORD_PAGES_MAX) {
      const last = i + WRITE_RECORD_PAGES_MAX >= refs.length;
      await this.commit([{ type: 'FsWrite', payload: { ino, pages: refs.slice(i, i + WRITE_RECORD_PAGES_MAX), sizeBytes, t } }, ...(last ? extra : [])]);
    }
    if (refs.length === 0) await this.commit([...(p ? [{ type: 'FsWrite' as const, payload: { ino, pages: [], sizeBytes, t } }] : []), ...extra]);
  }

  // ---- checkpoints ------------------------------------------------------------------

  /** Commits buffered data, then records an image of the state (bounds mount time). */
  async checkpoint(): Promise<void> {
    this.alive();
    await this.sync();
    if (this.gate) return this.admit(); // one is under way: its image is as new as ours would be
    await this.exclusive(async () => {
      // Every applied record is committed and nothing else may apply: the image and the
      // log agree exactly here (seams.ts: a checkpoint takes effect in call order).
      const image = encodeImage(this.state);
      this.recordsSinceCheckpoint = 0;
      await this.log.checkpoint(image);
      this.checkpoints++;
    });
  }

  /** Shuts the gate (waiting for any other holder), waits for in-flight commits, runs `work`. */
  private async exclusive<T>(work: () => Promise<T>): Promise<T> {
    while (this.gate) await this.gate; // then shut it in the same stretch: no other holder slips in
    let open!: () => void;
    this.gate = new Promise((resolve) => (open = resolve));
    try {
      if (this.inflight) await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
      return await work();
    } finally {
      this.gate = null;
      open();
    }
  }

  stats(): FilesystemStats {
    return {
      inodes: this.state.inodes.size,
      snapshots: this.state.snapshots.size,
      handles: this.handles.size,
      dirtyBytes: this.dirty.dirtyBytes,
      commits: this.commits,
      recordsCommitted: this.recordsCommitted,
      recordsSinceCheckpoint: this.recordsSinceCheckpoint,
      checkpoints: this.checkpoints,
      pageCacheHits: this.cache.hits,
      pageCacheMisses: this.cache.misses,
      broken: this.broken,
    };
  }

  /** Every chunk hash the live tree or a snapshot reaches (roots for the content store's GC). */
  *liveChunks(): Generator<Uint8Array> {
    yield* this.snapshots.roots();
  }

  /** Objects encoded by materialisations so far (a second one adds only what changed). */
  objectsEncoded(): number {
    return this.mat.objectsEncoded;
  }

  /** For tests: the committed state's invariants. */
  checkState(): void {
    this.state.check();
  }
}
