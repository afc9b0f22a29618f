/**
 * Ingest: a byte stream of any length in, the list of its chunks out (each with its
 * hash, offset and length: the shape of an Axiom Write record's `chunks`). The stream is
 * cut by the store's chunker (or one given) and stored with putMany in batches, so a
 * file of many GiB never needs to be in memory: at most one batch and one max-size
 * chunk are held at a time.
 *
 * Each chunk of the stream gains one reference (or, with `ref: false`, a lease: see
 * store.ts); the caller owns them (a file that is later deleted unrefs its chunks). A failure part-way leaves the chunks stored so far
 * referenced and returns nothing: the caller unrefs `stored` from the error to undo.
 */
import { createChunker, type ChunkingConfig } from './chunker.ts';
import { assert } from './errors.ts';
import type { ContentStore } from './store.ts';
import { NEW_CHUNKS_PER_TRANSACTION_MAX } from './limits.ts';

export interface ChunkRefOut {
  hash: Uint8Array;
  offsetBytes: number;
  lengthBytes: number;
}

export interface IngestResult {
  chunks: ChunkRefOut[];
  lengthBytes: number;
  newChunks: number;
  newBytes: number;
}

/** Bytes of chunks gathered before one putMany. */
export const INGEST_BATCH_BYTES = 16 * 1024 * 1024;

export class IngestError extends Error {
  constructor(
    readonly reason: unknown,
    readonly stored: ChunkRefOut[],
  ) {
    super(`ingest failed after ${stored.length} chunks: ${(reason as Error)?.message ?? String(reason)}`);
  }
}

export async function ingest(
  store: ContentStore,
  source: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  options: { chunking?: ChunkingConfig; ref?: boolean } = {},
): Promise<IngestResult> {
  const chunker = createChunker(options.chunking ?? store.chunking);
  const out: ChunkRefOut[] = [];
  let batch: Uint8Array[] = [];
  let batchBytes = 0, offsetBytes = 0, newChunks = 0, newBytes = 0;

  const flushBatch = async () => {
    if (batch.length === 0) return;
    const chunks = batch;
    batch = [];
    batchBytes = 0;
    let r;
    try {
      r = await store.putMany(chunks, { ref: options.ref ?? true });
    } catch (e) {
      throw new IngestError(e, out);
    }
    chunks.forEach((c, i) => {
      out.push({ hash: r.hashes[i], offsetBytes, lengthBytes: c.length });
      offsetBytes += c.length;
    });
    newChunks += r.newChunks;
    newBytes += r.newBytes;
  };
  const take = async (chunks: Uint8Array[]) => {
    for (const c of chunks) {
      batch.push(c);
      batchBytes += c.length;
      if (batchBytes >= INGEST_BATCH_BYTES || batch.length >= NEW_CHUNKS_PER_TRANSACTION_MAX) await flushBatch();
    }
  };

  if (source instanceof Uint8Array) await take(chunker.push(source));
  else for await (const piece of source) await take(chunker.push(piece));
  await take(chunker.finish());
  await flushBatch();
  assert(out.length === 0 || out[out.length - 1].offsetBytes + out[out.length - 1].lengthBytes === offsetBytes, 'chunks cover the stream');
  return { chunks: out, lengthBytes: offsetBytes, newChunks, newBytes };
}
