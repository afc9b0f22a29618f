/**
 * Crash images without copying the disk: an OverlayImage is a shared, never-modified base
 * image plus a map of 4 KiB pages that differ from it. Building a crash state and
 * recovering on it cost what the log and the recovery wrote, not the disk's size (a
 * 32 MiB copy per state was most of a state's time, and of the collector's).
 *
 * Invariants:
 * - `base` is never written; a page in `pages` is never modified after it is put there
 *   (writes replace pages, copy on write), so clone() may share every page.
 * - Reads see the page if present, else the base; every offset and length is whole
 *   sectors inside the image (checked by the callers, as a disk backend does).
 *
 * ImageCursor gives the durable image at each flush boundary of a recorded log, moving
 * forward through the log (states are checked in id order, and each family walks the log
 * forwards, so a run replays the log a few times, not once per state).
 */
import { SECTOR_SIZE_BYTES } from '../../kernel/limits.ts';
import type { DiskLogEntry } from '../../kernel/machine/disk/write-log.ts';

export const OVERLAY_PAGE_BYTES = 4096;

export class OverlayImage {
  readonly sizeBytes: number;

  constructor(
    readonly base: Uint8Array,
    private readonly pages: Map<number, Uint8Array> = new Map(),
  ) {
    if (base.length % OVERLAY_PAGE_BYTES !== 0) throw new RangeError(`overlay: image of ${base.length} bytes is not whole ${OVERLAY_PAGE_BYTES}-byte pages`);
    this.sizeBytes = base.length;
  }

  /** Another image with the same bytes; writes to either do not show in the other. */
  clone(): OverlayImage {
    return new OverlayImage(this.base, new Map(this.pages));
  }

  get pageCount(): number {
    return this.pages.size;
  }

  read(offsetBytes: number, dst: Uint8Array): void {
    this.checkRange(offsetBytes, dst.length);
    let done = 0;
    while (done < dst.length) {
      const at = offsetBytes + done;
      const index = Math.floor(at / OVERLAY_PAGE_BYTES);
      const within = at - index * OVERLAY_PAGE_BYTES;
      const n = Math.min(OVERLAY_PAGE_BYTES - within, dst.length - done);
      const page = this.pages.get(index);
      if (page) {
        dst.set(page.subarray(within, within + n), done);
        done += n;
        continue;
      }
      // A run of pages the overlay does not hold comes from the base in one copy.
      let end = done + n;
      while (end < dst.length && !this.pages.has(Math.floor((offsetBytes + end) / OVERLAY_PAGE_BYTES))) end = Math.min(dst.length, end + OVERLAY_PAGE_BYTES);
      dst.set(this.base.subarray(at, offsetBytes + end), done);
      done = end;
    }
  }

  /** Writes `lengthBytes` at `offsetBytes`: bytes of `src`, or zeros when `src` is null (a discard). */
  write(offsetBytes: number, src: Uint8Array | null, lengthBytes: number): void {
    this.checkRange(offsetBytes, lengthBytes);
    if (src !== null && src.length < lengthBytes) throw new RangeError(`overlay: write of ${lengthBytes} bytes from ${src.length}`);
    let done = 0;
    while (done < lengthBytes) {
      const at = offsetBytes + done;
      const index = Math.floor(at / OVERLAY_PAGE_BYTES);
      const within = at - index * OVERLAY_PAGE_BYTES;
      const n = Math.min(OVERLAY_PAGE_BYTES - within, lengthBytes - done);
      let page: Uint8Array;
      if (n === OVERLAY_PAGE_BYTES) page = src === null ? new Uint8Array(OVERLAY_PAGE_BYTES) : src.slice(done, done + n);
      else {
        const old = this.pages.get(index);
        page = old ? old.slice() : this.base.slice(index * OVERLAY_PAGE_BYTES, (index + 1) * OVERLAY_PAGE_BYTES);
        if (src === null) page.fill(0, within, within + n);
        else page.set(src.subarray(done, done + n), within);
      }
      this.pages.set(index, page);
      done += n;
    }
  }

  /** The whole image as one array (tests and debugging; the harness never needs it). */
  toBytes(): Uint8Array {
    const out = this.base.slice();
    for (const [index, page] of this.pages) out.set(page, index * OVERLAY_PAGE_BYTES);
    return out;
  }

  private checkRange(offsetBytes: number, lengthBytes: number): void {
    const ok = Number.isSafeInteger(offsetBytes) && offsetBytes >= 0 && lengthBytes >= 0 && offsetBytes % SECTOR_SIZE_BYTES === 0 && lengthBytes % SECTOR_SIZE_BYTES === 0 && offsetBytes + lengthBytes <= this.sizeBytes;
    if (!ok) throw new RangeError(`overlay: [${offsetBytes}, +${lengthBytes}) is not whole sectors inside ${this.sizeBytes} bytes`);
  }
}

/** The durable image after the first `entryCount` entries of a log whose entry entryCount - 1 is a flush (or entryCount 0). */
export class ImageCursor {
  private image: OverlayImage;
  private at = 0;
  private pending: DiskLogEntry[] = [];

  constructor(
    private readonly base: Uint8Array,
    private readonly log: readonly DiskLogEntry[],
  ) {
    this.image = new OverlayImage(base);
  }

  /** A fresh image (the caller may write to it) durable as of flush boundary `entryCount`. */
  durableAt(entryCount: number): OverlayImage {
    if (entryCount !== 0 && this.log[entryCount - 1]?.kind !== 'flush') throw new RangeError(`image cursor: entry ${entryCount - 1} is not a flush`);
    if (entryCount < this.at) {
      this.image = new OverlayImage(this.base);
      this.at = 0;
      this.pending = [];
    }
    for (; this.at < entryCount; this.at++) {
      const e = this.log[this.at];
      if (e.kind === 'write' || e.kind === 'discard') this.pending.push(e);
      else if (e.kind === 'flush') {
        for (const w of this.pending) landWhole(this.image, w);
        this.pending = [];
      } else if (e.kind === 'crash') throw new Error('image cursor: a recorded log must not contain a crash');
    }
    if (this.pending.length !== 0) throw new Error('image cursor: writes pending at a flush boundary');
    return this.image.clone();
  }
}

/** Lands a write or discard whole, or its first `sectorCount` sectors. */
export function landWhole(image: OverlayImage, e: DiskLogEntry, sectorCount?: number): void {
  if (e.kind === 'write') {
    const lengthBytes = sectorCount === undefined ? e.data.length : sectorCount * SECTOR_SIZE_BYTES;
    image.write(e.offsetBytes, e.data, lengthBytes);
  } else if (e.kind === 'discard') {
    const lengthBytes = sectorCount === undefined ? e.lengthBytes : sectorCount * SECTOR_SIZE_BYTES;
    image.write(e.offsetBytes, null, lengthBytes);
  } else throw new Error(`overlay: cannot land a ${e.kind} entry`);
}
