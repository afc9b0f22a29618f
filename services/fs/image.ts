/**
 * The checkpoint image of the filesystem state: every inode with its attributes, entries,
 * pages or target, encoded with the kernel's codec (msgpack). decodeImage(encodeImage(s))
 * rebuilds a state equal to s, entry cookies and inode numbers included.
 *
 * Layout (version 1): { v: 1, nextIno, inodes: [ino, type, mode, uid, gid, nlink, sizeBytes,
 * atime, mtime, ctime, dataVersion, extra] } where extra is, for a directory,
 * [parent, nextCookie, [[name, ino, cookie], ...]] in cookie order; for a file,
 * [[index, hash | null, lengthBytes], ...]; for a symlink, its target.
 * Version 2 adds snapshots: [[name, root, t, seq?], ...] (seq: the log sequence number of
 * its FsSnapshotCreate, where known; images written before it have three fields) and
 * held: [[hash, objectBytes, partBytes[]?], ...] (tree.ts encoding; the parts of an indirect
 * file manifest follow its bytes). Version 1 images (no snapshots) still load.
 */
import { decode, encode } from '../../kernel/codec.ts';
import { FsState, FsStateError, type Inode } from './state.ts';
import type { Time } from './records.ts';
import type { FileType } from './protocol.ts';
import { decodeObject, encodeStored, hashObject } from './tree.ts';
import { hashKey } from './pages.ts';
import { countHeldRefs } from './state-snapshots.ts';

const IMAGE_VERSION = 2;

type Row = [number, FileType, number, number, number, number, number, Time, Time, Time, number, unknown];

export function encodeImage(state: FsState): Uint8Array {
  const inodes: Row[] = [];
  for (const n of state.inodes.values()) {
    let extra: unknown;
    if (n.dir) extra = [n.dir.parent, n.dir.nextCookie, [...n.dir.entries].map(([name, e]) => [name, e.ino, e.cookie])];
    else if (n.pages) extra = [...n.pages].map(([index, p]) => [index, p.hash, p.lengthBytes]);
    else extra = n.target;
    inodes.push([n.ino, n.type, n.mode, n.uid, n.gid, n.nlink, n.sizeBytes, n.atime, n.mtime, n.ctime, n.dataVersion, extra]);
  }
  const snapshots = [...state.snapshots].map(([name, sn]) => (sn.seq === undefined ? [name, sn.root, sn.t] : [name, sn.root, sn.t, sn.seq]));
  const held = [...state.held.values()].map((h) => {
    const { bytes, parts } = encodeStored(h.obj);
    return parts.length ? [h.hash, bytes, parts] : [h.hash, bytes];
  });
  return encode({ v: IMAGE_VERSION, nextIno: state.nextIno, inodes, snapshots, held });
}

export function decodeImage(bytes: Uint8Array): FsState {
  const img = decode(bytes) as { v: number; nextIno: number; inodes: Row[]; snapshots?: [string, Uint8Array, Time, number?][]; held?: [Uint8Array, Uint8Array, Uint8Array[]?][] };
  if (!img || (img.v !== 1 && img.v !== IMAGE_VERSION) || !Array.isArray(img.inodes)) throw new FsStateError(`checkpoint image version ${img?.v} is not ${IMAGE_VERSION}`);
  const state = new FsState();
  state.inodes.clear();
  for (const row of img.inodes) {
    const [ino, type, mode, uid, gid, nlink, sizeBytes, atime, mtime, ctime, dataVersion, extra] = row;
    const n: Inode = { ino, type, mode, uid, gid, nlink, sizeBytes, atime, mtime, ctime, dataVersion };
    if (type === 'dir') {
      const [parent, nextCookie, entries] = extra as [number, number, [string, number, number][]];
      n.dir = { parent, nextCookie, entries: new Map(entries.map(([name, e, cookie]) => [name, { ino: e, cookie }])) };
    } else if (type === 'file') {
      n.pages = new Map((extra as [number, Uint8Array | null, number][]).map(([index, hash, lengthBytes]) => [index, { hash: hash ? new Uint8Array(hash) : null, lengthBytes }]));
    } else n.target = extra as string;
    state.inodes.set(ino, n);
  }
  state.nextIno = img.nextIno;
  for (const [name, root, t, seq] of img.snapshots ?? []) state.snapshots.set(name, { root: new Uint8Array(root), t, ...(typeof seq === 'number' ? { seq } : {}) });
  for (const [hash, bytes, parts] of img.held ?? []) {
    const byHash = new Map((parts ?? []).map((p) => [hashKey(hashObject(p)), p]));
    state.held.set(hashKey(hash), { hash: new Uint8Array(hash), obj: decodeObject(bytes, (h) => byHash.get(hashKey(h))), refs: 0 });
  }
  for (const [k, refs] of countHeldRefs(state)) {
    const h = state.held.get(k);
    if (h) h.refs = refs;
  }
  state.check();
  return state;
}
