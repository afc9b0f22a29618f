/**
 * File pages in memory: dirty buffers (written, not yet committed) per inode, and a
 * bounded cache of clean pages by chunk hash.
 *
 * A dirty page is a full PAGE_SIZE_BYTES buffer; bytes past the file's size in it are
 * zero (the writer and truncate keep them so), which is what a reader past a page's valid
 * length must see anyway. Clean pages are immutable (keyed by content hash), so the cache
 * never needs invalidating; it evicts least recently used first.
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

export class PageCache {
  private readonly pages = new Map<string, Uint8Array>();
  private sizeBytes = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly limitBytes = PAGE_CACHE_BYTES_MAX) {}

  get(key: string): Uint8Array | undefined {
    const page = this.pages.get(key);
    if (!page) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.pages.delete(key); // re-insert: Map order is recency order
    this.pages.set(key, page);
    return page;
  }

  put(key: string, page: Uint8Array): void {
    if (this.pages.has(key)) return;
    this.pages.set(key, page);
    this.sizeBytes += page.length;
    for (const [k, p] of this.pages) {
      if (this.sizeBytes <= this.limitBytes) break;
      this.pages.delete(k);
      this.sizeBytes -= p.length;
    }
  }
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
