/**
 * The snapshot half of FsState.apply: FsSnapshotCreate, FsSnapshotDelete, FsRestore and
 * FsClone. Only state.ts calls these, from apply, so the state still changes only through
 * records, live and on replay alike.
 *
 * Held objects. `state.held` holds every tree object (tree.ts) some snapshot reaches,
 * decoded, the pieces of split directories included; it is closed downwards (a held
 * object's children, tree.childrenOf, are held). Each counts its references (snapshot
 * roots, and held objects naming it: a split directory its pieces, a piece or a 'd'
 * directory its entries), so a snapshot of a wide directory that changed in one piece
 * counts references from the new piece only, and a delete frees what only
 * its snapshot held without walking what the others hold. Snapshots take
 * no chunk references, so FsSnapshotCreate and FsSnapshotDelete stay one record each
 * however large the tree (a reference per object would pass Axiom's 4096 records per
 * transaction on the first snapshot of a tree of 4096 inodes): a snapshot's objects, and
 * the page chunks only snapshots reach, are kept by the roots the filesystem hands to the
 * content store's GC (the `gc` admin op; Filesystem.liveChunks names the live tree's pages
 * and every held object, manifest part and page). A GC called without those roots would
 * sweep them.
 *
 * FsSnapshotCreate takes the objects it reaches that are not held yet from an
 * ObjectSource given to apply (the engine's materialisation on the live path; mount loads
 * them from the content store, tree.loadTree). FsRestore compares with the live tree's
 * object hashes (a LiveTree: a pure function of the state, so the engine's warm cache and a
 * fresh one on replay decide alike); FsClone needs nothing outside the state. Both allocate
 * inode numbers from state.nextIno in a fixed order (new entries by name for a restore, by
 * cookie for a clone), so replay allocates the same numbers.
 */
import { ROOT_INO } from './protocol.ts';
import type { ChunkDelta, FsState, Inode } from './state.ts';
import type { FsRecord, FsRecords, Time } from './records.ts';
import { hashKey } from './pages.ts';
import { asNode, childrenOf, sameHash, type DirObject, type NodeObject, type ObjectSource, type TreeObject } from './tree.ts';
import { Materialiser } from './materialise.ts';

function fail(message: string): never {
  throw new Error(`fs state: ${message}`);
}

export function applySnapshotCreate(s: FsState, p: FsRecords['FsSnapshotCreate'], objects: ObjectSource | undefined): void {
  if (s.snapshots.has(p.name)) fail(`FsSnapshotCreate: '${p.name}' exists`);
  const todo: Uint8Array[] = [p.root];
  const taken: string[] = [];
  while (todo.length) {
    const h = todo.pop()!;
    const k = hashKey(h);
    if (s.held.has(k)) continue;
    const obj = objects?.object(h);
    if (!obj) {
      for (const t of taken) s.held.delete(t); // nothing changed: the record does not fit
      fail(`FsSnapshotCreate: object ${k} of '${p.name}' is not available`);
    }
    if (taken.length === 0 && obj.kind !== 'dir') fail(`FsSnapshotCreate: the root of '${p.name}' is not a directory`);
    s.held.set(k, { hash: h, obj, refs: 0 });
    taken.push(k);
    for (const c of childrenOf(obj)) todo.push(c);
  }
  // References: the new objects' children (a split directory's pieces, a piece's entries), and the root (held before or not).
  for (const k of taken) for (const c of childrenOf(s.held.get(k)!.obj)) s.held.get(hashKey(c))!.refs++;
  s.held.get(hashKey(p.root))!.refs++;
  s.snapshots.set(p.name, { root: p.root, t: p.t });
}

/** What every held object's `refs` must be: roots of snapshots plus children (tree.childrenOf) of held objects. */
export function countHeldRefs(s: FsState): Map<string, number> {
  const out = new Map<string, number>();
  const add = (h: Uint8Array) => out.set(hashKey(h), (out.get(hashKey(h)) ?? 0) + 1);
  for (const snap of s.snapshots.values()) add(snap.root);
  for (const h of s.held.values()) for (const c of childrenOf(h.obj)) add(c);
  return out;
}

/**
 * Notes the log sequence number of each FsSnapshotCreate among `records`, committed with
 * consecutive numbers from `firstSeq` (the engine after a commit, mount during replay).
 * Not a change of state: the record already applied; this only says where it lies in the log.
 */
export function noteSnapshotSeqs(s: FsState, records: readonly FsRecord[], firstSeq: number): void {
  records.forEach((r, i) => {
    if (r.type !== 'FsSnapshotCreate') return;
    const snap = s.snapshots.get(r.payload.name);
    if (snap && hashKey(snap.root) === hashKey(r.payload.root)) snap.seq = firstSeq + i;
  });
}

/** Every held object some snapshot reaches (by key). */
export function reachable(s: FsState, roots: Iterable<Uint8Array>): Set<string> {
  const marked = new Set<string>();
  const todo = [...roots];
  while (todo.length) {
    const h = todo.pop()!;
    const k = hashKey(h);
    if (marked.has(k)) continue;
    const held = s.held.get(k) ?? fail(`held objects are not closed: ${k} is missing`);
    marked.add(k);
    for (const c of childrenOf(held.obj)) todo.push(c);
  }
  return marked;
}

/**
 * Drops a snapshot's root reference; an object left with none goes, and its entries' with it.
 * Costs what only this snapshot held, not its tree.
 */
export function applySnapshotDelete(s: FsState, p: FsRecords['FsSnapshotDelete']): void {
  const snap = s.snapshots.get(p.name) ?? fail(`FsSnapshotDelete: no snapshot '${p.name}'`);
  s.snapshots.delete(p.name);
  const todo: Uint8Array[] = [snap.root];
  while (todo.length) {
    const k = hashKey(todo.pop()!);
    const h = s.held.get(k) ?? fail(`held objects are not closed: ${k} is missing`);
    if (--h.refs > 0) continue;
    s.held.delete(k);
    for (const c of childrenOf(h.obj)) todo.push(c);
  }
}

function newInode(s: FsState, obj: NodeObject, ino: number, parent: number, t: Time): Inode {
  const n: Inode = { ino, type: obj.kind, mode: obj.mode, uid: obj.uid, gid: obj.gid, nlink: 1, sizeBytes: 0, atime: obj.mtime, mtime: obj.mtime, ctime: t, dataVersion: 0 };
  if (obj.kind === 'file') {
    n.sizeBytes = obj.sizeBytes;
    n.pages = new Map(obj.pages.map(([index, hash, lengthBytes]) => [index, { hash, lengthBytes }]));
  } else if (obj.kind === 'symlink') {
    n.target = obj.target;
    n.sizeBytes = new TextEncoder().encode(obj.target).length;
  } else {
    n.nlink = 2;
    n.dir = { entries: new Map(), parent, nextCookie: 1 };
  }
  if (s.inodes.has(ino)) fail(`inode ${ino} is in use`);
  s.inodes.set(ino, n);
  return n;
}

/**
 * The live tree's object hashes, which FsRestore compares with the snapshot's: materialise.ts
 * (a pure function of the state, so the engine's cache and a fresh one on replay agree).
 * `gone` tells a cache an inode was freed; `restored`, that an inode now materialises to
 * exactly held object `obj` (called children first, so a directory comes after its entries).
 */
export interface LiveTree {
  hashOf(s: FsState, ino: number): Uint8Array;
  gone(ino: number): void;
  restored(s: FsState, ino: number, hash: Uint8Array, obj: TreeObject): void;
}

function heldObject(s: FsState, hash: Uint8Array): NodeObject {
  const obj = s.held.get(hashKey(hash))?.obj ?? fail(`FsRestore: object ${hashKey(hash)} is not held`);
  return asNode(obj, `FsRestore: object ${hashKey(hash)}`);
}

/** Drops one name of inode `ino` (and, for a directory, everything under it); frees what is left with no name. */
function dropName(s: FsState, ino: number, deltas: ChunkDelta[], live: LiveTree): void {
  const n = s.inode(ino);
  if (n.dir) {
    for (const e of n.dir.entries.values()) dropName(s, e.ino, deltas, live);
    s.inodes.delete(ino);
    live.gone(ino);
    return;
  }
  if (--n.nlink > 0) return;
  if (n.pages) for (const page of n.pages.values()) if (page.hash) deltas.push({ hash: page.hash, delta: -1 });
  s.inodes.delete(ino);
  live.gone(ino);
}

/** Adds a new inode for held object `hash` (and its subtree) as `name` in directory `dir`. */
function addName(s: FsState, dir: Inode, name: string, hash: Uint8Array, t: Time, deltas: ChunkDelta[], live: LiveTree): void {
  const obj = heldObject(s, hash);
  const n = newInode(s, obj, s.nextIno++, dir.ino, t);
  dir.dir!.entries.set(name, { ino: n.ino, cookie: dir.dir!.nextCookie++ });
  if (n.pages) for (const page of n.pages.values()) if (page.hash) deltas.push({ hash: page.hash, delta: +1 });
  if (obj.kind === 'dir') {
    for (const [childName, , childHash] of obj.entries) addName(s, n, childName, childHash, t, deltas, live);
    n.nlink = 2 + obj.entries.filter((e) => e[1] === 'dir').length;
  }
  live.restored(s, n.ino, hash, obj);
}

/**
 * Makes live directory `ino` equal to `obj`, touching only what differs: an entry whose live
 * object has the snapshot's hash is kept as it is (inode, cookie, open handles); a directory
 * in both is changed in place; anything else is dropped and built anew from held objects.
 */
function restoreDir(s: FsState, ino: number, hash: Uint8Array, obj: DirObject, t: Time, deltas: ChunkDelta[], live: LiveTree): void {
  const n = s.inode(ino);
  const d = n.dir ?? fail(`FsRestore: inode ${ino} is not a directory`);
  const want = new Map(obj.entries.map(([name, , hash]) => [name, hash]));
  // Decide from the hashes first, before anything in this directory changes.
  const recurse: [number, Uint8Array, DirObject][] = [];
  const drop: string[] = [];
  for (const [name, e] of d.entries) {
    const h = want.get(name);
    if (h === undefined) {
      drop.push(name);
      continue;
    }
    if (sameHash(live.hashOf(s, e.ino), h)) {
      want.delete(name); // equal: kept as it is
      continue;
    }
    const target = heldObject(s, h);
    if (target.kind === 'dir' && s.inode(e.ino).dir) {
      recurse.push([e.ino, h, target]);
      want.delete(name);
    } else drop.push(name);
  }
  for (const name of drop) {
    const e = d.entries.get(name)!;
    d.entries.delete(name);
    dropName(s, e.ino, deltas, live);
  }
  for (const [name, hash] of want) addName(s, n, name, hash, t, deltas, live); // name order (obj.entries is sorted)
  for (const [childIno, childHash, target] of recurse) restoreDir(s, childIno, childHash, target, t, deltas, live);
  let subdirs = 0;
  for (const e of d.entries.values()) if (s.inode(e.ino).dir) subdirs++;
  n.nlink = 2 + subdirs;
  n.mode = obj.mode;
  n.uid = obj.uid;
  n.gid = obj.gid;
  n.mtime = obj.mtime;
  n.ctime = t;
  n.dataVersion++;
  live.restored(s, ino, hash, obj);
}

/**
 * The live tree becomes snapshot `p.name`'s, at a cost that grows with the difference: both
 * trees are walked together and every subtree whose hash is equal is skipped (kept, inode
 * numbers and handles included). Paths whose objects differ get new inodes, so a handle on
 * a file the restore replaced or removed gets ESTALE, never the other tree's data.
 */
export function applyRestore(s: FsState, p: FsRecords['FsRestore'], deltas: ChunkDelta[], live: LiveTree = new Materialiser()): void {
  const snap = s.snapshots.get(p.name) ?? fail(`FsRestore: no snapshot '${p.name}'`);
  const rootObj = heldObject(s, snap.root);
  if (rootObj.kind !== 'dir') fail(`FsRestore: the root of '${p.name}' is not a directory`);
  if (sameHash(live.hashOf(s, ROOT_INO), snap.root)) return;
  restoreDir(s, ROOT_INO, snap.root, rootObj, p.t, deltas, live);
}

/** Copies inode `n` (and, for a directory, its subtree) as a new inode under `parent`. */
function copyInode(s: FsState, n: Inode, parent: number, t: Time, deltas: ChunkDelta[]): Inode {
  const c: Inode = { ...n, ino: s.nextIno++, nlink: n.dir ? 2 : 1, ctime: t, dataVersion: 0 };
  delete c.pages;
  delete c.dir;
  if (n.pages) {
    c.pages = new Map();
    for (const [index, page] of n.pages) {
      c.pages.set(index, { hash: page.hash, lengthBytes: page.lengthBytes });
      if (page.hash) deltas.push({ hash: page.hash, delta: +1 });
    }
  }
  s.inodes.set(c.ino, c);
  if (n.dir) {
    c.dir = { entries: new Map(), parent, nextCookie: 1 };
    for (const [name, e] of [...n.dir.entries]) {
      const child = copyInode(s, s.inode(e.ino), c.ino, t, deltas);
      c.dir.entries.set(name, { ino: child.ino, cookie: c.dir.nextCookie++ });
      if (child.dir) c.nlink++;
    }
  }
  return c;
}

export function applyClone(s: FsState, p: FsRecords['FsClone'], deltas: ChunkDelta[]): void {
  const src = s.inode(p.ino);
  const d = s.dirOf(p.parent);
  if (d.entries.has(p.name)) fail(`FsClone: '${p.name}' exists in ${p.parent}`);
  if (src.nlink === 0) fail(`FsClone: inode ${p.ino} has no names`);
  const c = copyInode(s, src, p.parent, p.t, deltas);
  s.addEntry(p.parent, p.name, c.ino, p.t);
  if (c.dir) s.inode(p.parent).nlink++;
}
