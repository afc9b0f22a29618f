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
 * A directory of more than DIR_DIRECT_ENTRIES_MAX entries is stored split, so that a
 * change in it re-encodes one bounded piece and diff skips equal pieces by hash:
 *   dir     ['D', mode, uid, gid, mtime, [[pieceHash, entryCount], ...]]
 *   piece   ['e', [[name, type, childHash], ...]]   (a run of the sorted entries)
 * Piece boundaries depend only on the names (content-defined: a piece ends after an entry
 * whose name hashes (FNV-1a) to 0 mod DIR_PIECE_ENTRIES_AVG once it has
 * DIR_PIECE_ENTRIES_MIN entries, or at DIR_PIECE_ENTRIES_MAX), so adding or removing a
 * name moves at most the boundaries next to it and a changed child changes one piece.
 * Pieces are tree objects of their own (kind 'piece', held and counted like the others:
 * childrenOf below); the decoded 'dir' lists every entry (`entries`) and its pieces
 * (`pieces`). Directories up to DIR_DIRECT_ENTRIES_MAX keep the 'd' form (and their
 * hashes); a wide 'd' object made before 'D' existed is still read, and marked `unsplit`
 * so that it encodes to the same bytes (a checkpoint image re-encodes held objects).
 *
 * Not kept: inode numbers, nlink, atime, ctime, and hard-link identity (two names of one
 * file become two equal manifests; a restore keeps a link only where it leaves both names
 * unchanged, state-snapshots.ts). Invariants: entries are sorted and unique (across the
 * pieces of a split directory too); page indices ascend; decode(encode(o)) equals o; an
 * object and each part or piece fit one chunk.
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

/*
 * Directory splitting (here rather than limits.ts, which another change owns; these fix
 * the encoding, so changing one changes the hashes of wide directories).
 */
/** Entries a directory may have and keep the direct 'd' form (its hash as before 'D'). */
export const DIR_DIRECT_ENTRIES_MAX = 256;
/** A piece ends at a name boundary only once it has this many entries. */
export const DIR_PIECE_ENTRIES_MIN = 16;
/** Mean entries between name boundaries (a power of two). */
export const DIR_PIECE_ENTRIES_AVG = 64;
/** A piece ends here whatever the names (256 names of 255 bytes: about 75 KiB, under a chunk). */
export const DIR_PIECE_ENTRIES_MAX = 256;

/** A piece of a split directory: its hash and how many entries it holds. */
export interface PieceRef {
  hash: Uint8Array;
  count: number;
}

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
  | {
      kind: 'dir';
      mode: number;
      uid: number;
      gid: number;
      mtime: Time;
      /** Every entry, whichever form the directory is stored in. */
      entries: EntryTuple[];
      /** Set for a split directory ('D'): its pieces in order, whose counts sum to entries.length. */
      pieces?: PieceRef[];
      /**
       * Set for a directory wider than DIR_DIRECT_ENTRIES_MAX read in the 'd' form (stored
       * before 'D' existed): it encodes to 'd' again, so it keeps the hash it is held by.
       */
      unsplit?: true;
    }
  | { kind: 'symlink'; mode: number; uid: number; gid: number; mtime: Time; target: string }
  /** A run of a split directory's entries ('e'); only a 'D' names one, never an entry. */
  | { kind: 'piece'; entries: EntryTuple[] };

/** An object an entry may name: anything but a piece. */
export type NodeObject = Exclude<TreeObject, { kind: 'piece' }>;
export type DirObject = Extract<TreeObject, { kind: 'dir' }>;

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
  if (o.kind === 'dir') return encodeDir(o, maxBytes);
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

/** The bytes of an object's own chunk (for an indirect file, the 'F' form naming its parts; for a split directory, the 'D' form naming its pieces). */
export function encodeObject(o: TreeObject, maxBytes = OBJECT_SIZE_BYTES_MAX): Uint8Array {
  let value: unknown[];
  if (o.kind === 'file' || o.kind === 'dir') return encodeStored(o, maxBytes).bytes;
  else if (o.kind === 'piece') {
    checkSorted(o.entries);
    value = ['e', o.entries];
  } else value = ['l', o.mode, o.uid, o.gid, o.mtime, o.target];
  const bytes = encode(value);
  if (bytes.length > maxBytes) throw fsError('EFBIG', `a tree object of ${bytes.length} bytes passes ${maxBytes}`);
  return bytes;
}

function checkSorted(entries: EntryTuple[]): void {
  for (let i = 1; i < entries.length; i++) if (!(entries[i - 1][0] < entries[i][0])) throw new Error(`tree: entries not sorted at '${entries[i][0]}'`);
}

/** FNV-1a over a name's UTF-16 code units: where pieces may end (stable, cheap, not a hash anything trusts). */
function nameBoundaryHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** How a split directory's sorted entries fall into pieces: the entry count of each, in order. */
export function pieceCounts(entries: readonly EntryTuple[]): number[] {
  const out: number[] = [];
  let count = 0;
  for (const e of entries) {
    count++;
    if (count >= DIR_PIECE_ENTRIES_MAX || (count >= DIR_PIECE_ENTRIES_MIN && (nameBoundaryHash(e[0]) & (DIR_PIECE_ENTRIES_AVG - 1)) === 0)) {
      out.push(count);
      count = 0;
    }
  }
  if (count) out.push(count);
  return out;
}

/** Whether a directory of `entryCount` entries is stored split ('D'). */
export function isSplit(entryCount: number): boolean {
  return entryCount > DIR_DIRECT_ENTRIES_MAX;
}

/** A piece's bytes (['e', entries]). */
export function encodePiece(entries: EntryTuple[], maxBytes = OBJECT_SIZE_BYTES_MAX): Uint8Array {
  return encodeObject({ kind: 'piece', entries }, maxBytes);
}

/** A split directory's own bytes, given its pieces (set as `o.pieces`). */
export function encodeSplitDir(o: DirObject, pieces: PieceRef[], maxBytes = OBJECT_SIZE_BYTES_MAX): Uint8Array {
  let total = 0;
  for (const p of pieces) total += p.count;
  if (total !== o.entries.length) throw new Error(`tree: pieces hold ${total} entries, the directory ${o.entries.length}`);
  o.pieces = pieces;
  const bytes = encode(['D', o.mode, o.uid, o.gid, o.mtime, pieces.map((p) => [p.hash, p.count])]);
  if (bytes.length > maxBytes) throw fsError('EFBIG', `a directory of ${o.entries.length} entries needs ${pieces.length} pieces, more than one object of ${maxBytes} bytes lists`);
  return bytes;
}

/** A directory in the 'd' form, or split ('D', its pieces' bytes as `parts`); sets or deletes `o.pieces`. */
function encodeDir(o: DirObject, maxBytes: number): Encoded {
  checkSorted(o.entries);
  if (o.unsplit && !isSplit(o.entries.length)) delete o.unsplit; // only a wide 'd' is marked
  if (o.unsplit || !isSplit(o.entries.length)) {
    delete o.pieces;
    const bytes = encode(['d', o.mode, o.uid, o.gid, o.mtime, o.entries]);
    if (bytes.length > maxBytes) throw fsError('EFBIG', `a tree object of ${bytes.length} bytes passes ${maxBytes}`);
    return { bytes, parts: [] };
  }
  const parts: Uint8Array[] = [];
  const pieces: PieceRef[] = [];
  let at = 0;
  for (const count of pieceCounts(o.entries)) {
    const bytes = encodePiece(o.entries.slice(at, at + count), maxBytes);
    parts.push(bytes);
    pieces.push({ hash: hashObject(bytes), count });
    at += count;
  }
  return { bytes: encodeSplitDir(o, pieces, maxBytes), parts };
}

/** The hashes of the objects `o` names that are held and counted with it: a split directory's pieces, else its entries' or a piece's entries' children (none for a file or symlink: a file's parts and pages are not tree objects of their own). */
export function childrenOf(o: TreeObject): Uint8Array[] {
  if (o.kind === 'dir') return o.pieces ? o.pieces.map((p) => p.hash) : o.entries.map((e) => e[2]);
  if (o.kind === 'piece') return o.entries.map((e) => e[2]);
  return [];
}

function bin(v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length !== HASH_SIZE_BYTES) throw new Error(`tree: ${what} is not a hash`);
  return new Uint8Array(v);
}

function pageTuples(v: unknown): PageTuple[] {
  if (!Array.isArray(v)) throw new Error('tree: a page list is not an array');
  return (v as PageTuple[]).map(([i, h, l]) => [i, h === null ? null : bin(h, 'page'), l] as PageTuple);
}

/** The part hashes an object's bytes name (an indirect file manifest's parts, a split directory's pieces), to fetch before decodeObject. */
export function partsNamed(bytes: Uint8Array): Uint8Array[] {
  const v = decode(bytes) as unknown[];
  if (!Array.isArray(v)) return [];
  if (v[0] === 'D') return pieceRefs(v[5]).map((p) => p.hash);
  if (v[0] !== 'F') return [];
  if (!Array.isArray(v[6])) throw new Error('tree: an indirect manifest has no part list');
  return (v[6] as unknown[]).map((h, i) => bin(h, `part ${i}`));
}

function pieceRefs(v: unknown): PieceRef[] {
  if (!Array.isArray(v)) throw new Error('tree: a split directory has no piece list');
  return v.map((p: unknown, i) => {
    if (!Array.isArray(p) || p.length !== 2 || !Number.isSafeInteger(p[1]) || (p[1] as number) < 1) throw new Error(`tree: piece ${i} of a split directory is malformed`);
    return { hash: bin(p[0], `piece ${i}`), count: p[1] as number };
  });
}

function entryTuples(v: unknown): EntryTuple[] {
  if (!Array.isArray(v)) throw new Error('tree: an entry list is not an array');
  return v.map((x: unknown) => {
    if (!Array.isArray(x) || typeof x[0] !== 'string' || (x[1] !== 'file' && x[1] !== 'dir' && x[1] !== 'symlink')) throw new Error('tree: an entry is malformed');
    return [x[0], x[1], bin(x[2], `entry '${x[0]}'`)] as EntryTuple;
  });
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
      const entries = entryTuples(v[5]);
      const o: DirObject = { kind: 'dir', mode: v[1] as number, uid: v[2] as number, gid: v[3] as number, mtime: v[4] as Time, entries };
      if (isSplit(entries.length)) o.unsplit = true; // the old form of a wide directory: re-encoded as it was
      return o;
    }
    case 'D': {
      const pieces = pieceRefs(v[5]);
      const entries: EntryTuple[] = [];
      for (const p of pieces) {
        const pb = part?.(p.hash);
        if (!pb) throw new Error(`tree: piece ${hashKey(p.hash)} of a split directory is not available`);
        if (!sameHash(hashObject(pb), p.hash)) throw new Error(`tree: piece ${hashKey(p.hash)} does not hash to its name`);
        const piece = decodeObject(pb);
        if (piece.kind !== 'piece') throw new Error(`tree: ${hashKey(p.hash)} is not a directory piece`);
        if (piece.entries.length !== p.count) throw new Error(`tree: piece ${hashKey(p.hash)} holds ${piece.entries.length} entries, not ${p.count}`);
        for (const e of piece.entries) {
          if (entries.length && !(entries[entries.length - 1][0] < e[0])) throw new Error('tree: names of a split directory do not ascend');
          entries.push(e);
        }
      }
      return { kind: 'dir', mode: v[1] as number, uid: v[2] as number, gid: v[3] as number, mtime: v[4] as Time, entries, pieces };
    }
    case 'e': {
      const entries = entryTuples(v[1]);
      checkSorted(entries);
      return { kind: 'piece', entries };
    }
    case 'l':
      return { kind: 'symlink', mode: v[1] as number, uid: v[2] as number, gid: v[3] as number, mtime: v[4] as Time, target: v[5] as string };
    default:
      throw new Error(`tree: unknown object kind ${String(v[0])}`);
  }
}

/** Whether two hashes are equal, byte by byte (no hex strings: diff and restore compare one per entry). */
export function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true; // one array (a cached child's hash): no need to look
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
  if (o.kind === 'piece') throw new Error('tree: a directory piece has no file type');
  return o.kind;
}

/** `o`, which an entry named: a piece there is a damaged tree. */
export function asNode(o: TreeObject, what: string): NodeObject {
  if (o.kind === 'piece') throw new Error(`tree: ${what} names a directory piece, not a file, directory or symlink`);
  return o;
}

/**
 * Loads every object reachable from `root` that `known` does not already hold, fetching
 * chunks with `get` (mount uses it before applying a record that names a new root); a
 * split directory brings its pieces as objects too.
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
    if (o.kind !== 'dir') continue;
    for (const p of o.pieces ?? []) {
      const pk = hashKey(p.hash);
      if (!out.has(pk) && !known.object(p.hash)) out.set(pk, decodeObject(parts.get(pk)!));
    }
    for (const e of o.entries) todo.push(e[2]);
  }
  return out;
}
