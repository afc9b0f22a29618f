/**
 * The content index image: the whole index at one log position, written to blocks of
 * its own and named by the Axiom checkpoint (under `content`), so the log before the
 * checkpoint can be reused without losing the index. Mount loads the image, then
 * replays the records after the checkpoint.
 *
 * Bytes (little-endian):
 *   0   4  magic "SCIX"          4   4  version 1
 *   8   8  seq (u64: the log position the image is exact at; <= the checkpoint's seq)
 *   16  4  entryCount            20  12 zero
 *   32  48 * entryCount entries: hash[32], blockIndex u32, blockCount u32, sizeBytes u32, refcount u32
 * The ImageRef holds the extents, the length and the BLAKE3 of these bytes (hex); a
 * mismatch on load is INTEGRITY. Every entry is re-checked by the index's own rules.
 *
 * checkpointWith(store, image): the commit point of a checkpoint. The store's own
 * commits wait (a gate) while it catches up with the log, writes its image to freshly
 * allocated blocks, flushes, and records `{...image, content: ref}` as the Axiom
 * checkpoint; then the previous image's blocks are freed and the gate opens. A crash
 * anywhere leaves either the old checkpoint (the new image's blocks are leftovers the
 * mount scan frees) or the new one (the old image's blocks are the leftovers).
 */
import { assert, contentError, hexOf } from './errors.ts';
import { hashChunk } from './hash.ts';
import { blocksFor, type ContentIndex } from './index.ts';
import type { Extent } from './ports.ts';
import type { ContentStore } from './store.ts';
import { BLOCK_SIZE_BYTES, HASH_SIZE_BYTES, WRITE_BLOCKS_MAX } from './limits.ts';

export interface ContentImageRef {
  extents: Extent[];
  sizeBytes: number;
  /** BLAKE3 of the image bytes, hex. */
  check: string;
  seq: number;
}

const MAGIC = 0x58494353; // "SCIX"
const VERSION = 1;
const HEADER_BYTES = 32;
const ENTRY_BYTES = HASH_SIZE_BYTES + 16;

export function encodeIndexImage(index: ContentIndex, seq: number): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + index.size * ENTRY_BYTES);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, VERSION, true);
  dv.setBigUint64(8, BigInt(seq), true);
  dv.setUint32(16, index.size, true);
  let at = HEADER_BYTES;
  for (const e of index.values()) {
    out.set(e.hash, at);
    dv.setUint32(at + 32, e.blockIndex, true);
    dv.setUint32(at + 36, e.blockCount, true);
    dv.setUint32(at + 40, e.sizeBytes, true);
    dv.setUint32(at + 44, e.refcount, true);
    at += ENTRY_BYTES;
  }
  return out;
}

/** Loads an image into an empty index through its own rules (ChunkPut, then ChunkRef); returns its seq. */
export function loadIndexImage(index: ContentIndex, bytes: Uint8Array): number {
  assert(index.size === 0, 'an image loads into an empty index');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < HEADER_BYTES || dv.getUint32(0, true) !== MAGIC || dv.getUint32(4, true) !== VERSION) throw contentError('INTEGRITY', 'index image: bad magic or version');
  const count = dv.getUint32(16, true);
  if (bytes.length !== HEADER_BYTES + count * ENTRY_BYTES) throw contentError('INTEGRITY', `index image: ${bytes.length} bytes for ${count} entries`);
  for (let i = 0, at = HEADER_BYTES; i < count; i++, at += ENTRY_BYTES) {
    const hash = bytes.slice(at, at + 32);
    const blockIndex = dv.getUint32(at + 32, true), blockCount = dv.getUint32(at + 36, true), sizeBytes = dv.getUint32(at + 40, true), refcount = dv.getUint32(at + 44, true);
    index.apply({ type: 'ChunkPut', payload: { hash, blockIndex, blockCount, sizeBytes } }, `index image entry ${i}`);
    if (refcount > 0) index.apply({ type: 'ChunkRef', payload: { hash, delta: refcount } }, `index image entry ${i}`);
  }
  return Number(dv.getBigUint64(8, true));
}

export async function readIndexImage(store: ContentStore, ref: ContentImageRef): Promise<Uint8Array> {
  const total = ref.extents.reduce((n, e) => n + e.blockCount, 0);
  if (!Number.isSafeInteger(ref.sizeBytes) || blocksFor(ref.sizeBytes) !== total) throw contentError('INTEGRITY', `index image: ${ref.sizeBytes} bytes in ${total} blocks`);
  const out = new Uint8Array(total * BLOCK_SIZE_BYTES);
  let at = 0;
  for (const e of ref.extents) {
    for (let i = 0; i < e.blockCount; i += WRITE_BLOCKS_MAX) {
      const n = Math.min(WRITE_BLOCKS_MAX, e.blockCount - i);
      out.set(await store.blocks.read(e.blockIndex + i, n), at);
      at += n * BLOCK_SIZE_BYTES;
    }
  }
  const bytes = out.subarray(0, ref.sizeBytes);
  const got = hexOf(hashChunk(bytes));
  if (got !== ref.check) throw contentError('INTEGRITY', `index image in blocks ${JSON.stringify(ref.extents)} hashes to ${got}, not ${ref.check}`);
  return bytes;
}

async function writeIndexImage(store: ContentStore, bytes: Uint8Array, seq: number): Promise<ContentImageRef> {
  const extents = await store.blocks.allocate(Math.max(1, blocksFor(bytes.length)), false);
  const padded = new Uint8Array(extents.reduce((n, e) => n + e.blockCount, 0) * BLOCK_SIZE_BYTES);
  padded.set(bytes);
  let at = 0;
  for (const e of extents) {
    for (let i = 0; i < e.blockCount; i += WRITE_BLOCKS_MAX) {
      const n = Math.min(WRITE_BLOCKS_MAX, e.blockCount - i);
      await store.blocks.write(e.blockIndex + i, padded.subarray(at, at + n * BLOCK_SIZE_BYTES));
      at += n * BLOCK_SIZE_BYTES;
    }
  }
  await store.blocks.flush();
  return { extents, sizeBytes: bytes.length, check: hexOf(hashChunk(bytes)), seq };
}

/** Records an Axiom checkpoint of `image` (another client's sections) plus the content index (see the header). */
export async function checkpointWith(store: ContentStore, image: Record<string, unknown>): Promise<{ commitSeq: number; content: ContentImageRef }> {
  store.checkWritable();
  if ('content' in image) throw contentError('BADMSG', "the checkpoint image already has a 'content' section");
  const release = await store.applier.hold();
  try {
    await store.applier.catchUp();
    store.checkWritable();
    const ref = await writeIndexImage(store, encodeIndexImage(store.index, store.applier.appliedSeq), store.applier.appliedSeq);
    let receipt;
    try {
      receipt = await store.log.recordCheckpoint({ ...image, content: ref });
    } catch (e) {
      if (!store.failure) await store.blocks.free(ref.extents).catch(() => undefined); // certainly not recorded
      throw e;
    }
    const previous = store.image;
    store.image = ref;
    if (previous) await store.blocks.free(previous.extents).catch(() => undefined); // else the next mount frees them
    return { commitSeq: receipt.commitSeq, content: ref };
  } finally {
    release();
  }
}

/** Every extent-shaped value ({blockIndex, blockCount}) anywhere in a checkpoint image: blocks the image's owners hold. */
export function extentsIn(value: unknown, out: Extent[] = [], depth = 0): Extent[] {
  if (depth > 16 || value === null || typeof value !== 'object' || value instanceof Uint8Array) return out;
  const v = value as Record<string, unknown>;
  if (typeof v.blockIndex === 'number' && typeof v.blockCount === 'number' && Number.isSafeInteger(v.blockIndex) && Number.isSafeInteger(v.blockCount)) {
    out.push({ blockIndex: v.blockIndex, blockCount: v.blockCount });
  }
  for (const x of Array.isArray(value) ? value : Object.values(v)) extentsIn(x, out, depth + 1);
  return out;
}
