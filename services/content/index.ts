/**
 * The chunk index in memory: hash -> {extent, size, refcount}, rebuilt on mount by
 * replaying the content records Axiom committed, and changed afterwards only by
 * applying records after their transaction committed. It is never the source of truth:
 * the log is, and this is a function of it.
 *
 * Record rules:
 *   ChunkPut  {hash, blockIndex, blockCount, sizeBytes}: a new entry with refcount 0;
 *             the hash must not be in the index; blockCount = ceil(size / 4096); the
 *             extent lies in the data region.
 *   ChunkRef  {hash, delta}: refcount += delta; the entry exists and stays >= 0.
 *   ChunkDrop {hash}: removes an entry whose refcount is 0.
 * The store's own records are applied strictly (a break is a bug: INTEGRITY). Records
 * read from the log (replay, and ChunkRefs other clients such as the filesystem commit)
 * are applied tolerantly: a ChunkRef of an unknown chunk or below zero, a second
 * ChunkPut, a ChunkDrop of a referenced chunk, are skipped or clamped and counted as
 * anomalies (stats, mount report, fsck), because refusing to mount would lose
 * everything else; a malformed extent is still INTEGRITY.
 *
 * Besides committed state each entry carries what is in flight, so concurrent requests
 * decide against committed-plus-pending state: `pendingUp` (refs proposed, not yet
 * committed: they pin the chunk against gc), `pendingDown` (unrefs proposed: an unref
 * must leave committed - pendingDown >= 0), `dropping` (gc proposed its ChunkDrop), and
 * `readers` (gets reading its blocks: gc frees the blocks only after they finish).
 *
 * Aggregates (logical, stored, allocated bytes, orphans) are kept incrementally and
 * asserted against a full recount by `audit()`.
 */
import { BLOCK_SIZE_BYTES, CHUNK_SIZE_BYTES_MAX, HASH_SIZE_BYTES, INDEX_CHUNKS_MAX } from './limits.ts';
import { assert, contentError, hexOf } from './errors.ts';
import type { ContentRecord, Extent } from './ports.ts';

export interface ChunkEntry {
  readonly hash: Uint8Array;
  readonly blockIndex: number;
  readonly blockCount: number;
  readonly sizeBytes: number;
  refcount: number;
  pendingUp: number;
  pendingDown: number;
  dropping: boolean;
  readers: number;
  /** Called when readers drops to 0 (gc waits on it before freeing the blocks). */
  onIdle?: () => void;
}

export interface IndexTotals {
  chunkCount: number;
  orphanCount: number;
  /** Sum of sizeBytes * refcount: the bytes clients hold references to. */
  logicalBytes: number;
  /** Sum of sizeBytes over distinct chunks. */
  storedBytes: number;
  /** Blocks of the chunks' extents, in bytes. */
  allocatedBytes: number;
}

/** Marks the rule breaks that a tolerant apply may skip (not malformed extents or sizes). */
const ANOMALY = '(anomaly)';

export function blocksFor(sizeBytes: number): number {
  return Math.ceil(sizeBytes / BLOCK_SIZE_BYTES);
}

export class ContentIndex {
  private readonly entries = new Map<string, ChunkEntry>();
  private totals: IndexTotals = { chunkCount: 0, orphanCount: 0, logicalBytes: 0, storedBytes: 0, allocatedBytes: 0 };

  constructor(private readonly dataRegion: Extent) {}

  get size(): number {
    return this.entries.size;
  }

  get(hex: string): ChunkEntry | undefined {
    return this.entries.get(hex);
  }

  values(): IterableIterator<ChunkEntry> {
    return this.entries.values();
  }

  stats(): IndexTotals {
    return { ...this.totals };
  }

  anomalies = 0;
  lastAnomaly = '';

  /** Applies one committed record; `where` names it in errors (e.g. "replay record 12"). */
  apply(record: ContentRecord, where: string, strict = true): void {
    try {
      this.applyStrict(record, where);
    } catch (e) {
      if (strict || !(e instanceof Error) || !e.message.includes(ANOMALY)) throw e;
      this.anomalies++;
      this.lastAnomaly = e.message;
      this.tolerate(record);
    }
  }

  /** The tolerant reading of a record that broke a rule (see the header). */
  private tolerate(record: ContentRecord): void {
    const hex = hexOf(record.payload.hash);
    const entry = this.entries.get(hex);
    if (record.type === 'ChunkRef' && entry && record.payload.delta < 0 && entry.refcount > 0) {
      this.applyStrict({ type: 'ChunkRef', payload: { hash: record.payload.hash, delta: -entry.refcount } }, 'clamp to zero');
    } else if (record.type === 'ChunkDrop' && entry) {
      this.totals.logicalBytes -= entry.refcount * entry.sizeBytes;
      if (entry.refcount > 0) this.totals.orphanCount++;
      entry.refcount = 0;
      this.applyStrict(record, 'forced drop');
    }
  }

  private applyStrict(record: ContentRecord, where: string): void {
    const hash = record.payload.hash;
    if (!(hash instanceof Uint8Array) || hash.length !== HASH_SIZE_BYTES) throw contentError('INTEGRITY', `${where}: ${record.type} without a 32-byte hash`);
    const hex = hexOf(hash);
    const entry = this.entries.get(hex);
    switch (record.type) {
      case 'ChunkPut': {
        const { blockIndex, blockCount, sizeBytes } = record.payload;
        if (entry) throw contentError('INTEGRITY', `${where}: ChunkPut of ${hex}, which is in the index already ${ANOMALY}`);
        if (sizeBytes > CHUNK_SIZE_BYTES_MAX || blockCount !== blocksFor(sizeBytes)) {
          throw contentError('INTEGRITY', `${where}: ChunkPut of ${hex}: ${sizeBytes} bytes in ${blockCount} blocks`);
        }
        const r = this.dataRegion;
        if (blockCount > 0 && (blockIndex < r.blockIndex || blockIndex + blockCount > r.blockIndex + r.blockCount)) {
          throw contentError('INTEGRITY', `${where}: ChunkPut of ${hex}: blocks [${blockIndex}, +${blockCount}) outside the data region`);
        }
        if (this.entries.size >= INDEX_CHUNKS_MAX) throw contentError('TOOBIG', `the index holds ${INDEX_CHUNKS_MAX} chunks already`);
        this.entries.set(hex, { hash: Uint8Array.from(hash), blockIndex: blockCount > 0 ? blockIndex : 0, blockCount, sizeBytes, refcount: 0, pendingUp: 0, pendingDown: 0, dropping: false, readers: 0 });
        this.totals.chunkCount++;
        this.totals.orphanCount++;
        this.totals.storedBytes += sizeBytes;
        this.totals.allocatedBytes += blockCount * BLOCK_SIZE_BYTES;
        return;
      }
      case 'ChunkRef': {
        const delta = record.payload.delta;
        if (!entry) throw contentError('INTEGRITY', `${where}: ChunkRef of ${hex}, which is not in the index ${ANOMALY}`);
        if (!Number.isSafeInteger(delta) || delta === 0 || entry.refcount + delta < 0) {
          throw contentError('INTEGRITY', `${where}: ChunkRef ${delta} of ${hex} with refcount ${entry.refcount} ${ANOMALY}`);
        }
        if (entry.refcount === 0) this.totals.orphanCount--;
        entry.refcount += delta;
        if (entry.refcount === 0) this.totals.orphanCount++;
        this.totals.logicalBytes += delta * entry.sizeBytes;
        return;
      }
      case 'ChunkDrop': {
        if (!entry) throw contentError('INTEGRITY', `${where}: ChunkDrop of ${hex}, which is not in the index ${ANOMALY}`);
        if (entry.refcount !== 0) throw contentError('INTEGRITY', `${where}: ChunkDrop of ${hex} with refcount ${entry.refcount} ${ANOMALY}`);
        this.entries.delete(hex);
        this.totals.chunkCount--;
        this.totals.orphanCount--;
        this.totals.storedBytes -= entry.sizeBytes;
        this.totals.allocatedBytes -= entry.blockCount * BLOCK_SIZE_BYTES;
        return;
      }
      default:
        throw contentError('INTEGRITY', `${where}: unknown content record ${(record as { type: string }).type}`);
    }
  }

  /** Chunk extents sorted by block; INTEGRITY if two chunks share a block. */
  extentsChecked(): Extent[] {
    const extents: Extent[] = [];
    for (const e of this.entries.values()) if (e.blockCount > 0) extents.push({ blockIndex: e.blockIndex, blockCount: e.blockCount });
    extents.sort((a, b) => a.blockIndex - b.blockIndex);
    for (let i = 1; i < extents.length; i++) {
      const prev = extents[i - 1];
      if (prev.blockIndex + prev.blockCount > extents[i].blockIndex) {
        throw contentError('INTEGRITY', `two chunks share blocks: [${prev.blockIndex}, +${prev.blockCount}) and [${extents[i].blockIndex}, +${extents[i].blockCount})`);
      }
    }
    return extents;
  }

  /** Recounts every aggregate and checks the incremental ones and the pending counters. */
  audit(): void {
    const t: IndexTotals = { chunkCount: 0, orphanCount: 0, logicalBytes: 0, storedBytes: 0, allocatedBytes: 0 };
    for (const e of this.entries.values()) {
      assert(e.refcount >= 0 && e.pendingUp >= 0 && e.pendingDown >= 0 && e.readers >= 0, `counters of ${hexOf(e.hash)} are not negative`);
      assert(e.pendingDown <= e.refcount, `pending unrefs of ${hexOf(e.hash)} within its refcount`);
      t.chunkCount++;
      if (e.refcount === 0) t.orphanCount++;
      t.logicalBytes += e.refcount * e.sizeBytes;
      t.storedBytes += e.sizeBytes;
      t.allocatedBytes += e.blockCount * BLOCK_SIZE_BYTES;
    }
    assert(JSON.stringify(t) === JSON.stringify(this.totals), `index totals ${JSON.stringify(this.totals)} match a recount ${JSON.stringify(t)}`);
  }
}
