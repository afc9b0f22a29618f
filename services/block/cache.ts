/**
 * The block cache: bounded in bytes, write-back, 2Q replacement, coalesced reads.
 *
 * Policy: 2Q (Johnson & Shasha, VLDB 1994). Blocks seen once enter A1in, a FIFO holding
 * about a quarter of the cache; when they fall out of it only their index is remembered
 * in A1out (ghosts, half the cache's worth of entries). A block referenced again while in
 * A1out, or hit while in Am, lives in Am, an LRU. Why not plain LRU: a scan (a big file
 * written or read once, a checkpoint, a mount replay) would flush every hot metadata
 * block out of an LRU; under 2Q it only churns A1in. Why not CLOCK-Pro/ARC: 2Q gets most
 * of their scan resistance with two constant-time queues and no tuning state.
 *
 * Invariants (asserted): resident bytes never exceed the capacity after a call returns,
 * unless every resident block is dirty or being loaded (then writers wait for
 * write-backs: backpressure, not loss); a dirty block is never evicted before a
 * write-back of its current contents has completed; at most one device read per block is
 * in flight, and every concurrent reader of it waits for that one read; a completed
 * read never replaces a newer write. Cached buffers are never mutated in place (a write
 * replaces the buffer), so a write-back or a reader can hold one safely.
 *
 * Costs: every operation is constant time per block touched. Besides the two queues the
 * cache keeps three insertion-ordered index sets (linked-set.ts): the evictable (clean,
 * not being written) blocks of A1in and of Am, in queue order, and the dirty blocks not
 * being written, oldest first. Eviction and write-back pick from the front of a set instead of scanning past
 * dirty blocks (a scan made a large write quadratic: every eviction walked every dirty
 * block ahead of the first clean one). `index()` keeps the sets in step with an entry's
 * flags and queue; it runs after every change to either.
 *
 * Read-around: a read of at least CACHE_READ_AROUND_BLOCKS_MIN blocks none of which is
 * cached or being loaded goes to the device and is not kept (file data: the fs above has
 * its own page cache, and a chunk is rarely read twice from here).
 *
 * Write-around: `writeAround` sends a large write straight to the device and keeps no
 * copy (a streaming write, like chunk data being stored, would only churn the cache and
 * pay two copies and a write-back per block). While it is in flight, a read or write of
 * its blocks waits for it, so nothing can reorder around it or cache what it replaces,
 * and a write that had to wait holds back later calls on its blocks in turn (barriers:
 * calls on a block take effect in call order). If one of its blocks has a device read or
 * a write-back in flight, it takes the cached path instead. Stale cached copies of its
 * blocks are dropped before it is issued.
 *
 * Commit point: none here. A dirty block is durable after its write-back AND a later
 * device FLUSH, which the service issues (flush/sync op).
 */
import { assert } from './errors.ts';
import { LinkedSet } from './linked-set.ts';
import { BLOCK_SIZE_BYTES, CACHE_READ_AROUND_BLOCKS_MIN, CACHE_A1IN_FRACTION, CACHE_A1OUT_FRACTION, CACHE_DIRTY_FRACTION_MAX, MERGED_REQUEST_BYTES_MAX } from './limits.ts';

export interface CacheBacking {
  read(blockIndex: number, blockCount: number): Promise<Uint8Array>;
  write(blockIndex: number, data: Uint8Array): Promise<void>;
}

export interface CacheStats {
  capacityBytes: number;
  residentBytes: number;
  dirtyBlocks: number;
  hits: number;
  misses: number;
  /** Reads that found a device read of the same block already in flight and shared it. */
  coalesced: number;
  evictions: number;
  writeBacks: number;
  ghostHits: number;
  /** Large reads of uncached blocks served straight from the device (not counted as misses). */
  readArounds: number;
}

interface Entry {
  data: Uint8Array;
  dirty: boolean;
  /** Bumped on every write; a write-back clears `dirty` only if the version it wrote is still current. */
  version: number;
  writing: boolean;
  queue: 'a1in' | 'am';
}

const MERGE_BLOCKS_MAX = MERGED_REQUEST_BYTES_MAX / BLOCK_SIZE_BYTES;
const NO_BARRIERS: readonly Promise<void>[] = Object.freeze([]);

export class BlockCache {
  readonly capacityBlocks: number;
  private readonly a1inMax: number;
  private readonly a1outMax: number;
  private readonly a1in = new Map<number, Entry>();
  private readonly am = new Map<number, Entry>();
  private readonly a1out = new LinkedSet();
  /** Clean, not-writing blocks of each queue, in that queue's order (the eviction candidates). */
  private readonly evictable = { a1in: new LinkedSet(), am: new LinkedSet() };
  /** Dirty blocks with no write-back in flight, oldest dirtied first (the write-back candidates). */
  private readonly dirtyIdle = new LinkedSet();
  private readonly loading = new Map<number, Promise<Uint8Array>>();
  private writeBackErrors = 0;
  private lastWriteBackError: unknown;
  private dirtyCount = 0;
  private readonly writeBacksInFlight = new Set<Promise<void>>();
  /**
   * Per block, the newest write ordered ahead of new calls: a write-around in flight, or a
   * write queued behind one. Reads and writes of the block wait for it (see writeAround).
   */
  private readonly barriers = new Map<number, Promise<void>>();
  private readonly counters = { hits: 0, misses: 0, coalesced: 0, evictions: 0, writeBacks: 0, ghostHits: 0, readArounds: 0 };

  constructor(
    private readonly backing: CacheBacking,
    capacityBytes: number,
  ) {
    assert(Number.isSafeInteger(capacityBytes) && capacityBytes >= 16 * BLOCK_SIZE_BYTES, `cache capacity ${capacityBytes}`);
    this.capacityBlocks = Math.floor(capacityBytes / BLOCK_SIZE_BYTES);
    this.a1inMax = Math.max(1, Math.floor(this.capacityBlocks * CACHE_A1IN_FRACTION));
    this.a1outMax = Math.max(1, Math.floor(this.capacityBlocks * CACHE_A1OUT_FRACTION));
  }

  get residentBlocks(): number {
    return this.a1in.size + this.am.size;
  }

  stats(): CacheStats {
    return { capacityBytes: this.capacityBlocks * BLOCK_SIZE_BYTES, residentBytes: this.residentBlocks * BLOCK_SIZE_BYTES, dirtyBlocks: this.dirtyCount, ...this.counters };
  }

  has(blockIndex: number): boolean {
    return this.a1in.has(blockIndex) || this.am.has(blockIndex);
  }

  isDirty(blockIndex: number): boolean {
    return this.entry(blockIndex)?.dirty ?? false;
  }

  /** Reads `blockCount` blocks as one new buffer; misses become one device read per contiguous run. */
  async read(blockIndex: number, blockCount: number): Promise<Uint8Array> {
    // Never load a block while a write to it is ordered ahead (a write-around in flight
    // would make the load stale); loop, since later writes may have queued meanwhile.
    for (let w = this.barriersOn(blockIndex, blockCount); w.length; w = this.barriersOn(blockIndex, blockCount)) await Promise.allSettled(w);
    if (blockCount >= CACHE_READ_AROUND_BLOCKS_MIN && this.noneCachedOrLoading(blockIndex, blockCount)) {
      // A large read of blocks the cache has never seen (a chunk of file data; the fs keeps
      // its own page cache above): straight from the device, nothing kept.
      this.counters.readArounds++;
      return this.backing.read(blockIndex, blockCount);
    }
    const out = new Uint8Array(blockCount * BLOCK_SIZE_BYTES);
    const waits: Promise<void>[] = [];
    const missing: number[] = [];
    const fill = (i: number, p: Promise<Uint8Array>) =>
      waits.push(
        p.then((data) => {
          // A write that landed while the read was in flight is newer than what the device returned.
          out.set(this.entry(blockIndex + i)?.data ?? data, i * BLOCK_SIZE_BYTES);
        }),
      );
    for (let i = 0; i < blockCount; i++) {
      const b = blockIndex + i;
      const e = this.touch(b);
      if (e) {
        this.counters.hits++;
        out.set(e.data, i * BLOCK_SIZE_BYTES);
      } else if (this.loading.has(b)) {
        this.counters.coalesced++;
        fill(i, this.loading.get(b)!);
      } else {
        this.counters.misses++;
        missing.push(b);
      }
    }
    for (const run of runsOf(missing, MERGE_BLOCKS_MAX)) {
      const perBlock = this.load(run.first, run.count);
      perBlock.forEach((p, k) => fill(run.first + k - blockIndex, p));
    }
    await Promise.all(waits);
    await this.makeRoom();
    return out;
  }

  /**
   * Stores whole blocks. `dirty: true` means only the cache has them (write-back later);
   * `dirty: false` means they are already durable elsewhere (the journal, or the device).
   */
  async write(blockIndex: number, data: Uint8Array, options: { dirty: boolean }): Promise<void> {
    assert(data.length > 0 && data.length % BLOCK_SIZE_BYTES === 0, `cache write of ${data.length} bytes`);
    const blockCount = data.length / BLOCK_SIZE_BYTES;
    const ahead = this.barriersOn(blockIndex, blockCount);
    if (ahead.length) {
      // Queue behind them, and make every later call on these blocks queue behind this one.
      const mine = this.raiseBarrier(blockIndex, blockCount);
      try {
        await Promise.allSettled(ahead);
        this.insertBlocks(blockIndex, data, options.dirty);
      } finally {
        mine.lower();
      }
    } else this.insertBlocks(blockIndex, data, options.dirty);
    await this.makeRoom();
  }

  /**
   * Writes whole blocks to the backing device without caching them; resolves when the
   * device has them (durable after the next FLUSH, like a write-back). Takes the cached
   * path instead (dirty) when one of the blocks has a read or a write-back in flight.
   */
  async writeAround(blockIndex: number, data: Uint8Array): Promise<void> {
    assert(data.length > 0 && data.length % BLOCK_SIZE_BYTES === 0, `cache write-around of ${data.length} bytes`);
    const blockCount = data.length / BLOCK_SIZE_BYTES;
    const ahead = this.barriersOn(blockIndex, blockCount);
    const mine = this.raiseBarrier(blockIndex, blockCount);
    try {
      if (ahead.length) await Promise.allSettled(ahead);
      let cached = false;
      for (let b = blockIndex; b < blockIndex + blockCount && !cached; b++) cached = this.loading.has(b) || (this.entry(b)?.writing ?? false);
      if (cached) this.insertBlocks(blockIndex, data, true);
      else {
        this.drop(blockIndex, blockCount); // what it replaces, clean or dirty, is stale now
        await this.backing.write(blockIndex, data);
      }
    } finally {
      mine.lower();
    }
    await this.makeRoom();
  }

  private noneCachedOrLoading(blockIndex: number, blockCount: number): boolean {
    for (let b = blockIndex; b < blockIndex + blockCount; b++) if (this.has(b) || this.loading.has(b)) return false;
    return true;
  }

  private insertBlocks(blockIndex: number, data: Uint8Array, dirty: boolean): void {
    const blockCount = data.length / BLOCK_SIZE_BYTES;
    for (let i = 0; i < blockCount; i++) this.insert(blockIndex + i, data.slice(i * BLOCK_SIZE_BYTES, (i + 1) * BLOCK_SIZE_BYTES), dirty);
    if (this.dirtyCount > this.capacityBlocks * CACHE_DIRTY_FRACTION_MAX) this.startWriteBack(Math.ceil(this.capacityBlocks * 0.1));
  }

  /** The writes ordered ahead on any of these blocks (write-arounds in flight, writes queued behind them). */
  private barriersOn(blockIndex: number, blockCount: number): readonly Promise<void>[] {
    if (this.barriers.size === 0) return NO_BARRIERS; // the usual case: no write-around in flight, nothing allocated
    const found = new Set<Promise<void>>();
    for (let b = blockIndex; b < blockIndex + blockCount; b++) {
      const p = this.barriers.get(b);
      if (p) found.add(p);
    }
    return [...found];
  }

  /** Marks these blocks as having a write ordered ahead until `lower()`. */
  private raiseBarrier(blockIndex: number, blockCount: number): { lower(): void } {
    let lower!: () => void;
    const p = new Promise<void>((resolve) => (lower = resolve));
    for (let b = blockIndex; b < blockIndex + blockCount; b++) this.barriers.set(b, p);
    return {
      lower: () => {
        for (let b = blockIndex; b < blockIndex + blockCount; b++) if (this.barriers.get(b) === p) this.barriers.delete(b);
        lower();
      },
    };
  }

  /** Forgets blocks (clean or dirty): e.g. after an allocation says their contents are garbage. */
  drop(blockIndex: number, blockCount: number): void {
    for (let b = blockIndex; b < blockIndex + blockCount; b++) {
      const e = this.entry(b);
      if (!e) continue;
      if (e.dirty) this.dirtyCount--;
      e.dirty = false;
      e.version++;
      this.a1in.delete(b);
      this.am.delete(b);
      this.unindex(b);
    }
  }

  /** Writes back every dirty block (contiguous ones merged) and waits until none is dirty; throws if a write-back fails. */
  async writeBackAll(): Promise<void> {
    if (this.barriers.size) await Promise.allSettled(new Set(this.barriers.values()));
    for (;;) {
      const mine = this.startWriteBack(Infinity);
      const inFlight = [...this.writeBacksInFlight];
      if (mine.length === 0 && inFlight.length === 0) return;
      const results = await Promise.allSettled(inFlight);
      for (let i = 0; i < inFlight.length; i++) {
        const r = results[i];
        if (r.status === 'rejected' && mine.includes(inFlight[i])) throw r.reason;
      }
    }
  }

  // ---- internals ---------------------------------------------------------------------

  private entry(blockIndex: number): Entry | undefined {
    return this.am.get(blockIndex) ?? this.a1in.get(blockIndex);
  }

  /** A hit: Am moves to MRU; A1in stays put (2Q: one more reference while still in A1in proves nothing). */
  private touch(blockIndex: number): Entry | undefined {
    const e = this.am.get(blockIndex);
    if (e) {
      this.am.delete(blockIndex);
      this.am.set(blockIndex, e);
      if (this.evictable.am.delete(blockIndex)) this.evictable.am.add(blockIndex);
      return e;
    }
    return this.a1in.get(blockIndex);
  }

  /** Puts `blockIndex` in the one index set its entry's flags and queue call for (none if not resident). */
  private index(blockIndex: number, e: Entry): void {
    if (this.entry(blockIndex) !== e) return; // dropped (and maybe replaced) while a write-back was in flight
    this.unindex(blockIndex);
    if (e.writing) return;
    if (e.dirty) this.dirtyIdle.add(blockIndex);
    else this.evictable[e.queue].add(blockIndex);
  }

  private unindex(blockIndex: number): void {
    this.evictable.a1in.delete(blockIndex);
    this.evictable.am.delete(blockIndex);
    this.dirtyIdle.delete(blockIndex);
  }

  private insert(blockIndex: number, data: Uint8Array, dirty: boolean): void {
    const e = this.entry(blockIndex);
    if (e) {
      if (dirty && !e.dirty) this.dirtyCount++;
      if (!dirty && e.dirty) this.dirtyCount--;
      e.data = data;
      e.dirty = dirty;
      e.version++;
      this.touch(blockIndex);
      this.index(blockIndex, e);
      return;
    }
    const fresh: Entry = { data, dirty, version: 0, writing: false, queue: 'a1in' };
    if (dirty) this.dirtyCount++;
    if (this.a1out.delete(blockIndex)) {
      this.counters.ghostHits++;
      fresh.queue = 'am';
      this.am.set(blockIndex, fresh);
    } else this.a1in.set(blockIndex, fresh);
    this.index(blockIndex, fresh);
  }

  /** One device read for blocks [first, first + count); one promise per block, registered so later readers share it. */
  private load(first: number, count: number): Promise<Uint8Array>[] {
    const all = this.backing.read(first, count).then((bytes) => {
      assert(bytes.length === count * BLOCK_SIZE_BYTES, `backing read of ${count} blocks returned ${bytes.length} bytes`);
      const blocks: Uint8Array[] = [];
      for (let i = 0; i < count; i++) {
        const b = first + i;
        const data = bytes.slice(i * BLOCK_SIZE_BYTES, (i + 1) * BLOCK_SIZE_BYTES);
        blocks.push(data);
        if (!this.has(b)) this.insert(b, data, false); // a write that raced the read wins
      }
      return blocks;
    });
    const perBlock: Promise<Uint8Array>[] = [];
    for (let i = 0; i < count; i++) {
      const b = first + i;
      const p = all.then((blocks) => blocks[i]);
      p.catch(() => undefined);
      this.loading.set(b, p);
      perBlock.push(p);
    }
    const done = () => {
      for (let i = 0; i < count; i++) if (this.loading.get(first + i) === perBlock[i]) this.loading.delete(first + i);
    };
    all.then(done, done);
    return perBlock;
  }

  /** Evicts clean blocks in 2Q order until under capacity; if only dirty ones are left, writes back and waits (throws if a write-back fails). */
  private async makeRoom(): Promise<void> {
    const errorsBefore = this.writeBackErrors;
    while (this.residentBlocks > this.capacityBlocks) {
      if (this.evictOne()) continue;
      this.startWriteBack(Math.max(1, this.residentBlocks - this.capacityBlocks));
      if (this.writeBacksInFlight.size === 0) return; // only blocks being loaded are left; their readers will call again
      await Promise.race([...this.writeBacksInFlight].map((p) => p.catch(() => undefined)));
      if (this.writeBackErrors !== errorsBefore) throw this.lastWriteBackError;
    }
  }

  private evictOne(): boolean {
    const order: ('a1in' | 'am')[] = this.a1in.size > this.a1inMax ? ['a1in', 'am'] : ['am', 'a1in'];
    for (const name of order) {
      const candidates = this.evictable[name];
      const b = candidates.first();
      if (b === undefined) continue;
      const queue = name === 'a1in' ? this.a1in : this.am;
      const e = queue.get(b);
      assert(e !== undefined && !e.dirty && !e.writing, `evictable block ${b} is resident, clean and idle`);
      candidates.delete(b);
      queue.delete(b);
      this.counters.evictions++;
      if (name === 'a1in') {
        this.a1out.add(b);
        if (this.a1out.size > this.a1outMax) this.a1out.delete(this.a1out.first()!);
      }
      return true;
    }
    return false;
  }

  /** Starts write-back of up to `maxBlocks` dirty blocks (oldest in eviction order first), merged into runs. */
  private startWriteBack(maxBlocks: number): Promise<void>[] {
    const started: Promise<void>[] = [];
    const chosen: number[] = [];
    for (const b of this.dirtyIdle) {
      if (chosen.length >= maxBlocks) break;
      chosen.push(b);
    }
    chosen.sort((a, b) => a - b);
    for (const run of runsOf(chosen, MERGE_BLOCKS_MAX)) {
      const entries: [number, Entry, number][] = [];
      const data = new Uint8Array(run.count * BLOCK_SIZE_BYTES);
      for (let i = 0; i < run.count; i++) {
        const e = this.entry(run.first + i)!;
        assert(e.dirty && !e.writing, `write-back candidate ${run.first + i} is dirty and idle`);
        e.writing = true;
        this.unindex(run.first + i);
        entries.push([run.first + i, e, e.version]);
        data.set(e.data, i * BLOCK_SIZE_BYTES);
      }
      const p: Promise<void> = this.backing.write(run.first, data).then(
        () => {
          for (const [b, e, version] of entries) {
            e.writing = false;
            if (e.version === version && e.dirty) {
              e.dirty = false;
              this.dirtyCount--;
            }
            this.index(b, e);
          }
          this.counters.writeBacks += run.count;
          this.writeBacksInFlight.delete(p);
        },
        (err: unknown) => {
          for (const [b, e] of entries) {
            e.writing = false;
            this.index(b, e);
          }
          this.writeBacksInFlight.delete(p);
          this.writeBackErrors++;
          this.lastWriteBackError = err;
          throw err;
        },
      );
      this.writeBacksInFlight.add(p);
      started.push(p);
      p.catch(() => undefined); // the error reaches whoever awaits writeBackAll / makeRoom
    }
    return started;
  }
}

/** Groups sorted block indexes into contiguous runs of at most `maxCount`. */
export function runsOf(sorted: number[], maxCount = Infinity): { first: number; count: number }[] {
  const runs: { first: number; count: number }[] = [];
  for (const b of sorted) {
    const last = runs[runs.length - 1];
    if (last && last.first + last.count === b && last.count < maxCount) last.count++;
    else runs.push({ first: b, count: 1 });
  }
  return runs;
}
