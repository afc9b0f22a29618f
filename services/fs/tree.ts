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
 * A file whose 'f' form passes one chunk (OBJECT_SIZE_BYTES_MAX: about 25,000 pages,
 * 1.6 GiB of data that is not holes) is stored indirect, as a tree of two levels:
 *   file    ['F', mode, uid, gid, sizeBytes, mtime, [partHash, ...]]
 *   part    ['p', [[index, hash | nil, lengthBytes], ...]]   (PAGES_PER_PART pages, the last fewer)
 * Parts are chunks of their own, named by their hash; the page list is the parts' lists in
 * order. One level of parts holds some 30,000 parts of 16,384 pages (30 TiB of data that
 * is not holes); a larger manifest is EFBIG. Small files keep the 'f' form, so trees
 * materialised before 'F' existed keep their hashes, and both forms are read.
 *
 * Not kept: inode numbers, nlink, atime, ctime, and hard-link identity (two names of one
 * file become two equal manifests; a restore keeps a link only where it leaves both names
 * unchanged, state-snapshots.ts). Invariants: entries are sorted and unique; page
 * indices ascend; decode(encode(o)) equals o; an object and each part fit one chunk.
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

/** Pages in one part of an indirect file manifest (about 740 KiB encoded, under a chunk). */
export const PAGES_PER_PART = 16_384;

export type TreeObject =
  | {
      kind: 'file';
      mode: number;
      uid: number;
      gid: number;
      sizeBytes: number;
      mtime: Time;
      /** Every page, whichever form the manifest is stored in. */
      pages: PageTuple[];
      /** Set for an indirect manifest ('F'): the hashes of its parts, chunks GC must keep. */
      parts?: Uint8Array[];
    }
  | { kind: 'dir'; mode: number; uid: number; gid: number; mtime: Time; entries: EntryTuple[] }
  | { kind: 'symlink'; mode: number; uid: number; gid: number; mtime: Time; target: string };

/** An object's stored form: its chunk's bytes, and the parts' chunks of an indirect file manifest. */
export interface Encoded {
  bytes: Uint8Array;
  /** Part chunks in order (empty unless the manifest is indirect). */
  parts: Uint8Array[];
}

/**
 * Encodes `o` (a file in the 'F' form when its 'f' form passes `maxBytes`; parts of
 * `pagesPerPart` pages) and sets `o.parts` to the part hashes, or deletes it.
 */
export function encodeStored(o: TreeObject, maxBytes = OBJECT_SIZE_BYTES_MAX, pagesPerPart = PAGES_PER_PART): Encoded {
  if (o.kind !== 'file') return { bytes: encodeObject(o, maxBytes), parts: [] };
  const direct = encode(['f', o.mode, o.uid, o.gid, o.sizeBytes, o.mtime, o.pages]);
  if (direct.length <= maxBytes) {
    delete o.parts;
    return { bytes: direct, parts: [] };
  }
  const parts: Uint8Array[] = [];
  for (let i = 0; i < o.pages.length; i += pagesPerPart) {
    const part = encode(['p', o.pages.slice(i, i + pagesPerPart)]);
    if (part.length > maxBytes) throw fsError('EFBIG', `a manifest part of ${part.length} bytes passes ${maxBytes}`);
    parts.push(part);
  }
  o.parts = parts.map(hashObject);
  const bytes = encode(['F', o.mode, o.uid, o.gid, o.sizeBytes, o.mtime, o.parts]);
  if (bytes.length > maxBytes) throw fsError('EFBIG', `a file manifest of ${o.pages.length} pages needs ${parts.length} parts, more than one object of ${maxBytes} bytes lists`);
  return { bytes, parts };
}

/** The bytes of an object's own chunk (for an indirect file, the 'F' form naming its parts). */
export function encodeObject(o: TreeObject, maxBytes = OBJECT_SIZE_BYTES_MAX): Uint8Array {
  let value: unknown[];
  if (o.kind === 'file') return encodeStored(o, maxBytes).bytes;
  else if (o.kind === 'dir') {
    for (let i = 1; i < o.entries.length; i++) if (!(o.entries[i - 1][0] < o.entries[i][0])) throw new Error(`tree: entries not sorted at '${o.entries[i][0]}'`);
    value = ['d', o.mode, o.uid, o.gid, o.mtime, o.entries];
  } else value = ['l', o.mode, o.uid, o.gid, o.mtime, o.target];
  const bytes = encode(value);
  if (bytes.length > maxBytes) throw fsError('EFBIG', `a tree object of ${bytes.length} bytes passes ${maxBytes}`);
  return bytes;
}

function bin(v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length !== HASH_SIZE_BYTES) throw new Error(`tree: ${what} is not a hash`);
  return new Uint8Array(v);
}

function pageTuples(v: unknown): PageTuple[] {
  if (!Array.isArray(v)) throw new Error('tree: a page list is not an array');
  return (v as PageTuple[]).map(([i, h, l]) => [i, h === null ? null : bin(h, 'page'), l] as PageTuple);
}

/** The part hashes an object's bytes name (an indirect file manifest's), to fetch before decodeObject. */
export function partsNamed(bytes: Uint8Array): Uint8Array[] {
  const v = decode(bytes) as unknown[];
  if (!Array.isArray(v) || v[0] !== 'F') return [];
  if (!Array.isArray(v[6])) throw new Error('tree: an indirect manifest has no part list');
  return (v[6] as unknown[]).map((h, i) => bin(h, `part ${i}`));
}

/**
 * Decodes an object read back from the store (its hash was verified by the store). An
 * indirect file manifest needs its parts' bytes from `part` (by hash; verified here).
 */
export function decodeObject(bytes: Uint8Array, part?: (hash: Uint8Array) => Uint8Array | undefined): TreeObject {
  const v = decode(bytes) as unknown[];
  if (!Array.isArray(v)) throw new Error('tree: object is not an array');
  switch (v[0]) {
    case 'f':
      return { kind: 'file', mode: v[1] as number, uid: v[2] as number, gid: v[3] as number, sizeBytes: v[4] as number, mtime: v[5] as Time, pages: pageTuples(v[6]) };
    case 'F': {
      const parts = partsNamed(bytes);
      const pages: PageTuple[] = [];
      for (const h of parts) {
        const pb = part?.(h);
        if (!pb) throw new Error(`tree: part ${hashKey(h)} of an indirect manifest is not available`);
        if (hashKey(hashObject(pb)) !== hashKey(h)) throw new Error(`tree: part ${hashKey(h)} does not hash to its name`);
        const pv = decode(pb) as unknown[];
        if (!Array.isArray(pv) || pv[0] !== 'p') throw new Error(`tree: ${hashKey(h)} is not a manifest part`);
        for (const t of pageTuples(pv[1])) {
          if (pages.length && !(pages[pages.length - 1][0] < t[0])) throw new Error('tree: page indices of an indirect manifest do not ascend');
          pages.push(t);
        }
      }
      return { kind: 'file', mode: v[1] as number, uid: v[2] as number, gid: v[3] as number, sizeBytes: v[4] as number, mtime: v[5] as Time, pages, parts };
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

/** Whether two hashes are equal, byte by byte (no hex strings: diff and restore compare one per entry). */
export function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
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
    const bytes = await get(h);
    const parts = new Map<string, Uint8Array>();
    for (const ph of partsNamed(bytes)) parts.set(hashKey(ph), await get(ph));
    const o = decodeObject(bytes, (ph) => parts.get(hashKey(ph)));
    out.set(k, o);
    if (o.kind === 'dir') for (const e of o.entries) todo.push(e[2]);
  }
  return out;
}
