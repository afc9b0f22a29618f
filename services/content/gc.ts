/**
 * Mount, garbage collection and the leftover scan.
 *
 * mount(blocks, log): loads the content index image of the newest checkpoint (if any,
 * image.ts), replays every committed content record after it (index.ts rules), checks that chunk
 * extents lie in the data region and never share a block (and reports any the bitmap
 * shows free), then frees
 * every allocated data block no chunk references: blocks a crash left between
 * `allocate` and the ChunkPut commit (pool blocks, chunks whose commit never happened),
 * between a ChunkDrop commit and its `free`, and index images no checkpoint names.
 * Blocks named anywhere in the checkpoint image (other sections' images, their pending
 * frees) belong to their owners and are left alone.
 *
 * gc(roots): mark and sweep, after applying everything committed so far (other clients'
 * ChunkRefs included). Live = refcount > 0 (a committed record references it), or named
 * in `roots` (the caller's reachable set: the live tree, every snapshot, and chunks it
 * has put but not yet referenced), or pinned (a ref in flight, a put being committed, a
 * lease of a put without a reference). Everything else is swept in two steps:
 *
 *   1. COMMIT POINT: the Axiom transaction of its ChunkDrop records. Before it the chunk
 *      is fully there; after it the index has forgotten it.
 *   2. Its blocks are freed (after any get still reading them finishes).
 *
 * A crash between 1 and 2 leaves allocated, unreferenced blocks: the next mount frees
 * them. A crash before 1 leaves the chunk as it was. So an interrupted gc leaves a
 * consistent store, and gc never frees a chunk a committed record references (its
 * refcount is > 0, and a ref that might commit pins it until it has).
 * One gc runs at a time; puts of a chunk being swept wait and then store it afresh.
 */
import { assert, contentError, hexOf } from './errors.ts';
import { isCode } from '../../kernel/errors.ts';
import { ContentStore, checkHash, type StoreOptions } from './store.ts';
import type { BlockPort, ContentRecord, Extent, MetaLog } from './ports.ts';
import type { ChunkEntry } from './index.ts';
import { extentsIn, loadIndexImage, readIndexImage, type ContentImageRef } from './image.ts';
import { EXTENTS_PER_FREE_MAX, RECORDS_PER_TRANSACTION_MAX } from './limits.ts';

export interface MountReport {
  /** What the mount found wrong but could serve around (empty in a healthy store). */
  problems: string[];
  replayedRecords: number;
  /** Records that broke a rule and were skipped or clamped (index.ts); 0 in a healthy store. */
  anomalies: number;
  chunks: number;
  leftoverExtents: number;
  leftoverBlocks: number;
  reclaimed: boolean;
}

export interface GcReport {
  sweptChunks: number;
  sweptBytes: number;
  freedBlocks: number;
  /** Orphans (refcount 0) kept because a root names them. */
  keptByRoots: number;
  /** Roots that name no chunk in the index. */
  missingRoots: number;
  liveChunks: number;
}

export async function mountStore(blocks: BlockPort, log: MetaLog, options: StoreOptions = {}): Promise<{ store: ContentStore; report: MountReport }> {
  const store = new ContentStore(blocks, log, options);
  // From the newest checkpoint's index image, if there is one; then the records after it.
  const cp = await log.checkpoint();
  const owned: Extent[] = [];
  if (cp) {
    const ref = (cp.image as { content?: ContentImageRef } | null)?.content;
    if (!ref || !Array.isArray(ref.extents)) throw contentError('NOTMOUNTED', `the checkpoint at seq ${cp.seq} carries no content index image; the index before it is lost`);
    const imageSeq = loadIndexImage(store.index, await readIndexImage(store, ref));
    if (imageSeq > cp.seq) throw contentError('INTEGRITY', `the index image is at seq ${imageSeq}, after its checkpoint ${cp.seq}`);
    store.image = ref;
    store.applier.startAt(cp.seq);
    owned.push(...extentsIn(cp.image)); // the image blocks of every section (ours too) are not leftovers
  }
  const replayedRecords = await store.applier.replay();
  store.index.audit();
  const used = mergeExtents([...store.index.extentsChecked(), ...owned]);
  const allocated = mergeExtents(await blocks.allocatedExtents());
  const leftovers = subtractExtents(allocated, used);
  // Chunk blocks the bitmap shows free: a stale bitmap read (see freeLeftovers) or a real
  // loss. Reported, not fatal: a chunk whose blocks were reused fails its hash on read
  // (INTEGRITY), never returns wrong data.
  const problems: string[] = [];
  const unallocated = subtractExtents(store.index.extentsChecked(), allocated);
  if (unallocated.length > 0) {
    const x = unallocated[0];
    problems.push(`chunk blocks [${x.blockIndex}, +${x.blockCount}) and ${unallocated.length - 1} more runs show as free in the bitmap`);
  }
  const leftoverBlocks = leftovers.reduce((n, e) => n + e.blockCount, 0);
  const reclaim = options.reclaimLeftovers ?? true;
  if (reclaim) await freeLeftovers(blocks, leftovers);
  store.counters.leftoverBlocksFreed += reclaim ? leftoverBlocks : 0;
  return { store, report: { problems, replayedRecords, anomalies: store.index.anomalies, chunks: store.index.size, leftoverExtents: leftovers.length, leftoverBlocks, reclaimed: reclaim } };
}

const gcQueue = new WeakMap<ContentStore, Promise<unknown>>();

/** Runs one gc; a gc asked for while another runs starts after it. */
export function runGc(store: ContentStore, roots: Uint8Array[]): Promise<GcReport> {
  const prev = gcQueue.get(store) ?? Promise.resolve();
  const next = prev.catch(() => undefined).then(() => {
    store.checkWritable();
    return sweep(store, roots);
  });
  gcQueue.set(store, next);
  return next;
}

async function sweep(store: ContentStore, roots: Uint8Array[]): Promise<GcReport> {
  // Mark against everything committed so far, other clients' references included.
  await store.applier.catchUp();
  store.checkWritable();
  for (const hex of [...store.leases.keys()]) store.leased(hex); // drops the expired ones
  const keep = new Set(roots.map((r, i) => hexOf(checkHash(r, `roots[${i}]`))));
  let missingRoots = 0;
  for (const hex of keep) if (!store.index.get(hex)) missingRoots++;
  // Mark: everything referenced, pinned, or named by a root; the rest are victims.
  const victims = [];
  let keptByRoots = 0;
  for (const e of store.index.values()) {
    if (!isVictim(store, e)) continue;
    if (keep.has(hexOf(e.hash))) {
      keptByRoots++;
      continue;
    }
    victims.push(e);
  }
  store.counters.gcRuns++;
  let sweptChunks = 0, sweptBytes = 0, freedBlocks = 0;
  for (let i = 0; i < victims.length; i += RECORDS_PER_TRANSACTION_MAX) {
    // Re-check at the batch: a put or ref may have pinned a victim while earlier batches committed.
    const batch = victims.slice(i, i + RECORDS_PER_TRANSACTION_MAX).filter((e) => isVictim(store, e));
    if (batch.length === 0) continue;
    let release!: () => void;
    const done = new Promise<void>((r) => (release = r));
    for (const e of batch) {
      e.dropping = true;
      store.drops.set(hexOf(e.hash), done);
    }
    const records: ContentRecord[] = batch.map((e) => ({ type: 'ChunkDrop', payload: { hash: e.hash } }));
    try {
      await store.commit(records); // the applier has removed them from the index on return
    } catch (e) {
      if (!store.failure) for (const v of batch) v.dropping = false; // certainly not committed
      throw e;
    } finally {
      for (const v of batch) store.drops.delete(hexOf(v.hash));
      release();
    }
    // The index has forgotten them; free their blocks once no get is still reading them.
    await Promise.all(batch.map((e) => (e.readers === 0 ? undefined : new Promise<void>((r) => (e.onIdle = r)))));
    const extents = batch.filter((e) => e.blockCount > 0).map((e) => ({ blockIndex: e.blockIndex, blockCount: e.blockCount }));
    await freeAll(store.blocks, extents);
    sweptChunks += batch.length;
    sweptBytes += batch.reduce((n, e) => n + e.sizeBytes, 0);
    freedBlocks += extents.reduce((n, e) => n + e.blockCount, 0);
  }
  store.counters.sweptChunks += sweptChunks;
  store.counters.sweptBlocks += freedBlocks;
  return { sweptChunks, sweptBytes, freedBlocks, keptByRoots, missingRoots, liveChunks: store.index.size };
}

function isVictim(store: ContentStore, e: ChunkEntry): boolean {
  const hex = hexOf(e.hash);
  if (e.refcount > 0 || e.pendingUp > 0 || e.dropping || store.index.get(hex) !== e) return false;
  if (store.inflight.has(hex) || store.leased(hex)) return false;
  assert(e.pendingDown === 0, 'no unref pending on a chunk without references');
  return true;
}

/**
 * Frees leftovers, tolerating NOTALLOCATED: the bitmap as read through the block protocol
 * can be stale (the block service's cache keeps a bitmap block it served before, and
 * allocation commits do not refresh it), so a run it shows allocated may be free already.
 */
async function freeLeftovers(blocks: BlockPort, extents: Extent[]): Promise<void> {
  for (let i = 0; i < extents.length; i += EXTENTS_PER_FREE_MAX) {
    const batch = extents.slice(i, i + EXTENTS_PER_FREE_MAX);
    try {
      await blocks.free(batch);
    } catch (e) {
      if (!isCode(e, 'NOTALLOCATED')) throw e;
      for (const x of batch) await blocks.free([x]).catch((e2: unknown) => {
        if (!isCode(e2, 'NOTALLOCATED')) throw e2;
      });
    }
  }
}

async function freeAll(blocks: BlockPort, extents: Extent[]): Promise<void> {
  for (let i = 0; i < extents.length; i += EXTENTS_PER_FREE_MAX) await blocks.free(extents.slice(i, i + EXTENTS_PER_FREE_MAX));
}

/** Sorted, with touching or overlapping extents merged. */
export function mergeExtents(extents: Extent[]): Extent[] {
  const sorted = extents.filter((e) => e.blockCount > 0).sort((a, b) => a.blockIndex - b.blockIndex);
  const out: Extent[] = [];
  for (const e of sorted) {
    const last = out[out.length - 1];
    if (last && e.blockIndex <= last.blockIndex + last.blockCount) {
      last.blockCount = Math.max(last.blockCount, e.blockIndex + e.blockCount - last.blockIndex);
    } else out.push({ blockIndex: e.blockIndex, blockCount: e.blockCount });
  }
  return out;
}

/** The blocks of `from` that are in no extent of `minus` (both sorted and disjoint within themselves). */
export function subtractExtents(from: Extent[], minus: Extent[]): Extent[] {
  const out: Extent[] = [];
  const m = mergeExtents(minus);
  let j = 0;
  for (const e of mergeExtents(from)) {
    let at = e.blockIndex;
    const end = e.blockIndex + e.blockCount;
    while (j < m.length && m[j].blockIndex + m[j].blockCount <= at) j++;
    for (let k = j; k < m.length && m[k].blockIndex < end; k++) {
      if (m[k].blockIndex > at) out.push({ blockIndex: at, blockCount: m[k].blockIndex - at });
      at = Math.max(at, m[k].blockIndex + m[k].blockCount);
    }
    if (at < end) out.push({ blockIndex: at, blockCount: end - at });
  }
  return out;
}
