/**
 * Materialisation: the live tree (FsState) as tree objects (tree.ts), with a per-inode
 * cache of object hashes so a second materialisation encodes and hashes only what changed
 * since the first, not the whole tree.
 *
 * The engine calls `touched(state, record)` after applying each record; it drops the
 * cached hash of every inode whose object the record may change and of their ancestors
 * (an object names its children's hashes). Directories know their parent; a file's parents
 * are the directories that named it in an earlier materialisation (`parentsOf`, a superset:
 * a stale parent only costs a needless re-encoding), and a directory that gained a name
 * since then is itself dropped by the record that added it.
 *
 * A restore (FsRestore) changes the tree in place where it differs from the snapshot
 * (state-snapshots.ts): it tells this cache, as the LiveTree it was given, which inodes it
 * freed and which now hold exactly a held object (directories it changed, inodes it made),
 * so the cache stays what the state describes and the next materialisation re-encodes nothing.
 *
 * A directory wide enough to be stored split (tree.ts 'D') is re-made from its last
 * materialisation. `touched` notes, for each directory it drops, which child caused it
 * (`kids`: a child inode, or 'all' when a record changed its names); when only children
 * changed, the last entries are copied, the entries of those children replaced, and only
 * the pieces holding them re-encoded (the names, hence the boundaries, are the same), so a
 * change in a directory of 10^5 names costs the change, one piece and the short 'D'
 * object, not a walk of the list. After a change of names the directory is made whole, its
 * names reused if they are the same set, and a piece equal to one of the last time keeps
 * its hash and bytes. Pieces are cached beside the inodes' objects, counted by the cached
 * directories naming them.
 *
 * Invariant (what makes the early stop in `dropUp` sound): an inode that is not cached has
 * no cached ancestor. Objects are pure functions of the state: materialise() of an
 * unchanged state returns the same root hash, and equal subtrees have equal hashes.
 * Nothing here changes FsState or the store; the caller puts the objects it needs.
 */
import { ROOT_INO } from './protocol.ts';
import type { FsState } from './state.ts';
import type { FsRecord } from './records.ts';
import { hashKey } from './pages.ts';
import { childrenOf, encodePiece, encodeSplitDir, encodeStored, hashObject, isSplit, pieceCounts, sameHash, type DirObject, type EntryTuple, type ObjectSource, type PageTuple, type PieceRef, type TreeObject } from './tree.ts';
import type { LiveTree } from './state-snapshots.ts';

interface Made {
  hash: Uint8Array;
  obj: TreeObject;
  /** Encoded lazily for an object a restore put here (it was held: only `missing` needs bytes). */
  bytes?: Uint8Array;
  /** Part chunks of an indirect file manifest (tree.ts), stored beside `bytes` (a split directory's pieces are objects of their own: `pieces`). */
  parts?: Uint8Array[];
  /** A split directory's pieces, in order (their objects are kind 'piece'). */
  pieces?: Made[];
  /** A split directory's entry positions by child inode (a hard-linked child may have several). */
  index?: Map<number, number[]>;
}

/** Why a directory was dropped: the children whose objects changed, or 'all' when its names did. */
type Kids = Set<number> | 'all';

/** An object as `missing` hands it out: with its bytes. */
export type Stored = Made & { bytes: Uint8Array; parts: Uint8Array[] };

export class Materialiser implements ObjectSource, LiveTree {
  private readonly byIno = new Map<number, Made>();
  /** Objects of cached inodes by hex hash, with how many cached inodes have each. */
  private readonly byHash = new Map<string, { made: Made; count: number }>();
  private readonly parentsOf = new Map<number, Set<number>>();
  /** The last object made of each split directory, kept after a drop: the next make reuses its names and pieces. */
  private readonly lastSplit = new Map<number, Made>();
  /** For directories dropped since last made: what changed in them (read only with `lastSplit`). */
  private readonly kids = new Map<number, Kids>();
  /** Objects encoded since the engine started (a second materialisation adds only what changed; a split directory counts its new pieces too). */
  objectsEncoded = 0;

  object(hash: Uint8Array): TreeObject | undefined {
    return this.byHash.get(hashKey(hash))?.made.obj;
  }

  clear(): void {
    this.byIno.clear();
    this.byHash.clear();
    this.parentsOf.clear();
    this.lastSplit.clear();
    this.kids.clear();
  }

  /** Notes why directory `dir` is dropped: child `child` changed, its names changed ('all'), or only itself ('self'). */
  private note(dir: number, child: number | 'all' | 'self'): void {
    const k = this.kids.get(dir);
    if (k === 'all') return;
    if (child === 'all') {
      this.kids.set(dir, 'all');
      return;
    }
    let set = k;
    if (!set) this.kids.set(dir, (set = new Set()));
    if (child !== 'self') set.add(child);
  }

  private count(made: Made, by: 1 | -1): void {
    const k = hashKey(made.hash);
    const e = this.byHash.get(k);
    if (by > 0) {
      if (e) e.count++;
      else this.byHash.set(k, { made, count: 1 });
    } else if (--e!.count === 0) this.byHash.delete(k);
  }

  private drop(ino: number): boolean {
    const m = this.byIno.get(ino);
    if (!m) return false;
    this.byIno.delete(ino);
    this.count(m, -1);
    for (const p of m.pieces ?? []) this.count(p, -1);
    return true;
  }

  /**
   * Drops a directory's cached object and its ancestors', stopping at one already dropped;
   * each notes why (`why` for the first, the one below it for the others).
   */
  private dropUp(state: FsState, dirIno: number, why: number | 'all' | 'self'): void {
    let child = why;
    for (let cur = dirIno, steps = 0; steps <= state.inodes.size + 1; steps++) {
      this.note(cur, child);
      if (!this.drop(cur)) return;
      const n = state.get(cur);
      if (!n?.dir || cur === ROOT_INO) return;
      child = cur;
      cur = n.dir.parent;
    }
  }

  private dropInode(state: FsState, ino: number): void {
    const n = state.get(ino);
    if (n?.dir) return this.dropUp(state, ino, 'self');
    this.drop(ino);
    for (const parent of this.parentsOf.get(ino) ?? []) this.dropUp(state, parent, ino);
  }

  /** Call after `record` was applied to `state`. */
  touched(state: FsState, record: FsRecord): void {
    switch (record.type) {
      case 'FsMkdir':
      case 'FsCreate':
      case 'FsSymlink':
      case 'FsUnlink':
      case 'FsRmdir':
      case 'FsClone':
        return this.dropUp(state, record.payload.parent, 'all');
      case 'FsLink':
        this.dropUp(state, record.payload.parent, 'all');
        return this.dropInode(state, record.payload.ino);
      case 'FsRename':
        this.dropUp(state, record.payload.parent, 'all');
        return this.dropUp(state, record.payload.newParent, 'all');
      case 'FsSetAttr':
      case 'FsTruncate':
      case 'FsWrite':
        return this.dropInode(state, record.payload.ino);
      case 'FsFree':
        this.drop(record.payload.ino);
        this.parentsOf.delete(record.payload.ino);
        this.lastSplit.delete(record.payload.ino);
        this.kids.delete(record.payload.ino);
        return;
      case 'FsRestore':
        return; // applyRestore told this cache what it changed (gone, changed), if it was the one given to apply
      case 'FsSnapshotCreate':
      case 'FsSnapshotDelete':
        return;
    }
  }

  // ---- LiveTree (state-snapshots.ts applyRestore) ----

  hashOf(state: FsState, ino: number): Uint8Array {
    return this.make(state, ino).hash;
  }

  gone(ino: number): void {
    this.drop(ino);
    this.parentsOf.delete(ino);
    this.lastSplit.delete(ino);
    this.kids.delete(ino);
  }

  restored(state: FsState, ino: number, hash: Uint8Array, obj: TreeObject): void {
    this.drop(ino);
    this.lastSplit.delete(ino);
    this.kids.delete(ino);
    const n = state.inode(ino);
    if (obj.kind === 'dir') {
      // Cache it only if materialising the state would give this very object: not a wide
      // directory held in the 'd' form of before 'D' (it now materialises split), and not
      // one with an entry left uncached for that reason (no cached object above an uncached one).
      if (isSplit(obj.entries.length) !== (obj.pieces !== undefined)) return;
      for (const e of n.dir!.entries.values()) if (!this.byIno.has(e.ino)) return;
    }
    // A split directory's pieces are held (it came from a snapshot): not cached here, so a
    // restore costs no walk of its entries; `missing` slices one from the entries if the
    // snapshot is gone by then, and the next change makes the directory whole once.
    const made: Made = { hash, obj };
    this.put(ino, made);
    if (n.dir) {
      for (const e of n.dir.entries.values()) {
        if (state.inode(e.ino).dir) continue;
        let set = this.parentsOf.get(e.ino);
        if (!set) this.parentsOf.set(e.ino, (set = new Set()));
        set.add(ino);
      }
    }
  }

  private put(ino: number, made: Made): void {
    this.byIno.set(ino, made);
    this.count(made, 1);
    for (const p of made.pieces ?? []) this.count(p, 1);
  }

  /** The root hash of the live tree; every object of it is then in this cache. */
  materialise(state: FsState): Uint8Array {
    return this.make(state, ROOT_INO).hash;
  }

  private make(state: FsState, ino: number): Made {
    const cached = this.byIno.get(ino);
    if (cached) return cached;
    const n = state.inode(ino);
    let obj: TreeObject;
    if (n.dir) {
      const dir = n.dir;
      const last = this.lastSplit.get(ino);
      const kids = this.kids.get(ino);
      this.kids.delete(ino);
      if (last?.index && kids !== undefined && kids !== 'all' && (last.obj as DirObject).entries.length === dir.entries.size) return this.remakeSplit(state, ino, last, kids);
      const names = last && sameNames(last.obj, dir.entries) ? (last.obj as DirObject).entries.map((e) => e[0]) : [...dir.entries.keys()].sort();
      const inos: number[] = [];
      const entries: EntryTuple[] = names.map((name) => {
        const e = dir.entries.get(name)!;
        inos.push(e.ino);
        const child = this.make(state, e.ino);
        if (child.obj.kind !== 'dir') {
          let set = this.parentsOf.get(e.ino);
          if (!set) this.parentsOf.set(e.ino, (set = new Set()));
          set.add(ino);
        }
        return [name, child.obj.kind as EntryTuple[1], child.hash];
      });
      const dirObj: DirObject = { kind: 'dir', mode: n.mode, uid: n.uid, gid: n.gid, mtime: n.mtime, entries };
      if (isSplit(entries.length)) return this.makeSplit(ino, dirObj, last, inos);
      this.lastSplit.delete(ino);
      obj = dirObj;
    } else if (n.pages) {
      const pages: PageTuple[] = [...n.pages].sort((a, b) => a[0] - b[0]).map(([index, p]) => [index, p.hash, p.lengthBytes]);
      obj = { kind: 'file', mode: n.mode, uid: n.uid, gid: n.gid, sizeBytes: n.sizeBytes, mtime: n.mtime, pages };
    } else obj = { kind: 'symlink', mode: n.mode, uid: n.uid, gid: n.gid, mtime: n.mtime, target: n.target! };
    const { bytes, parts } = encodeStored(obj);
    this.objectsEncoded++;
    const made: Made = { hash: hashObject(bytes), obj, bytes, parts };
    this.put(ino, made);
    return made;
  }

  /** A split directory from its entries, each piece equal to one of `last`'s taken from it as it is. */
  private makeSplit(ino: number, obj: DirObject, last: Made | undefined, inos: number[]): Made {
    const old = new Map<string, Made>(); // first name -> a piece of the last object
    for (const p of last?.pieces ?? []) old.set((p.obj as Extract<TreeObject, { kind: 'piece' }>).entries[0][0], p);
    const pieces: Made[] = [];
    const refs: PieceRef[] = [];
    let at = 0;
    for (const count of pieceCounts(obj.entries)) {
      const slice = obj.entries.slice(at, at + count);
      at += count;
      const prev = old.get(slice[0][0]);
      let piece: Made;
      if (prev && sameEntries((prev.obj as Extract<TreeObject, { kind: 'piece' }>).entries, slice)) piece = prev;
      else {
        const bytes = encodePiece(slice);
        this.objectsEncoded++;
        piece = { hash: hashObject(bytes), obj: { kind: 'piece', entries: slice }, bytes, parts: [] };
      }
      pieces.push(piece);
      refs.push({ hash: piece.hash, count });
    }
    const bytes = encodeSplitDir(obj, refs);
    this.objectsEncoded++;
    const index = new Map<number, number[]>();
    inos.forEach((child, i) => addIndex(index, child, i));
    const made: Made = { hash: hashObject(bytes), obj, bytes, parts: [], pieces, index };
    this.put(ino, made);
    this.lastSplit.set(ino, made);
    return made;
  }

  /**
   * Split directory `ino` whose names are those of `last` and whose changed children are
   * among `kids` (a child no longer under it is skipped: `parentsOf` is a superset): the
   * last entries with those children's replaced, the pieces holding them re-encoded.
   */
  private remakeSplit(state: FsState, ino: number, last: Made, kids: Set<number>): Made {
    const n = state.inode(ino);
    const lastObj = last.obj as DirObject;
    const entries = lastObj.entries.slice();
    const changed: number[] = [];
    for (const kid of kids) {
      for (const i of last.index!.get(kid) ?? []) {
        const child = this.make(state, kid);
        const e = entries[i];
        if (e[1] === child.obj.kind && sameHash(e[2], child.hash)) continue;
        entries[i] = [e[0], child.obj.kind as EntryTuple[1], child.hash];
        changed.push(i);
      }
    }
    changed.sort((a, b) => a - b);
    const obj: DirObject = { kind: 'dir', mode: n.mode, uid: n.uid, gid: n.gid, mtime: n.mtime, entries };
    const pieces: Made[] = [];
    const refs: PieceRef[] = [];
    let at = 0;
    let c = 0;
    for (const p of last.pieces!) {
      const count = (p.obj as Extract<TreeObject, { kind: 'piece' }>).entries.length;
      let piece = p;
      if (c < changed.length && changed[c] < at + count) {
        while (c < changed.length && changed[c] < at + count) c++;
        const slice = entries.slice(at, at + count);
        const bytes = encodePiece(slice);
        this.objectsEncoded++;
        piece = { hash: hashObject(bytes), obj: { kind: 'piece', entries: slice }, bytes, parts: [] };
      }
      pieces.push(piece);
      refs.push({ hash: piece.hash, count });
      at += count;
    }
    if (at !== entries.length) throw new Error(`materialise: the pieces of directory ${ino} hold ${at} entries, not ${entries.length}`);
    const bytes = encodeSplitDir(obj, refs);
    this.objectsEncoded++;
    const made: Made = { hash: hashObject(bytes), obj, bytes, parts: [], pieces, index: last.index };
    this.put(ino, made);
    this.lastSplit.set(ino, made);
    return made;
  }

  /**
   * The objects reachable from `root` that `state` does not hold yet (what a snapshot of
   * `root` must store and take), with their bytes. Stops at held objects, so it costs what
   * changed since the newest snapshot still present.
   */
  missing(state: FsState, root: Uint8Array): Map<string, Stored> {
    const out = new Map<string, Stored>();
    const todo = [root];
    while (todo.length) {
      const h = todo.pop()!;
      const k = hashKey(h);
      if (out.has(k) || state.held.has(k)) continue;
      const made = this.byHash.get(k)?.made;
      if (!made) throw new Error(`materialise: object ${k} is not cached`);
      if (!made.bytes || !made.parts) {
        const e = encodeStored(made.obj);
        if (hashKey(hashObject(e.bytes)) !== k) throw new Error(`materialise: object ${k} encodes to another hash`);
        made.bytes = e.bytes;
        made.parts = made.obj.kind === 'file' ? e.parts : []; // a split directory's pieces are stored as objects of their own
      }
      out.set(k, made as Stored);
      if (made.obj.kind === 'dir' && made.obj.pieces && !made.pieces) {
        // A split directory a restore put here: its pieces come from its entries.
        let at = 0;
        for (const p of made.obj.pieces) {
          const pk = hashKey(p.hash);
          const slice = made.obj.entries.slice(at, at + p.count);
          at += p.count;
          if (out.has(pk) || state.held.has(pk)) continue;
          const bytes = encodePiece(slice);
          if (hashKey(hashObject(bytes)) !== pk) throw new Error(`materialise: piece ${pk} encodes to another hash`);
          out.set(pk, { hash: p.hash, obj: { kind: 'piece', entries: slice }, bytes, parts: [] });
          for (const e of slice) todo.push(e[2]);
        }
        continue;
      }
      for (const h of childrenOf(made.obj)) todo.push(h);
    }
    return out;
  }
}

/** Whether split directory object `o` has exactly the names of `entries` (its names are unique). */
function sameNames(o: TreeObject, entries: ReadonlyMap<string, unknown>): boolean {
  if (o.kind !== 'dir' || o.entries.length !== entries.size) return false;
  for (const e of o.entries) if (!entries.has(e[0])) return false;
  return true;
}

function addIndex(index: Map<number, number[]>, ino: number, position: number): void {
  const list = index.get(ino);
  if (list) list.push(position);
  else index.set(ino, [position]);
}

function sameEntries(a: readonly EntryTuple[], b: readonly EntryTuple[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i][0] !== b[i][0] || a[i][1] !== b[i][1] || !sameHash(a[i][2], b[i][2])) return false;
  return true;
}
