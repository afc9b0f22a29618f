/**
 * The persistent bitmap allocator: extents of the data region, in memory, with the list
 * of bitmap blocks changed since the journal last took them.
 *
 * Policy: next-fit with a roving cursor (where the last allocation ended), so
 * consecutive allocations land next to each other (good for files written in pieces)
 * and a search usually starts where free space is. A request is first served from ONE
 * free run of at least `blockCount` blocks, searched forward from the cursor and then
 * from the start of the data region; large requests therefore come back contiguous
 * whenever the disk has such a run. Only if no run is long enough, and the caller did not
 * demand `contiguous`, is it assembled from free runs in address order from the cursor
 * (up to EXTENTS_PER_REQUEST_MAX extents).
 *
 * Invariants (asserted): a block is handed out only if its bit is 0; freeBlockCount is
 * always the number of 0 bits in the data region; every refused request (NOSPC, RANGE,
 * NOTALLOCATED, BADMSG) leaves bits, count and dirty set exactly as they were.
 * Commit point: none here. The service journals `takeDirty()` together with the
 * superblock in one transaction before it replies (FORMAT.md §5).
 */
import { assert, blockError } from './errors.ts';
import { BITMAP_BITS_PER_BLOCK, EXTENTS_PER_REQUEST_MAX } from './limits.ts';
import { checkReservedBits, countFree, encodeBitmapBlock, setBits, testBit } from './format/bitmap.ts';
import type { BlockWrite } from './format/journal-log.ts';
import type { Extent, Layout } from './format/layout.ts';

export class Allocator {
  private cursor: number;
  private readonly dirty = new Set<number>();
  freeBlockCount: number;

  /** Takes ownership of `bits`, the whole-image bitmap read at mount (or initialBitmap for a fresh image). */
  constructor(
    readonly layout: Layout,
    private readonly bits: Uint8Array,
  ) {
    checkReservedBits(bits, layout);
    this.freeBlockCount = countFree(bits, layout);
    this.cursor = layout.data.blockIndex;
  }

  private get dataStart(): number {
    return this.layout.data.blockIndex;
  }
  private get dataEnd(): number {
    return this.layout.data.blockIndex + this.layout.data.blockCount;
  }

  isAllocated(blockIndex: number): boolean {
    return testBit(this.bits, blockIndex);
  }

  /** Allocated extents of the data region from `fromBlockIndex` on, at most `extentsMax`; where the next page starts (null: done). */
  allocatedExtents(fromBlockIndex: number, extentsMax: number): { extents: Extent[]; nextBlockIndex: number | null } {
    const extents: Extent[] = [];
    let b = Math.max(fromBlockIndex, this.dataStart);
    while (b < this.dataEnd) {
      if (!testBit(this.bits, b)) {
        b++;
        continue;
      }
      if (extents.length === extentsMax) return { extents, nextBlockIndex: b };
      const start = b;
      while (b < this.dataEnd && testBit(this.bits, b)) b++;
      extents.push({ blockIndex: start, blockCount: b - start });
    }
    return { extents, nextBlockIndex: null };
  }

  /** Allocates `blockCount` blocks; NOSPC (nothing changed) if it cannot. */
  allocate(blockCount: number, options: { contiguous?: boolean } = {}): Extent[] {
    assert(Number.isSafeInteger(blockCount) && blockCount >= 1, `allocate(${blockCount})`);
    if (blockCount > this.freeBlockCount) throw blockError('NOSPC', `${blockCount} blocks asked, ${this.freeBlockCount} free`);
    const start = this.findRun(this.cursor, this.dataEnd, blockCount) ?? this.findRun(this.dataStart, this.cursor, blockCount);
    let extents: Extent[];
    if (start !== undefined) {
      extents = [{ blockIndex: start, blockCount }];
    } else {
      if (options.contiguous) throw blockError('NOSPC', `no free run of ${blockCount} contiguous blocks (${this.freeBlockCount} free in pieces)`);
      extents = this.gather(blockCount);
    }
    const before = this.freeBlockCount;
    for (const e of extents) this.mark(e, true);
    assert(this.freeBlockCount === before - blockCount, 'allocate: free count moved by the amount allocated');
    const last = extents[extents.length - 1];
    this.cursor = last.blockIndex + last.blockCount === this.dataEnd ? this.dataStart : last.blockIndex + last.blockCount;
    return extents;
  }

  /** Frees every extent, or nothing: RANGE outside the data region, BADMSG for overlapping extents, NOTALLOCATED for a free block. */
  free(extents: Extent[]): number {
    const sorted = [...extents].sort((a, b) => a.blockIndex - b.blockIndex);
    for (const e of sorted) {
      if (!Number.isSafeInteger(e.blockIndex) || !Number.isSafeInteger(e.blockCount) || e.blockCount < 1) throw blockError('BADMSG', `extent ${e.blockIndex}+${e.blockCount}`);
      if (e.blockIndex < this.dataStart || e.blockIndex + e.blockCount > this.dataEnd) {
        throw blockError('RANGE', `extent ${e.blockIndex}+${e.blockCount} is outside the data region [${this.dataStart}, ${this.dataEnd})`);
      }
    }
    for (let i = 1; i < sorted.length; i++) {
      const p = sorted[i - 1];
      if (p.blockIndex + p.blockCount > sorted[i].blockIndex) throw blockError('BADMSG', `extents ${p.blockIndex}+${p.blockCount} and ${sorted[i].blockIndex}+${sorted[i].blockCount} overlap`);
    }
    for (const e of sorted) {
      const freeAt = this.firstWithBit(e.blockIndex, e.blockIndex + e.blockCount, false);
      if (freeAt !== undefined) throw blockError('NOTALLOCATED', `block ${freeAt} is not allocated (double free, or never allocated); nothing was freed`);
    }
    let total = 0;
    const before = this.freeBlockCount;
    for (const e of sorted) {
      this.mark(e, false);
      total += e.blockCount;
    }
    assert(this.freeBlockCount === before + total, 'free: free count moved by the amount freed');
    return total;
  }

  /** Bitmap block ordinals that would be dirtied by changing these extents (for transaction sizing). */
  ordinalsOf(extents: Extent[]): Set<number> {
    const out = new Set<number>();
    for (const e of extents) {
      for (let k = Math.floor(e.blockIndex / BITMAP_BITS_PER_BLOCK); k <= Math.floor((e.blockIndex + e.blockCount - 1) / BITMAP_BITS_PER_BLOCK); k++) out.add(k);
    }
    return out;
  }

  get dirtyCount(): number {
    return this.dirty.size;
  }

  /** Encoded images of every bitmap block changed since the last call, which forgets them. */
  takeDirty(seed: number): BlockWrite[] {
    const out = [...this.dirty].sort((a, b) => a - b).map((k) => ({ blockIndex: this.layout.bitmap.blockIndex + k, data: encodeBitmapBlock(this.bits, k, this.layout, seed) }));
    this.dirty.clear();
    return out;
  }

  /** Recounts from the bits; throws if the running count drifted (used by tests and fsck). */
  checkConsistency(): void {
    checkReservedBits(this.bits, this.layout);
    const counted = countFree(this.bits, this.layout);
    assert(counted === this.freeBlockCount, `free count ${this.freeBlockCount} but the bitmap has ${counted} free blocks`);
  }

  /** A copy of the whole-image bitmap (for inspect and tests). */
  snapshotBits(): Uint8Array {
    return this.bits.slice();
  }

  private mark(e: Extent, allocated: boolean): void {
    assert(e.blockIndex >= this.dataStart && e.blockIndex + e.blockCount <= this.dataEnd, `mark outside data region: ${e.blockIndex}+${e.blockCount}`);
    const wrong = this.firstWithBit(e.blockIndex, e.blockIndex + e.blockCount, allocated);
    assert(wrong === undefined, allocated ? `allocating allocated block ${wrong}` : `freeing free block ${wrong}`);
    setBits(this.bits, e.blockIndex, e.blockCount, allocated);
    this.freeBlockCount += allocated ? -e.blockCount : e.blockCount;
    for (const k of this.ordinalsOf([e])) this.dirty.add(k);
  }

  /** First block in [from, to) whose bit equals `value`. */
  private firstWithBit(from: number, to: number, value: boolean): number | undefined {
    const skip = value ? 0x00 : 0xff;
    let i = from;
    while (i < to) {
      if ((i & 7) === 0 && i + 8 <= to && this.bits[i >>> 3] === skip) {
        i += 8;
        continue;
      }
      if (testBit(this.bits, i) === value) return i;
      i++;
    }
    return undefined;
  }

  /** Start of the first free run of >= count blocks beginning in [from, to) (the run may extend past `to`, not past the data region). */
  private findRun(from: number, to: number, count: number): number | undefined {
    let i = from;
    while (i < to) {
      const start = this.firstWithBit(i, to, false);
      if (start === undefined) return undefined;
      const end = this.firstWithBit(start, Math.min(this.dataEnd, start + count), true) ?? Math.min(this.dataEnd, start + count);
      if (end - start >= count) return start;
      i = end;
    }
    return undefined;
  }

  /** Free runs in address order from the cursor (wrapping) until `count` blocks are covered. */
  private gather(count: number): Extent[] {
    const extents: Extent[] = [];
    let need = count;
    for (const [from, to] of [
      [this.cursor, this.dataEnd],
      [this.dataStart, this.cursor],
    ]) {
      let i = from;
      while (need > 0 && i < to) {
        const start = this.firstWithBit(i, to, false);
        if (start === undefined) break;
        const end = this.firstWithBit(start, Math.min(to, start + need), true) ?? Math.min(to, start + need);
        extents.push({ blockIndex: start, blockCount: end - start });
        need -= end - start;
        i = end;
        if (extents.length > EXTENTS_PER_REQUEST_MAX) throw blockError('NOSPC', `${count} blocks would take more than ${EXTENTS_PER_REQUEST_MAX} extents; free space is too fragmented`);
      }
    }
    assert(need === 0, `gather: ${need} blocks short although ${this.freeBlockCount} are free`);
    return extents;
  }
}
