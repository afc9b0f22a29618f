/**
 * Writing new chunks: each gets a fresh extent from the pool (pool.ts: allocated, never
 * a live block), chunks on consecutive blocks are merged into one write of up to
 * WRITE_BLOCKS_MAX blocks, laid out block-aligned with the slack zeroed. Then one flush.
 *
 * Integrity: what is written is what was hashed. Bytes the caller may still change (an
 * in-process caller's array) are hashed again right after they are staged (`recheck`).
 * Bytes nobody else holds (`recheck: false`: the service's private copy of granted or
 * message input, made before the first hash) cannot change between hash and write, so
 * the second hash - a third of a large write's CPU - is skipped for them.
 *
 * Contract with the caller (store.ts): when this resolves, every chunk's bytes are
 * durable at its extent in `placed`, and only then may its ChunkPut be proposed. When it
 * rejects, no write is still in flight (all were waited for), so the caller may give
 * the extents back to the pool.
 */
import { contentError, hexOf } from './errors.ts';
import { hashChunk } from './hash.ts';
import { blocksFor } from './index.ts';
import type { BlockPool } from './pool.ts';
import type { BlockPort, Extent } from './ports.ts';
import { BLOCK_SIZE_BYTES, WRITE_BLOCKS_MAX } from './limits.ts';

export interface NewChunk {
  hex: string;
  bytes: Uint8Array;
}

export interface WriteOptions {
  /** Hash each chunk's bytes again as staged (default): false only for bytes nobody else holds or changes. */
  recheck?: boolean;
}

export async function writeChunks(blocks: BlockPort, pool: BlockPool, chunks: NewChunk[], placed: Map<string, Extent>, options: WriteOptions = {}): Promise<void> {
  const recheck = options.recheck ?? true;
  if (chunks.length === 0) return;
  for (const c of chunks) {
    const blockCount = blocksFor(c.bytes.length);
    placed.set(c.hex, blockCount === 0 ? { blockIndex: 0, blockCount: 0 } : await pool.take(blockCount));
  }
  const at = (c: NewChunk) => placed.get(c.hex)!;
  const order = chunks.filter((c) => at(c).blockCount > 0).sort((a, b) => at(a).blockIndex - at(b).blockIndex);
  const writes: Promise<void>[] = [];
  for (let i = 0; i < order.length; ) {
    const first = at(order[i]);
    let j = i + 1, runBlocks = first.blockCount;
    while (j < order.length && at(order[j]).blockIndex === first.blockIndex + runBlocks && runBlocks + at(order[j]).blockCount <= WRITE_BLOCKS_MAX) {
      runBlocks += at(order[j]).blockCount;
      j++;
    }
    const run = order.slice(i, j);
    const fill = (dst: Uint8Array) => {
      for (const c of run) {
        const x = at(c);
        const off = (x.blockIndex - first.blockIndex) * BLOCK_SIZE_BYTES;
        dst.set(c.bytes, off);
        dst.fill(0, off + c.bytes.length, off + x.blockCount * BLOCK_SIZE_BYTES);
        // The source, hashed right after the copy with nothing running in between, is what
        // was staged (and it is ordinary memory, where the native BLAKE3 may go).
        if (recheck && hexOf(hashChunk(c.bytes)) !== c.hex) {
          throw contentError('BADMSG', `the bytes of chunk ${c.hex} changed while it was being put`);
        }
      }
    };
    if (blocks.writeStaged) writes.push(blocks.writeStaged(first.blockIndex, runBlocks, fill));
    else {
      const buf = new Uint8Array(runBlocks * BLOCK_SIZE_BYTES);
      writes.push(Promise.resolve().then(() => (fill(buf), blocks.write(first.blockIndex, buf))));
    }
    i = j;
  }
  const outcomes = await Promise.allSettled(writes);
  const failed = outcomes.find((o) => o.status === 'rejected');
  if (failed) throw failed.reason;
  await blocks.flush();
}
