/**
 * Tree objects: the filesystem materialised as content objects, like git trees. A file is
 * a manifest (attributes, size, page list), a directory its entries sorted by name (name,
 * type, child hash), a symlink its target; each object is stored as one content-store
 * chunk named by the BLAKE3 hash of its canonical encoding, so the root's hash names the
 * whole tree (a snapshot is a name and a root hash).
 *
 * Encoding (msgpack arrays through kernel/codec.ts, which is canonical: one value, one
 * byte string):
 *   file    ['f', mode, uid, gid, sizeBytes, mtime, [[index, hash | nil, lengthBytes], ...]]
 *   dir     ['d', mode, uid, gid, mtime, [[name, type, childHash], ...]]  (names sorted)
 *   symlink ['l', mode, uid, gid, mtime, target]
 *
 * Not kept: inode numbers, nlink, atime, ctime, and hard-link identity (two names of one
 * file become two equal manifests). Invariants: entries are sorted and unique; page
 * indices ascend; decode(encode(o)) equals o; an object fits one chunk
 * (OBJECT_SIZE_BYTES_MAX), so a file of more than about 25,000 pages (1.6 GiB) cannot be
 * materialised yet (EFBIG).
 */
import { blake3 } from '@noble/hashes/blake3.js';
import { decode, encode } from '../../kernel/codec.ts';
import { fsError, type FileType } from './protocol.ts';
import type { Time } from './records.ts';
import { hashKey } from './pages.ts';

/** The content store's largest chunk (services/content/limits.ts CHUNK_SIZE_BYTES_MAX). */
export const OBJECT_SIZE_BYTES_MAX = 1024 * 1024;
export const HASH_SIZE_BYTES = 32;

export type PageTuple = [index: number, hash: Uint8Array | null, lengthBytes: number];
export type EntryTuple = [name: string, type: FileType, hash: Uint8Array];

export type TreeObject =
  | { kind: 'file'; mode: number; uid: number; gid: number; sizeBytes: number; mtime: Time; pages: PageTuple[] }
  | { kind: 'dir'; mode: number; uid: number; gid: number; mtime: Time; entries: EntryTuple[] }
  | { kind: 'symlink'; mode: number; uid: number; gid: number; mtime: Time; target: string };

export function encodeObject(o: TreeObject): Uint8Array {
  let value: unknown[];
  if (o.kind === 'file') value = ['f', o.mode, o.uid, o.gid, o.sizeBytes, o.mtime, o.pages];
  else if (o.kind === 'dir') {
    for (let i = 1; i < o.entries.length; i++) if (!(o.entries[i - 1][0] < o.entries[i][0])) throw new Error(`tree: entries not sorted at '${o.entries[i][0]}'`);
    value = ['d', o.mode, o.uid, o.gid, o.mtime, o.entries];
  } else value = ['l', o.mode, o.uid, o.gid, o.mtime, o.target];
  const bytes = encode(value);
  if (bytes.length > OBJECT_SIZE_BYTES_MAX) throw fsError('EFBIG', `a tree object of ${bytes.length} bytes passes ${OBJECT_SIZE_BYTES_MAX}`);
  return bytes;
}

function bin(v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length !== HASH_SIZE_BYTES) throw new Error(`tree: ${what} is not a hash`);
  return new Uint8Array(v);
}

/** Decodes an object read back from the store (its hash was verified by the store). */
export function decodeObject(bytes: Uint8Array): TreeObject {
  const v = decode(bytes) as unknown[];
  if (!Array.isArray(v)) throw new Error('tree: object is not an array');
  switch (v[0]) {
    case 'f': {
      const pages = (v[6] as PageTuple[]).map(([i, h, l]) => [i, h === null ? null : bin(h, 'page'), l] as PageTuple);
      return { kind: 'file', mode: v[1] as number, uid: v[2] as number, gid: v[3] as number, sizeBytes: v[4] as number, mtime: v[5] as Time, pages };
    }
    case 'd': {
      const entries = (v[5] as EntryTuple[]).map(([n, t, h]) => [n, t, bin(h, `entry '${n}'`)] as EntryTuple);
      return { kind: 'dir', mode: v[1] as number, uid: v[2] as number, gid: v[3] as number, mtime: v[4] as Time, entries };
    }
    case 'l':
      return { kind: 'symlink', mode: v[1] as number, uid: v[2] as number, gid: v[3] as number, mtime: v[4] as Time, target: v[5] as string };
    default:
      throw new Error(`tree: unknown object kind ${String(v[0])}`);
  }
}

export function hashObject(bytes: Uint8Array): Uint8Array {
  return blake3(bytes);
}

/** Looks an object up by hash, synchronously (state.ts applies records without waiting). */
export interface ObjectSource {
  object(hash: Uint8Array): TreeObject | undefined;
}

export function mapSource(map: Map<string, TreeObject>): ObjectSource {
  return { object: (hash) => map.get(hashKey(hash)) };
}

export function typeOf(o: TreeObject): FileType {
  return o.kind;
}

/**
 * Loads every object reachable from `root` that `known` does not already hold, fetching
 * chunks with `get` (mount uses it before applying a record that names a new root).
 */
export async function loadTree(root: Uint8Array, known: ObjectSource, get: (hash: Uint8Array) => Promise<Uint8Array>): Promise<Map<string, TreeObject>> {
  const out = new Map<string, TreeObject>();
  const todo: Uint8Array[] = [root];
  while (todo.length) {
    const h = todo.pop()!;
    const k = hashKey(h);
    if (out.has(k) || known.object(h)) continue;
    const o = decodeObject(await get(h));
    out.set(k, o);
    if (o.kind === 'dir') for (const e of o.entries) todo.push(e[2]);
  }
  return out;
}
