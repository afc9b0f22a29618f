/**
 * File pages in memory: dirty buffers (written, not yet committed) per inode, and a
 * bounded cache of clean pages by chunk hash.
 *
 * A dirty page is a full PAGE_SIZE_BYTES buffer; bytes past the file's size in it are
 * zero (the writer and truncate keep them so), which is what a reader past a page's valid
 * length must see anyway. Clean pages are immutable (keyed by content hash), so the cache
 * never needs invalidating; it evicts least recently used first. A cache hit is a
 * small-integer Map lookup and a list relink (no hex key, no Map re-insert): it is most
 * of the work of a small read of a cached file.
 *
 * Invariant: dirtyBytes = PAGE_SIZE_BYTES x (number of dirty pages), and never exceeds
 * DIRTY_BYTES_MAX after the engine's commit-on-pressure has run.
 */
import { PAGE_CACHE_BYTES_MAX, PAGE_SIZE_BYTES } from './limits.ts';

export class DirtyPages {
  private readonly byIno = new Map<number, Map<number, Uint8Array>>();
  dirtyBytes = 0;

  get(ino: number, index: number): Uint8Array | undefined {
    return this.byIno.get(ino)?.get(index);
  }

  set(ino: number, index: number, page: Uint8Array): void {
    if (page.length !== PAGE_SIZE_BYTES) throw new Error(`dirty page of ${page.length} bytes`);
    let m = this.byIno.get(ino);
    if (!m) this.byIno.set(ino, (m = new Map()));
    if (!m.has(index)) this.dirtyBytes += PAGE_SIZE_BYTES;
    m.set(index, page);
  }

  has(ino: number): boolean {
    return (this.byIno.get(ino)?.size ?? 0) > 0;
  }

  inodes(): number[] {
    return [...this.byIno.keys()];
  }

  /** Removes and returns an inode's dirty pages (the caller commits them). */
  take(ino: number): Map<number, Uint8Array> {
    const m = this.byIno.get(ino) ?? new Map<number, Uint8Array>();
    this.byIno.delete(ino);
    this.dirtyBytes -= m.size * PAGE_SIZE_BYTES;
    return m;
  }

  /** Drops dirty pages at or past `sizeBytes` and zeroes the tail of the page holding it. */
  truncate(ino: number, sizeBytes: number): void {
    const m = this.byIno.get(ino);
    if (!m) return;
    const lastIndex = Math.ceil(sizeBytes / PAGE_SIZE_BYTES) - 1;
    for (const [index, page] of m) {
      if (index > lastIndex) {
        m.delete(index);
        this.dirtyBytes -= PAGE_SIZE_BYTES;
      } else if (index === lastIndex) page.fill(0, sizeBytes - index * PAGE_SIZE_BYTES);
    }
  }
}

/** One clean page in the cache: a node of the recency list and of its prefix bucket. */
interface CachedPage {
  hash: Uint8Array;
  /** hashKey(hash), made on first use by the string-keyed API. */
  hex?: string;
  bytes: Uint8Array;
  /** The next entry whose hash has the same prefix (hashes are uniform: almost never). */
  sameBucket?: CachedPage;
  newer?: CachedPage;
  older?: CachedPage;
}

/**
 * The clean-page cache, keyed by content hash, least recently used evicted first.
 *
 * A hit must be cheap (it is the whole of a cached small read's work here): entries are
 * found by the hash's first 30 bits as a small-integer Map key (no hex string, no string
 * hashing), confirmed by comparing the whole hash, and kept in recency order by an
 * intrusive doubly-linked list (a hit relinks two nodes; no Map delete and re-insert).
 * Pages are kept as plain Uint8Arrays (a Buffer's subarray is several times slower).
 *
 * Invariants: every entry is in exactly one bucket chain and once in the recency list;
 * sizeBytes is the sum of their byteLengths and at most limitBytes after each put.
 */
export class PageCache {
  private readonly buckets = new Map<number, CachedPage>();
  private newest?: CachedPage;
  private oldest?: CachedPage;
  private count = 0;
  private sizeBytes = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly limitBytes = PAGE_CACHE_BYTES_MAX) {
    if (!(limitBytes >= 0)) throw new Error(`page cache limit ${limitBytes}`);
  }

  get size(): number {
    return this.count;
  }

  get bytes(): number {
    return this.sizeBytes;
  }

  /** The page of this content hash, or undefined (counted as a miss). */
  getByHash(hash: Uint8Array): Uint8Array | undefined {
    let e = this.buckets.get(prefixOf(hash));
    while (e && !sameBytes(e.hash, hash)) e = e.sameBucket;
    return this.hit(e);
  }

  /** The same by hashKey(hash) (a hex string); getByHash saves making the string. */
  get(key: string): Uint8Array | undefined {
    let e = this.buckets.get(prefixOfKey(key));
    while (e && (e.hex ??= hashKey(e.hash)) !== key) e = e.sameBucket;
    return this.hit(e);
  }

  /** Caches an immutable page under its content hash (a no-op if it is cached already). */
  putByHash(hash: Uint8Array, page: Uint8Array): void {
    this.insert(prefixOf(hash), new Uint8Array(hash), undefined, page);
  }

  put(key: string, page: Uint8Array): void {
    if (!/^(?:[0-9a-f]{2})+$/.test(key)) throw new Error(`page cache key '${key}' is not a hex hash`);
    this.insert(prefixOfKey(key), new Uint8Array(Buffer.from(key, 'hex')), key, page);
  }

  private hit(e: CachedPage | undefined): Uint8Array | undefined {
    if (!e) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    if (e !== this.newest) {
      this.unlink(e);
      this.linkNewest(e);
    }
    return e.bytes;
  }

  private insert(prefix: number, hash: Uint8Array, hex: string | undefined, page: Uint8Array): void {
    const first = this.buckets.get(prefix);
    for (let e = first; e; e = e.sameBucket) if (sameBytes(e.hash, hash)) return;
    // A Buffer view would make every reader's subarray slow: keep a plain view of the same bytes.
    const bytes = page instanceof Buffer ? new Uint8Array(page.buffer, page.byteOffset, page.byteLength) : page;
    const e: CachedPage = { hash, hex, bytes, sameBucket: first };
    this.buckets.set(prefix, e);
    this.linkNewest(e);
    this.count++;
    this.sizeBytes += bytes.byteLength;
    while (this.sizeBytes > this.limitBytes && this.oldest) this.evict(this.oldest);
  }

  private evict(e: CachedPage): void {
    this.unlink(e);
    const prefix = prefixOf(e.hash);
    const first = this.buckets.get(prefix);
    if (first === e) {
      if (e.sameBucket) this.buckets.set(prefix, e.sameBucket);
      else this.buckets.delete(prefix);
    } else {
      let p = first;
      while (p && p.sameBucket !== e) p = p.sameBucket;
      if (!p) throw new Error('page cache: an entry is missing from its bucket');
      p.sameBucket = e.sameBucket;
    }
    e.sameBucket = undefined;
    this.count--;
    this.sizeBytes -= e.bytes.byteLength;
  }

  private linkNewest(e: CachedPage): void {
    e.older = this.newest;
    e.newer = undefined;
    if (this.newest) this.newest.newer = e;
    else this.oldest = e;
    this.newest = e;
  }

  private unlink(e: CachedPage): void {
    if (e.newer) e.newer.older = e.older;
    else this.newest = e.older;
    if (e.older) e.older.newer = e.newer;
    else this.oldest = e.newer;
    e.newer = e.older = undefined;
  }

  /** Hashes from least to most recently used (for tests). */
  *recency(): IterableIterator<Uint8Array> {
    for (let e = this.oldest; e; e = e.newer) yield e.hash;
  }
}

/** The top 30 bits of a hash's first four bytes (fewer bytes: what there is), a small integer. */
function prefixOf(hash: Uint8Array): number {
  if (hash.length >= 4) return (hash[0] << 22) | (hash[1] << 14) | (hash[2] << 6) | (hash[3] >>> 2);
  let v = 0;
  for (let i = 0; i < 4; i++) v = v * 256 + (i < hash.length ? hash[i] : 0);
  return Math.floor(v / 4);
}

/** prefixOf for a hex key: the same number from its first eight digits. */
function prefixOfKey(key: string): number {
  const v = key.length >= 8 ? parseInt(key.slice(0, 8), 16) : parseInt(key.padEnd(8, '0'), 16);
  return Number.isNaN(v) ? -1 : Math.floor(v / 4);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function hashKey(hash: Uint8Array): string {
  return Buffer.from(hash.buffer, hash.byteOffset, hash.length).toString('hex');
}

export function isZero(bytes: Uint8Array): boolean {
  // Compare 8 bytes at a time where alignment allows.
  const aligned = bytes.byteOffset % 8 === 0 ? Math.floor(bytes.length / 8) : 0;
  if (aligned) {
    const words = new BigUint64Array(bytes.buffer, bytes.byteOffset, aligned);
    for (let i = 0; i < words.length; i++) if (words[i] !== 0n) return false;
  }
  for (let i = aligned * 8; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}
