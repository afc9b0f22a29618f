/**
 * The content store: chunks named by their BLAKE3 hash, stored once, with reference
 * counts, over a BlockPort and a MetaLog (ports.ts). service.ts is this plus messages.
 *
 * put / putMany(chunks) -> hashes. Each chunk gains one reference. A chunk already in
 * the index costs one ChunkRef record and no I/O. A new one is written to fresh blocks
 * from the pool (never a live block), the blocks are flushed, and only then does one
 * transaction commit its ChunkPut and ChunkRef:
 *
 *   COMMIT POINT: the Axiom commit of the transaction holding the chunk's ChunkPut. Before
 *   it, the chunk does not exist (its blocks are leftovers the mount scan frees); after
 *   it, its bytes are durable, because they were flushed before the proposal was made.
 *
 * In-flight dedup: while a new chunk is being written and committed its hash is in
 * `inflight`; a concurrent put of the same bytes waits for that commit and then only
 * adds a reference, so two clients putting the same chunk at once store it once.
 *
 * get(hash) reads the extent and verifies the bytes against the hash on every read: a
 * mismatch is INTEGRITY naming the hash and the blocks, never wrong data.
 * ref/unref(hashes) commit ChunkRef +1/-1. The in-memory index changes only after a
 * commit; decisions use committed plus pending counts (index.ts), so the log never holds
 * a refcount below zero or a reference to a dropped chunk, in any interleaving.
 * gc and the mount scan are in gc.ts.
 *
 * A commit whose outcome is unknown (Axiom EIO, a timeout, a stopped service) puts the
 * store in the FAILED state: reads go on, updates are refused until remount, because
 * only replay can say what the log holds.
 */
import { hashChunk, blake3Implementation } from './hash.ts';
import { assert, contentError, hexOf } from './errors.ts';
import { blocksFor, ContentIndex, type ChunkEntry } from './index.ts';
import { BlockPool } from './pool.ts';
import { LogApplier } from './applier.ts';
import type { ContentImageRef } from './image.ts';
import { writeChunks } from './writer.ts';
import type { BlockPort, CommitSeqs, ContentRecord, Extent, MetaLog } from './ports.ts';
import { BLOCK_SIZE_BYTES, CHUNK_SIZE_BYTES_MAX, HASH_SIZE_BYTES, PUT_LEASE_MS, RECORDS_PER_TRANSACTION_MAX } from './limits.ts';
import { DEFAULT_FASTCDC, type ChunkingConfig } from './chunker.ts';

export interface StoreOptions {
  chunking?: ChunkingConfig;
  /** Free data blocks allocated but referenced by no chunk at mount (default true). */
  reclaimLeftovers?: boolean;
  /** The clock leases run on (the service passes ctx.clock); without one leases never expire. */
  nowMs?: () => number;
}

export interface PutOptions {
  /** Take one reference per chunk (default). Without: the caller commits its own ChunkRef records (in its transaction) and the chunk is leased against gc meanwhile. */
  ref?: boolean;
  /**
   * The caller hands over bytes nobody else holds or will change (the service's private
   * copy of message or granted input): they were hashed here once and are not hashed
   * again as they are staged (writer.ts). Default false: an in-process caller's array may
   * change between put and write, so it is checked again.
   */
  owned?: boolean;
}

export interface ChunkStat {
  hash: Uint8Array;
  sizeBytes: number;
  refcount: number;
  blockIndex: number;
  blockCount: number;
}

export interface StoreCounters {
  chunksPut: number;
  chunksNew: number;
  /** Distinct chunks of a put found stored already (after waiting, for the in-flight ones). */
  dedupHits: number;
  /** ... of which a concurrent put was still writing and committing when this one came. */
  inflightDedupHits: number;
  gets: number;
  integrityErrors: number;
  gcRuns: number;
  sweptChunks: number;
  sweptBlocks: number;
  leftoverBlocksFreed: number;
}

interface Want {
  hex: string;
  hash: Uint8Array;
  bytes: Uint8Array;
  count: number;
}

interface Txn {
  records: ContentRecord[];
  fresh: Want[];
  refs: Want[];
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(e: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void, reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  promise.catch(() => undefined); // waiters handle it; an unwatched rejection is not a crash
  return { promise, resolve, reject };
}

export function checkHash(hash: unknown, what = 'hash'): Uint8Array {
  if (!(hash instanceof Uint8Array) || hash.length !== HASH_SIZE_BYTES) throw contentError('BADMSG', `${what} must be ${HASH_SIZE_BYTES} bytes`);
  return hash;
}

export class ContentStore {
  readonly index: ContentIndex;
  readonly pool: BlockPool;
  readonly chunking: ChunkingConfig;
  readonly counters: StoreCounters = {
    chunksPut: 0, chunksNew: 0, dedupHits: 0, inflightDedupHits: 0, gets: 0, integrityErrors: 0,
    gcRuns: 0, sweptChunks: 0, sweptBlocks: 0, leftoverBlocksFreed: 0,
  };
  /** New chunks being written and committed, by hash. */
  readonly inflight = new Map<string, Deferred>();
  /** Chunks whose ChunkDrop is being committed, by hash (gc.ts). */
  readonly drops = new Map<string, Promise<void>>();
  /** Chunks put without a reference, kept from gc until this time (ms on `nowMs`). */
  readonly leases = new Map<string, number>();
  readonly applier: LogApplier;
  /** The index image the newest checkpoint names (image.ts), if any. */
  image: ContentImageRef | undefined;
  readonly nowMs: () => number;
  failure: Error | null = null;

  constructor(
    readonly blocks: BlockPort,
    readonly log: MetaLog,
    options: StoreOptions = {},
  ) {
    assert(blocks.blockSizeBytes === BLOCK_SIZE_BYTES, `block size ${blocks.blockSizeBytes} is ${BLOCK_SIZE_BYTES}`);
    this.index = new ContentIndex(blocks.dataRegion);
    this.pool = new BlockPool(blocks);
    this.chunking = options.chunking ?? DEFAULT_FASTCDC;
    this.nowMs = options.nowMs ?? (() => 0);
    this.applier = new LogApplier(log, this.index, (e) => {
      this.failure ??= e instanceof Error ? e : new Error(String(e));
    });
  }

  get hashName(): string {
    return blake3Implementation();
  }

  checkWritable(): void {
    if (this.failure) throw contentError('FAILED', `an earlier commit ended with an unknown outcome (${this.failure.message}); remount to recover`);
  }

  /** Commits one transaction; resolves once the index has applied it (applier.ts). */
  commit(records: ContentRecord[]): Promise<CommitSeqs> {
    return this.applier.commit(records);
  }

  /** True while a chunk put without a reference is kept from gc. */
  leased(hex: string): boolean {
    const until = this.leases.get(hex);
    if (until === undefined) return false;
    if (until > this.nowMs()) return true;
    this.leases.delete(hex);
    return false;
  }

  // ---- put --------------------------------------------------------------------------

  async put(bytes: Uint8Array, options: PutOptions = {}): Promise<Uint8Array> {
    return (await this.putMany([bytes], options)).hashes[0];
  }

  async putMany(chunks: Uint8Array[], options: PutOptions = {}): Promise<{ hashes: Uint8Array[]; newChunks: number; newBytes: number }> {
    const ref = options.ref ?? true;
    this.checkWritable();
    for (const [i, c] of chunks.entries()) {
      if (!(c instanceof Uint8Array)) throw contentError('BADMSG', `chunk ${i} is not bytes`);
      if (c.length > CHUNK_SIZE_BYTES_MAX) throw contentError('TOOBIG', `chunk ${i} of ${c.length} bytes exceeds ${CHUNK_SIZE_BYTES_MAX}`);
    }
    const hashes = chunks.map((c) => hashChunk(c));
    const wants = new Map<string, Want>();
    hashes.forEach((hash, i) => {
      const hex = hexOf(hash);
      const w = wants.get(hex);
      if (w) w.count += ref ? 1 : 0;
      else wants.set(hex, { hex, hash, bytes: chunks[i], count: ref ? 1 : 0 });
      if (!ref) this.leases.set(hex, this.nowMs() + PUT_LEASE_MS);
    });
    this.counters.chunksPut += chunks.length;
    let newChunks = 0, newBytes = 0;
    let todo = [...wants.values()];
    for (let round = 0; todo.length > 0; round++) {
      assert(round < 1000, 'put makes progress');
      const refs: Want[] = [], fresh: Want[] = [], later: Want[] = [], waits: Promise<unknown>[] = [];
      for (const w of todo) {
        const e = this.index.get(w.hex);
        if (e && !e.dropping) {
          e.pendingUp += w.count; // pins it against gc until the ref commits
          refs.push(w);
          continue;
        }
        const wait = this.inflight.get(w.hex)?.promise ?? this.drops.get(w.hex);
        if (wait) {
          if (this.inflight.has(w.hex)) this.counters.inflightDedupHits++;
          waits.push(wait.catch(() => undefined));
          later.push(w);
          continue;
        }
        this.inflight.set(w.hex, deferred());
        fresh.push(w);
      }
      this.counters.dedupHits += refs.length;
      await this.storeAndCommit(fresh, refs, options.owned ?? false);
      newChunks += fresh.length;
      newBytes += fresh.reduce((n, w) => n + w.bytes.length, 0);
      if (later.length) await Promise.all(waits);
      todo = later;
      if (todo.length) this.checkWritable();
    }
    this.counters.chunksNew += newChunks;
    return { hashes, newChunks, newBytes };
  }

  /** Writes the fresh chunks, flushes, then commits their records and the refs; applies them after. */
  private async storeAndCommit(fresh: Want[], refs: Want[], owned: boolean): Promise<void> {
    const placed = new Map<string, Extent>();
    try {
      await writeChunks(this.blocks, this.pool, fresh, placed, { recheck: !owned });
    } catch (e) {
      this.abandon(fresh, refs, placed, e); // nothing was proposed
      throw e;
    }
    const txns: Txn[] = [];
    let cur: Txn = { records: [], fresh: [], refs: [] };
    const room = (n: number) => {
      if (cur.records.length + n > RECORDS_PER_TRANSACTION_MAX) (txns.push(cur), (cur = { records: [], fresh: [], refs: [] }));
    };
    for (const w of fresh) {
      room(2); // a chunk's ChunkPut and its first ChunkRef always share a transaction
      const x = placed.get(w.hex)!;
      cur.records.push({ type: 'ChunkPut', payload: { hash: w.hash, blockIndex: x.blockIndex, blockCount: x.blockCount, sizeBytes: w.bytes.length } });
      if (w.count > 0) cur.records.push({ type: 'ChunkRef', payload: { hash: w.hash, delta: w.count } });
      cur.fresh.push(w);
    }
    for (const w of refs) {
      if (w.count === 0) continue; // put without a reference of a stored chunk: nothing to commit
      room(1);
      cur.records.push({ type: 'ChunkRef', payload: { hash: w.hash, delta: w.count } });
      cur.refs.push(w);
    }
    if (cur.records.length || cur.refs.length) txns.push(cur);
    const outcomes = await Promise.allSettled(txns.map((t) => (t.records.length ? this.commit(t.records) : Promise.resolve())));
    let firstError: unknown;
    outcomes.forEach((o, i) => {
      if (o.status === 'fulfilled') return this.applyTxn(txns[i]);
      firstError ??= o.reason;
      this.abandon(txns[i].fresh, txns[i].refs, placed, o.reason);
    });
    if (firstError !== undefined) throw firstError;
  }

  /** Undoes the pending state of work that did not commit; its blocks go back to the pool unless the outcome is unknown. */
  private abandon(fresh: Want[], refs: Want[], placed: Map<string, Extent>, reason: unknown): void {
    for (const w of refs) {
      const e = this.index.get(w.hex);
      assert(e && e.pendingUp >= w.count, `pending refs of ${w.hex} to roll back`);
      e.pendingUp -= w.count;
    }
    for (const w of fresh) {
      this.inflight.get(w.hex)?.reject(reason);
      this.inflight.delete(w.hex);
      const x = placed.get(w.hex);
      if (x && x.blockCount > 0 && !this.failure) this.pool.give(x);
    }
  }

  /** After a commit (the applier has applied it to the index): pins are released, waiters wake. */
  private applyTxn(t: Txn): void {
    for (const w of t.refs) this.index.get(w.hex)!.pendingUp -= w.count;
    for (const w of t.fresh) if (!this.index.get(w.hex)) this.failure ??= new Error(`chunk ${w.hex} committed but not in the index`);
    for (const w of t.fresh) {
      const d = this.inflight.get(w.hex)!;
      this.inflight.delete(w.hex);
      if (this.failure) d.reject(this.failure);
      else d.resolve();
    }
  }

  // ---- read -------------------------------------------------------------------------

  has(hash: Uint8Array): boolean {
    return this.index.get(hexOf(checkHash(hash))) !== undefined;
  }

  stat(hash: Uint8Array): ChunkStat {
    const e = this.entryOf(hash);
    return { hash: Uint8Array.from(e.hash), sizeBytes: e.sizeBytes, refcount: e.refcount, blockIndex: e.blockIndex, blockCount: e.blockCount };
  }

  private entryOf(hash: Uint8Array): ChunkEntry {
    const hex = hexOf(checkHash(hash));
    const e = this.index.get(hex);
    if (!e) throw contentError('NOTFOUND', `no chunk ${hex}`);
    return e;
  }

  async get(hash: Uint8Array): Promise<Uint8Array> {
    const e = this.entryOf(hash);
    this.counters.gets++;
    if (e.sizeBytes === 0) return new Uint8Array(0);
    e.readers++;
    try {
      const raw = await this.blocks.read(e.blockIndex, e.blockCount);
      assert(raw.length === e.blockCount * BLOCK_SIZE_BYTES, `read of ${e.blockCount} blocks returned ${raw.length} bytes`);
      const bytes = raw.subarray(0, e.sizeBytes);
      const got = hashChunk(bytes);
      if (hexOf(got) !== hexOf(e.hash)) {
        this.counters.integrityErrors++;
        throw contentError('INTEGRITY', `chunk ${hexOf(e.hash)} at blocks [${e.blockIndex}, +${e.blockCount}): the ${e.sizeBytes} bytes read back hash to ${hexOf(got)}`);
      }
      return bytes;
    } finally {
      if (--e.readers === 0) e.onIdle?.();
    }
  }

  // ---- references -------------------------------------------------------------------

  /** Adds one reference per hash (repeats count); NOTFOUND if one is not stored (nothing is changed). */
  async ref(hashes: Uint8Array[]): Promise<void> {
    this.checkWritable();
    for (;;) {
      const counts = countHashes(hashes);
      const waits: Promise<unknown>[] = [];
      for (const hex of counts.keys()) {
        const wait = this.inflight.get(hex)?.promise;
        if (wait) waits.push(wait.catch(() => undefined));
        else if (!this.index.get(hex) || this.index.get(hex)!.dropping) throw contentError('NOTFOUND', `no chunk ${hex}`);
      }
      if (waits.length) {
        await Promise.all(waits);
        this.checkWritable();
        continue;
      }
      return this.commitDeltas(counts, +1);
    }
  }

  /** Drops one reference per hash; REFCOUNT if that would take a chunk below zero (nothing is changed). */
  async unref(hashes: Uint8Array[]): Promise<void> {
    this.checkWritable();
    const counts = countHashes(hashes);
    await this.applier.catchUp(); // releases other clients committed count against the limit too
    this.checkWritable();
    for (const [hex, n] of counts) {
      const e = this.index.get(hex);
      if (!e) throw contentError('NOTFOUND', `no chunk ${hex}`);
      if (e.refcount - e.pendingDown < n) throw contentError('REFCOUNT', `chunk ${hex} has ${e.refcount - e.pendingDown} references to release, not ${n}`);
    }
    return this.commitDeltas(counts, -1);
  }

  private async commitDeltas(counts: Map<string, number>, sign: 1 | -1): Promise<void> {
    const entries = [...counts].map(([hex, n]) => ({ e: this.index.get(hex)!, n }));
    for (const { e, n } of entries) sign > 0 ? (e.pendingUp += n) : (e.pendingDown += n);
    const batches: (typeof entries)[] = [];
    for (let i = 0; i < entries.length; i += RECORDS_PER_TRANSACTION_MAX) batches.push(entries.slice(i, i + RECORDS_PER_TRANSACTION_MAX));
    const outcomes = await Promise.allSettled(
      batches.map(async (batch) => {
        const records: ContentRecord[] = batch.map(({ e, n }) => ({ type: 'ChunkRef', payload: { hash: e.hash, delta: sign * n } }));
        try {
          await this.commit(records);
        } finally {
          for (const { e, n } of batch) sign > 0 ? (e.pendingUp -= n) : (e.pendingDown -= n);
        }
      }),
    );
    const failed = outcomes.find((o) => o.status === 'rejected');
    if (failed) throw failed.reason;
  }

  // ---- reporting --------------------------------------------------------------------

  stats() {
    const t = this.index.stats();
    return {
      ...t,
      dedupRatio: t.storedBytes === 0 ? 1 : t.logicalBytes / t.storedBytes,
      poolBlocks: this.pool.blocks,
      imageBlocks: this.image ? this.image.extents.reduce((n, e) => n + e.blockCount, 0) : 0,
      inflightChunks: this.inflight.size,
      failed: this.failure?.message ?? null,
      appliedSeq: this.applier.appliedSeq,
      anomalies: this.index.anomalies,
      leases: this.leases.size,
      hash: this.hashName,
      chunking: this.chunking,
      counters: { ...this.counters },
    };
  }
}

export type ContentStats = ReturnType<ContentStore['stats']>;

function countHashes(hashes: Uint8Array[]): Map<string, number> {
  const counts = new Map<string, number>();
  hashes.forEach((h, i) => {
    const hex = hexOf(checkHash(h, `hashes[${i}]`));
    counts.set(hex, (counts.get(hex) ?? 0) + 1);
  });
  return counts;
}
