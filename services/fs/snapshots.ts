/**
 * Snapshot operations of the engine: create, list, delete, restore, diff, clone, and the
 * GC roots. Filesystem (filesystem.ts) owns the state and the commit path and lends them
 * through SnapshotHost; every change is a record applied by state.ts.
 *
 * Commit points (each one Axiom transaction):
 *  - create: the objects the snapshot reaches that no snapshot holds yet are put first
 *    (`ref: false`, durable before the record: crash rule 1, leased from GC meanwhile),
 *    then FsSnapshotCreate, one record. A crash before it leaves unreferenced chunks GC
 *    reclaims. Snapshots hold no references: GC keeps them through roots (gc() below).
 *  - restore: FsSnapshotCreate of the tree before the restore (named `pre-restore-N`, the
 *    smallest N free) and FsRestore, together: after a crash the live tree is the old one
 *    (no automatic snapshot either) or the restored one (with it), never a mix. It runs
 *    with the engine's gate shut, so the automatic snapshot is exactly the tree replaced.
 *    Applying FsRestore costs the difference between the live tree and the snapshot
 *    (state-snapshots.ts applyRestore skips equal subtrees).
 *  - delete: FsSnapshotDelete, one record; the next gc() reclaims what no root reaches.
 *  - clone: FsClone, ChunkRef +1 per page of the copy (adapters.ts splits a transaction
 *    with more references than Axiom takes in one).
 * Snapshot operations run one at a time (and GC with them: its roots must not go stale
 * while it marks).
 */
import { checkName, fsError, type Attr } from './protocol.ts';
import type { FsState } from './state.ts';
import type { FsRecord, Time } from './records.ts';
import type { ChunkSink } from './seams.ts';
import type { Materialiser } from './materialise.ts';
import { hashKey } from './pages.ts';
import { mapSource, type ObjectSource, type TreeObject } from './tree.ts';
import { diffTrees, treeFigures, treePages, type DiffEntry, type TreeFigures } from './snapshot-diff.ts';

export interface SnapshotHost {
  readonly state: FsState;
  readonly mat: Materialiser;
  readonly chunks: ChunkSink;
  now(): Time;
  sync(): Promise<void>;
  /** Commits buffered data of one inode (files) or of all (directories). */
  syncInode(ino: number): Promise<void>;
  admit(): Promise<void>;
  commit(records: FsRecord[], objects?: ObjectSource): Promise<void>;
  /** Runs `work` with no other change applying and every applied record committed; it commits with commitNow. */
  exclusive<T>(work: () => Promise<T>): Promise<T>;
  commitNow(records: FsRecord[], objects?: ObjectSource): Promise<void>;
  getattr(ino: number): Attr;
}

export interface SnapshotInfo extends TreeFigures {
  name: string;
  /** Hex. */
  rootHash: string;
  time: { sec: number; nsec: number };
  /** Log sequence number of its FsSnapshotCreate record (state.ts Snapshot.seq). */
  seq?: number;
  /** Bytes of page chunks no other snapshot and not the live tree reach (what deleting it could free). */
  exclusiveBytes: number;
}

export const AUTO_SNAPSHOT_PREFIX = 'pre-restore-';

/** Bounds the figures memo (objects are immutable, so entries never go stale, only pile up). */
const FIGURES_MEMO_ENTRIES_MAX = 1_000_000;

export class Snapshots {
  private lock: Promise<unknown> = Promise.resolve();
  /** Figures by object hash, kept across calls so create's reply costs what changed. */
  private figures = new Map<string, TreeFigures>();

  constructor(private readonly host: SnapshotHost) {}

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.lock.then(work, work);
    this.lock = next.catch(() => undefined);
    return next;
  }

  private source(): ObjectSource {
    const { state, mat } = this.host;
    return { object: (h) => state.held.get(hashKey(h))?.obj ?? mat.object(h) };
  }

  private rootOf(name: string): Uint8Array {
    const s = this.host.state.snapshots.get(name);
    if (!s) throw fsError('ENOENT', `no snapshot '${name}'`);
    return s.root;
  }

  /** Materialises the live tree and puts the objects no snapshot holds; returns the record's inputs. */
  private async prepare(name: string): Promise<{ record: FsRecord; objects: ObjectSource }> {
    const { state, mat, chunks } = this.host;
    const root = mat.materialise(state);
    const missing = mat.missing(state, root);
    // Each object's chunk, and the parts of indirect file manifests (tree.ts).
    const list: { hash: Uint8Array; bytes: Uint8Array }[] = [];
    for (const m of missing.values()) {
      list.push({ hash: m.hash, bytes: m.bytes });
      const partHashes = m.obj.kind === 'file' ? (m.obj.parts ?? []) : [];
      m.parts.forEach((bytes, i) => list.push({ hash: partHashes[i], bytes }));
    }
    if (list.length) {
      const hashes = await chunks.put(list.map((m) => m.bytes));
      hashes.forEach((h, i) => {
        if (hashKey(h) !== hashKey(list[i].hash)) throw fsError('EIO', `the store named a tree object ${hashKey(h)}, not ${hashKey(list[i].hash)}`);
      });
    }
    const objects = mapSource(new Map<string, TreeObject>([...missing].map(([k, m]) => [k, m.obj])));
    return { record: { type: 'FsSnapshotCreate', payload: { name, root, t: this.host.now() } }, objects };
  }

  create(name: string): Promise<SnapshotInfo> {
    checkName(name);
    return this.serial(async () => {
      if (this.host.state.snapshots.has(name)) throw fsError('EEXIST', `snapshot '${name}' exists`);
      await this.host.sync();
      await this.host.admit();
      const { record, objects } = await this.prepare(name);
      await this.host.commit([record], objects);
      return this.info(name);
    });
  }

  delete(name: string): Promise<void> {
    checkName(name);
    return this.serial(async () => {
      this.rootOf(name);
      await this.host.admit();
      await this.host.commit([{ type: 'FsSnapshotDelete', payload: { name, t: this.host.now() } }]);
    });
  }

  /** Returns the name of the automatic snapshot of the tree it replaced. */
  restore(name: string): Promise<{ saved: string }> {
    checkName(name);
    return this.serial(async () => {
      this.rootOf(name);
      await this.host.sync();
      return this.host.exclusive(async () => {
        const snaps = this.host.state.snapshots;
        let n = 1;
        while (snaps.has(`${AUTO_SNAPSHOT_PREFIX}${n}`)) n++;
        const saved = `${AUTO_SNAPSHOT_PREFIX}${n}`;
        const { record, objects } = await this.prepare(saved);
        await this.host.commitNow([record, { type: 'FsRestore', payload: { name, t: this.host.now() } }], objects);
        return { saved };
      });
    });
  }

  /** From snapshot `a` to snapshot `b`, or to the live tree. */
  diff(a: string, b?: string): Promise<{ entries: DiffEntry[]; truncated: boolean }> {
    checkName(a, 'from');
    if (b !== undefined) checkName(b, 'to');
    return this.serial(async () => {
      const ra = this.rootOf(a);
      let rb: Uint8Array;
      if (b === undefined) {
        await this.host.sync();
        rb = this.host.mat.materialise(this.host.state);
      } else rb = this.rootOf(b);
      return diffTrees(this.source(), ra, rb);
    });
  }

  private info(name: string, owners?: Map<string, string>): SnapshotInfo {
    const s = this.host.state.snapshots.get(name)!;
    if (this.figures.size > FIGURES_MEMO_ENTRIES_MAX) this.figures = new Map();
    const f = treeFigures(this.source(), s.root, this.figures);
    let exclusiveBytes = 0;
    if (owners) for (const [k, length] of treePages(this.source(), s.root)) if (owners.get(k) === name) exclusiveBytes += length;
    return { name, rootHash: hashKey(s.root), time: { sec: s.t[0], nsec: s.t[1] }, ...(s.seq === undefined ? {} : { seq: s.seq }), ...f, exclusiveBytes };
  }

  /** Every snapshot, oldest first. Costs the size of every snapshot's tree (exclusive space needs them all). */
  list(): Promise<SnapshotInfo[]> {
    return this.serial(async () => {
      const { state } = this.host;
      const owners = new Map<string, string>(); // page -> the one snapshot reaching it, or '' (shared / live)
      for (const n of state.inodes.values()) if (n.pages) for (const p of n.pages.values()) if (p.hash) owners.set(hashKey(p.hash), '');
      for (const [name, s] of state.snapshots) {
        for (const k of treePages(this.source(), s.root).keys()) owners.set(k, owners.has(k) && owners.get(k) !== name ? '' : name);
      }
      return [...state.snapshots.keys()].map((name) => this.info(name, owners));
    });
  }

  clone(ino: number, parent: number, name: string): Promise<Attr> {
    checkName(name);
    return this.serial(async () => {
      const { state } = this.host;
      const src = state.get(ino);
      if (!src) throw fsError('ESTALE', `no inode ${ino}`);
      if (src.nlink === 0) throw fsError('ENOENT', `inode ${ino} was unlinked`);
      if (src.dir) await this.host.sync();
      else await this.host.syncInode(ino);
      await this.host.admit();
      const p = state.get(parent);
      if (!p) throw fsError('ESTALE', `no inode ${parent}`);
      if (!p.dir) throw fsError('ENOTDIR', `inode ${parent} is not a directory`);
      if (p.dir.entries.has(name)) throw fsError('EEXIST', `'${name}' exists`);
      if (!state.get(ino)) throw fsError('ESTALE', `inode ${ino} went away`);
      await this.host.commit([{ type: 'FsClone', payload: { ino, parent, name, t: this.host.now() } }]);
      const made = state.child(parent, name);
      if (made === undefined) throw fsError('EIO', 'the clone is not where it was made');
      return this.host.getattr(made);
    });
  }

  /** Runs `gc(roots)` with snapshot operations held off, roots = every chunk the live tree or a snapshot reaches. */
  gc<T>(gc: (roots: Uint8Array[]) => Promise<T>): Promise<T> {
    return this.serial(async () => gc([...this.roots()]));
  }

  *roots(): Generator<Uint8Array> {
    const { state } = this.host;
    for (const n of state.inodes.values()) if (n.pages) for (const p of n.pages.values()) if (p.hash) yield p.hash;
    for (const h of state.held.values()) {
      yield h.hash;
      if (h.obj.kind === 'file') {
        for (const [, page] of h.obj.pages) if (page) yield page;
        for (const part of h.obj.parts ?? []) yield part;
      }
    }
  }
}
