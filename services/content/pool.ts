/**
 * The block pool: data blocks allocated ahead from the block service and handed to new
 * chunks, so a stream of puts costs one allocation (a journal commit in the block
 * service) per refill rather than one per chunk, and consecutive chunks land on
 * consecutive blocks (one write request for many chunks).
 *
 * Invariants: a pool block is allocated in the block service's bitmap and referenced by
 * no committed chunk (fresh: never a live block); a block is handed out once. After a
 * crash the pool is gone with memory and its blocks are allocated-but-unreferenced: the
 * mount scan (gc.ts) frees them. On a clean stop `drain()` frees them at once.
 *
 * Refills grow from POOL_REFILL_BLOCKS_MIN, doubling up to POOL_REFILL_BLOCKS_MAX while
 * the store keeps ingesting, so a small image or a trickle of puts never holds a big
 * pool. A refill asks for a contiguous run; when none is left it asks for exactly one
 * chunk's blocks, contiguous; NOSPC after that is the caller's.
 */
import { assert, contentError } from './errors.ts';
import { EXTENTS_PER_FREE_MAX, POOL_REFILL_BLOCKS_MAX, POOL_REFILL_BLOCKS_MIN } from './limits.ts';
import type { BlockPort, Extent } from './ports.ts';
import { isCode } from '../../kernel/errors.ts';

export class BlockPool {
  private free: Extent[] = [];
  private freeBlocks = 0;
  private nextRefillBlocks = POOL_REFILL_BLOCKS_MIN;
  private refilling: Promise<void> | null = null;
  refills = 0;

  constructor(private readonly port: BlockPort) {}

  get blocks(): number {
    return this.freeBlocks;
  }

  /** A contiguous extent of `blockCount` fresh blocks. */
  async take(blockCount: number): Promise<Extent> {
    assert(Number.isSafeInteger(blockCount) && blockCount >= 1, `take of ${blockCount} blocks`);
    for (let attempt = 0; ; attempt++) {
      const got = this.takeNow(blockCount);
      if (got) return got;
      assert(attempt < 64, 'pool refill makes progress');
      await this.refill(blockCount);
    }
  }

  private takeNow(blockCount: number): Extent | undefined {
    for (let i = 0; i < this.free.length; i++) {
      const e = this.free[i];
      if (e.blockCount < blockCount) continue;
      const out = { blockIndex: e.blockIndex, blockCount };
      if (e.blockCount === blockCount) this.free.splice(i, 1);
      else this.free[i] = { blockIndex: e.blockIndex + blockCount, blockCount: e.blockCount - blockCount };
      this.freeBlocks -= blockCount;
      return out;
    }
    return undefined;
  }

  /** Returns blocks that were taken but never referenced by a committed chunk. */
  give(extent: Extent): void {
    assert(extent.blockCount >= 1, 'give of an empty extent');
    this.free.unshift({ ...extent });
    this.freeBlocks += extent.blockCount;
  }

  private refill(needBlocks: number): Promise<void> {
    if (this.refilling) return this.refilling;
    this.refilling = this.doRefill(needBlocks).finally(() => {
      this.refilling = null;
    });
    return this.refilling;
  }

  private async doRefill(needBlocks: number): Promise<void> {
    const wanted = Math.max(needBlocks, this.nextRefillBlocks);
    let extents: Extent[];
    try {
      extents = await this.port.allocate(wanted, true);
    } catch (e) {
      if (!isCode(e, 'NOSPC') || wanted === needBlocks) throw nospc(e, needBlocks);
      this.nextRefillBlocks = POOL_REFILL_BLOCKS_MIN;
      try {
        extents = await this.port.allocate(needBlocks, true);
      } catch (e2) {
        throw nospc(e2, needBlocks);
      }
    }
    let got = 0;
    for (const e of extents) {
      assert(e.blockCount >= 1, 'allocated extents are not empty');
      this.free.push({ ...e });
      got += e.blockCount;
    }
    assert(got >= needBlocks, `allocate returned ${got} of ${needBlocks} blocks`);
    this.freeBlocks += got;
    this.refills++;
    this.nextRefillBlocks = Math.min(POOL_REFILL_BLOCKS_MAX, this.nextRefillBlocks * 2);
  }

  /** Frees every pool block back to the block service (clean stop). */
  async drain(): Promise<void> {
    const extents = this.free;
    this.free = [];
    this.freeBlocks = 0;
    for (let i = 0; i < extents.length; i += EXTENTS_PER_FREE_MAX) await this.port.free(extents.slice(i, i + EXTENTS_PER_FREE_MAX));
  }
}

function nospc(e: unknown, needBlocks: number): unknown {
  if (isCode(e, 'NOSPC')) return contentError('NOSPC', `no run of ${needBlocks} free blocks for a chunk (${(e as Error).message})`);
  return e;
}
