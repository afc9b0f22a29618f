/**
 * The content store, rebuilt offline the way its mount does it (services/content/gc.ts):
 * the index image the newest checkpoint names, then every content record after it,
 * applied by the index's own rules (tolerantly, as replay does: a record that breaks a
 * rule is counted as an anomaly). Then the scrub: every chunk's blocks read and
 * re-hashed with BLAKE3.
 *
 * What a refcount means: the number of committed ChunkRef deltas, which the filesystem
 * commits one per (inode, page) that names the chunk (services/fs/state.ts); snapshots
 * take none (their chunks are kept by gc roots). refs.ts compares the two.
 */
import { ContentIndex, type ChunkEntry } from '../../services/content/index.ts';
import { loadIndexImage, type ContentImageRef } from '../../services/content/image.ts';
import { hashChunk } from '../../services/content/hash.ts';
import { hexOf } from '../../services/content/errors.ts';
import type { ContentRecord } from '../../services/content/ports.ts';
import type { LogRecord } from '../../axiom/records.ts';
import { BLOCK_SIZE_BYTES, type ImageView } from './block.ts';
import type { AxiomView } from './axiom.ts';
import type { Findings } from './report.ts';

const CONTENT_TYPES = new Set(['ChunkPut', 'ChunkRef', 'ChunkDrop']);

export interface ContentView {
  index: ContentIndex;
  /** Hex hashes of chunks whose bytes do not hash to their name, or cannot be read. */
  badChunks: Set<string>;
  /** Of those, the ones the disk failed to read, with the error. */
  unreadable: Map<string, string>;
  /** A chunk's bytes read again, or undefined if it is not stored or failed the scrub (never unverified bytes). */
  read(hash: Uint8Array): Promise<Uint8Array | undefined>;
}

export function isContentRecord(r: LogRecord): boolean {
  return CONTENT_TYPES.has(r.type);
}

/** Reads an extent list's bytes through the view. */
export async function readExtents(view: ImageView, extents: { blockIndex: number; blockCount: number }[], sizeBytes: number): Promise<Uint8Array> {
  const total = extents.reduce((n, e) => n + e.blockCount, 0);
  if (!Number.isSafeInteger(total) || total * BLOCK_SIZE_BYTES < sizeBytes || total > view.layout.blockCount) throw new Error(`${sizeBytes} bytes do not fit ${total} blocks`);
  const out = new Uint8Array(total * BLOCK_SIZE_BYTES);
  let at = 0;
  for (const e of extents) {
    if (e.blockIndex < 0 || e.blockIndex + e.blockCount > view.layout.blockCount) throw new Error(`extent [${e.blockIndex}, +${e.blockCount}) lies outside the image`);
    out.set(await view.read(e.blockIndex, e.blockCount), at * BLOCK_SIZE_BYTES);
    at += e.blockCount;
  }
  return out.subarray(0, sizeBytes);
}

export async function checkContent(view: ImageView, axiom: AxiomView, f: Findings): Promise<ContentView | undefined> {
  const index = new ContentIndex(view.layout.data);
  const ref = (axiom.checkpointImage as { content?: ContentImageRef } | null | undefined)?.content;
  if (axiom.checkpointSeq > 0) {
    if (!ref || !Array.isArray(ref.extents)) {
      f.problem('content', 'index-image-missing', 'checkpoint', `the checkpoint at seq ${axiom.checkpointSeq} names no content index image`);
      return undefined;
    }
    try {
      const bytes = await readExtents(view, ref.extents, ref.sizeBytes);
      const got = hexOf(hashChunk(bytes));
      if (got !== ref.check) throw new Error(`its bytes hash to ${got}, not ${ref.check}`);
      loadIndexImage(index, bytes);
    } catch (e) {
      f.problem('content', 'index-image-damaged', 'checkpoint', `the content index image in blocks ${JSON.stringify(ref.extents)} is damaged: ${(e as Error).message}`);
      return undefined;
    }
  }
  for (const r of axiom.records) {
    if (!isContentRecord(r)) continue;
    try {
      index.apply({ type: r.type, payload: r.payload } as ContentRecord, `log record ${r.seq}`, false);
    } catch (e) {
      f.problem('content', 'bad-record', `seq ${r.seq}`, `log record ${r.seq} (${r.type}) cannot be applied: ${(e as Error).message}`);
    }
  }
  if (index.anomalies > 0) f.note('content', `${index.anomalies} log record(s) broke a refcount rule and were tolerated as replay does (last: ${index.lastAnomaly}); the refcount check below compares the result`);
  try {
    index.extentsChecked();
  } catch (e) {
    f.problem('content', 'shared-blocks', 'extents', (e as Error).message);
  }
  // Scrub.
  const badChunks = new Set<string>();
  const unreadable = new Map<string, string>();
  let scrubbedBytes = 0;
  for (const e of index.values()) {
    const hex = hexOf(e.hash);
    let bytes: Uint8Array;
    try {
      bytes = await chunkBytes(view, e);
    } catch (err) {
      badChunks.add(hex);
      unreadable.set(hex, (err as Error).message);
      continue;
    }
    scrubbedBytes += e.sizeBytes;
    if (hexOf(hashChunk(bytes)) !== hex) badChunks.add(hex);
  }
  f.count('chunks', index.size);
  f.count('chunk bytes re-hashed', scrubbedBytes);
  return {
    index,
    badChunks,
    unreadable,
    read: async (hash) => {
      const hex = hexOf(hash);
      const e = index.get(hex);
      if (!e || badChunks.has(hex)) return undefined;
      const bytes = await chunkBytes(view, e).catch(() => undefined);
      return bytes && hexOf(hashChunk(bytes)) === hex ? bytes : undefined; // verified on every read, as the store's get
    },
  };
}

export async function chunkBytes(view: ImageView, e: Pick<ChunkEntry, 'blockIndex' | 'blockCount' | 'sizeBytes'>): Promise<Uint8Array> {
  if (e.sizeBytes === 0) return new Uint8Array(0);
  return (await view.read(e.blockIndex, e.blockCount)).subarray(0, e.sizeBytes);
}
