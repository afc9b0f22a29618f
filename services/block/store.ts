/**
 * The mounted image: allocator + cache + journal over one BlockDevice. The service
 * (service.ts) is this plus messages, grants and timers; tools and tests can drive it
 * directly over any device (the scheduler in the service, a disk backend elsewhere).
 *
 * Mount: read the superblock (primary, else the spare, saying which and why), replay
 * the journal, re-read the superblock the replay may have rewritten, repair whichever
 * copy is bad or stale, load and verify every bitmap block, and check the superblock's
 * free count against the bitmap. Any verification failure is an INTEGRITY error.
 *
 * Commit points: allocate/free journal the changed bitmap blocks together with the
 * superblock (new free count) and reply after the commit; `commit` replies after its
 * transaction commits; `write` is durable after the next `flush` (cache write-back, then
 * device FLUSH). A block with a logged image not yet checkpointed is checkpointed before
 * a direct write to it, so replay can never overwrite the newer direct write.
 */
import { assert, blockError } from './errors.ts';
import type { BlockDevice } from './device.ts';
import { Allocator } from './allocator.ts';
import { BlockCache, type CacheStats } from './cache.ts';
import { Journal, type JournalStats, type ReplayReport } from './journal.ts';
import { ALLOCATE_BLOCKS_MAX, BLOCK_SIZE_BYTES, CACHE_WRITE_AROUND_BLOCKS_MIN, EXTENTS_PER_REQUEST_MAX, IO_BLOCKS_MAX, TX_BLOCKS_MAX } from './limits.ts';
import { FormatError } from './format/bytes.ts';
import { readBitmap, readImage, type ImageReport } from './format/read-image.ts';
import { checksumSeed } from './format/metadata.ts';
import { encodeSuperblock, type Superblock } from './format/superblock.ts';
import { inExtent, type Extent, type Layout } from './format/layout.ts';
import type { BlockWrite } from './format/journal-log.ts';

export interface MountReport {
  superblockSource: 'primary' | 'spare';
  problems: string[];
  repaired: string[];
  replay: ReplayReport;
}

/** Runs `fn`, turning a FormatError into an INTEGRITY ServiceError. */
async function integrity<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof FormatError) throw blockError('INTEGRITY', e.message);
    throw e;
  }
}

export class BlockStore {
  private constructor(
    readonly dev: BlockDevice,
    private superblock: Superblock,
    readonly seed: number,
    readonly allocator: Allocator,
    readonly journal: Journal,
    readonly cache: BlockCache,
    readonly mountReport: MountReport,
  ) {}

  get layout(): Layout {
    return this.superblock.layout;
  }
  get uuid(): Uint8Array {
    return this.superblock.uuid;
  }

  static async mount(dev: BlockDevice, options: { cacheSizeBytes: number; autoCheckpoint?: boolean }): Promise<BlockStore> {
    const read = (b: number, n: number) => dev.readBlocks(b, n);
    const first: ImageReport = await integrity(() => readImage(read, dev.blockCount));
    const layout = first.superblock.layout;
    const seed = checksumSeed(first.superblock.uuid);
    const { journal, replay } = await integrity(() => Journal.open(dev, layout, seed, { autoCheckpoint: options.autoCheckpoint }));
    // Replay may have rewritten the primary (and the spare); read both again.
    const after = await integrity(() => readImage(read, dev.blockCount));
    const repaired: string[] = [];
    if (after.source === 'spare') {
      await dev.writeBlocks(layout.superblock.blockIndex, encodeSuperblock(after.superblock));
      await dev.flush();
      repaired.push('primary superblock rewritten from the spare');
    } else if (after.spareStale) {
      await dev.writeBlocks(layout.spare.blockIndex, encodeSuperblock(after.superblock));
      await dev.flush();
      repaired.push('spare superblock rewritten from the primary');
    }
    const bits = await integrity(() => readBitmap(read, layout, seed));
    const allocator = new Allocator(layout, bits);
    if (allocator.freeBlockCount !== after.superblock.freeBlockCount) {
      throw blockError('INTEGRITY', `superblock: freeBlockCount ${after.superblock.freeBlockCount}, but the bitmap has ${allocator.freeBlockCount} free blocks`);
    }
    const backing = {
      // A block whose newest image is still only in the journal must be read from there.
      read: async (blockIndex: number, blockCount: number) => {
        const bytes = await dev.readBlocks(blockIndex, blockCount);
        for (let i = 0; i < blockCount; i++) {
          const logged = journal.pendingImage(blockIndex + i);
          if (logged) bytes.set(logged, i * BLOCK_SIZE_BYTES);
        }
        return bytes;
      },
      write: (blockIndex: number, data: Uint8Array) => dev.writeBlocks(blockIndex, data),
    };
    const cache = new BlockCache(backing, options.cacheSizeBytes);
    const report: MountReport = { superblockSource: first.source, problems: first.problems, repaired, replay };
    return new BlockStore(dev, after.superblock, seed, allocator, journal, cache, report);
  }

  // ---- data path ---------------------------------------------------------------------

  private checkRead(blockIndex: number, blockCount: number): void {
    if (blockCount < 1 || blockCount > IO_BLOCKS_MAX) throw blockError('TOOBIG', `blockCount ${blockCount} is outside [1, ${IO_BLOCKS_MAX}]`);
    if (blockIndex + blockCount > this.layout.blockCount) throw blockError('RANGE', `blocks [${blockIndex}, +${blockCount}) are past the ${this.layout.blockCount}-block image`);
  }

  /** Clients may write the Axiom region and allocated blocks of the data region, nothing else. */
  private checkWritable(blockIndex: number, blockCount: number): void {
    const { axiom, data, blockCount: n } = this.layout;
    if (blockIndex + blockCount > n) throw blockError('RANGE', `blocks [${blockIndex}, +${blockCount}) are past the ${n}-block image`);
    if (inExtent(axiom, blockIndex, blockCount)) return;
    if (!inExtent(data, blockIndex, blockCount)) throw blockError('RANGE', `blocks [${blockIndex}, +${blockCount}) are not all in the Axiom region or the data region`);
    for (let b = blockIndex; b < blockIndex + blockCount; b++) {
      if (!this.allocator.isAllocated(b)) throw blockError('NOTALLOCATED', `block ${b} of the data region is not allocated`);
    }
  }

  private checkNotFailed(): void {
    const f = this.journal.failed;
    if (f) throw blockError('FAILED', `the journal failed earlier (${f.message}); remount to recover`);
  }

  async read(blockIndex: number, blockCount: number): Promise<Uint8Array> {
    this.checkRead(blockIndex, blockCount);
    return this.cache.read(blockIndex, blockCount);
  }

  async write(blockIndex: number, data: Uint8Array): Promise<void> {
    const blockCount = data.length / BLOCK_SIZE_BYTES;
    assert(Number.isInteger(blockCount) && blockCount >= 1, `write of ${data.length} bytes`);
    if (blockCount > IO_BLOCKS_MAX) throw blockError('TOOBIG', `${blockCount} blocks exceeds ${IO_BLOCKS_MAX}`);
    this.checkNotFailed();
    this.checkWritable(blockIndex, blockCount);
    for (let b = blockIndex; b < blockIndex + blockCount; b++) {
      if (this.journal.hasLive(b)) {
        await this.journal.checkpoint();
        break;
      }
    }
    // A large write is streaming data (chunks being stored): around the cache, to the device.
    if (blockCount >= CACHE_WRITE_AROUND_BLOCKS_MIN) await this.cache.writeAround(blockIndex, data);
    else await this.cache.write(blockIndex, data, { dirty: true });
  }

  /** Every write that completed before the call is durable when this resolves. */
  async flush(): Promise<void> {
    this.checkNotFailed();
    await this.cache.writeBackAll();
    await this.dev.flush();
  }

  /** A transaction over Axiom or allocated data blocks; durable when it resolves. */
  async commit(writes: BlockWrite[]): Promise<number> {
    this.checkNotFailed();
    if (writes.length === 0) throw blockError('BADMSG', 'a transaction writes at least one block');
    if (writes.length > TX_BLOCKS_MAX) throw blockError('TOOBIG', `a transaction writes at most ${TX_BLOCKS_MAX} blocks`);
    for (const w of writes) {
      if (w.data.length !== BLOCK_SIZE_BYTES) throw blockError('BADMSG', `transaction image for block ${w.blockIndex} is ${w.data.length} bytes`);
      this.checkWritable(w.blockIndex, 1);
    }
    const sequence = await this.journal.commit(writes);
    for (const w of writes) await this.cache.write(w.blockIndex, w.data, { dirty: false });
    return sequence;
  }

  /** flush, then checkpoint the whole journal: everything is at its home location (the next mount replays nothing). */
  async sync(): Promise<void> {
    await this.flush();
    await this.journal.checkpoint();
  }

  // ---- allocation ----------------------------------------------------------------------

  async allocate(blockCount: number, options: { contiguous?: boolean } = {}): Promise<Extent[]> {
    this.checkNotFailed();
    if (blockCount < 1 || blockCount > ALLOCATE_BLOCKS_MAX) throw blockError('TOOBIG', `blockCount ${blockCount} is outside [1, ${ALLOCATE_BLOCKS_MAX}]`);
    const extents = this.allocator.allocate(blockCount, options);
    await this.commitAllocation();
    return extents;
  }

  async free(extents: Extent[]): Promise<number> {
    this.checkNotFailed();
    if (extents.length > EXTENTS_PER_REQUEST_MAX) throw blockError('TOOBIG', `at most ${EXTENTS_PER_REQUEST_MAX} extents per free`);
    if (this.allocator.ordinalsOf(extents).size > TX_BLOCKS_MAX - 1) throw blockError('TOOBIG', 'these extents touch more bitmap blocks than one transaction holds; free them in parts');
    const freed = this.allocator.free(extents);
    const committed = this.commitAllocation();
    // Freed blocks' cached contents are garbage now: no point writing them back.
    for (const e of extents) this.cache.drop(e.blockIndex, e.blockCount);
    await committed;
    return freed;
  }

  /** Journals the dirty bitmap blocks and the superblock's new free count. Synchronous up to the commit call, so transactions carry bitmap images in the order the changes were made. */
  private commitAllocation(): Promise<number> {
    const writes = this.allocator.takeDirty(this.seed);
    this.superblock = { ...this.superblock, freeBlockCount: this.allocator.freeBlockCount };
    writes.push({ blockIndex: this.layout.superblock.blockIndex, data: encodeSuperblock(this.superblock) });
    return this.journal.commit(writes);
  }

  // ---- lifecycle and reporting -------------------------------------------------------

  /** Writes back the cache and checkpoints the whole journal, so the next mount replays nothing. */
  async unmount(): Promise<void> {
    if (this.journal.failed) return;
    await this.cache.writeBackAll();
    await this.journal.close();
    await this.dev.flush();
  }

  stats(): { freeBlocks: number; dataBlocks: number; cache: CacheStats; journal: JournalStats; failed: string | null } {
    return {
      freeBlocks: this.allocator.freeBlockCount,
      dataBlocks: this.layout.data.blockCount,
      cache: this.cache.stats(),
      journal: this.journal.stats(),
      failed: this.journal.failed?.message ?? null,
    };
  }
}
