/**
 * The content store's protocol: message shapes, their validation, and a typed client.
 * This file is all another service may import from services/content.
 *
 * Chunks are named by their 32-byte BLAKE3 hash. Bytes move inline (`data`, `items`:
 * copied in the message, for small chunks) or by grant (`from` / `into`: segments of the
 * caller's memory lent to the content endpoint, for large ones; segments of one request
 * are read or filled in order as one byte stream).
 *
 * Ops (a reply comes after the work is durable: the Axiom commit):
 *   info                                   -> ContentInfo (hash implementation, chunking, limits)
 *   put     {data | from, ref?}            -> {hash}           one chunk (<= CHUNK_SIZE_BYTES_MAX)
 *   putMany {items | from + lengths, ref?} -> {hashes, newChunks, newBytes}  one transaction per 512 new chunks
 *   ingest  {data | from, ref?}            -> {chunks: [{hash, offsetBytes, lengthBytes}], lengthBytes, newChunks, newBytes}
 *            the bytes are cut by the store's chunker (a longer stream: ContentClient.ingestStream)
 *   get     {hash, into?}                  -> {data} | {lengthBytes}   verified against the hash
 *   has     {hashes}                       -> {present: boolean[]}
 *   ref / unref {hashes}                   -> {}   one reference per hash (repeats count)
 *   stat    {hash}                         -> ChunkStat
 *   stats                                  -> ContentStatsReply
 *   gc      {roots | rootsFrom}            -> GcReport   roots: packed 32-byte hashes
 *   checkpoint {image}                     -> {commitSeq, content}  records the Axiom checkpoint
 *            `{...image, content: <index image ref>}` (image.ts): the caller's sections plus
 *            the content index, so history before it can be reused; the caller stops its
 *            own proposals until the reply
 * `ref: false` stores without taking a reference: the caller commits its own ChunkRef
 * records (the filesystem does, in the transaction that uses the chunk) and the chunk is
 * leased from gc for PUT_LEASE_MS meanwhile.
 *
 * ContentClient.ingestStream(source) chunks a stream on the client's side with the
 * store's own chunking config (from `info`), so boundaries are those the store's
 * `ingest` would cut, and sends batches by grant through one reused staging region: a
 * stream of many GiB needs only that region in memory.
 *
 * Error codes (services/content/errors.ts): NOTFOUND, INTEGRITY, REFCOUNT, BADMSG,
 * TOOBIG, NOSPC, NOTMOUNTED, FAILED, plus the block service's and Axiom's, passed on.
 */
import { badMessage, ServiceError } from '../../kernel/errors.ts';
import type { ServiceContext } from '../../kernel/service.ts';
import type { Region } from '../../kernel/memory.ts';
import { createChunker } from './chunker.ts';
import type { ChunkRefOut } from './ingest.ts';
import type { Segment } from '../../drivers/virtio-blk/protocol.ts';
import type { ChunkingConfig } from './chunker.ts';
import type { ChunkStat, ContentStats } from './store.ts';
import type { GcReport, MountReport } from './gc.ts';
import type { IngestResult } from './ingest.ts';
import type { ContentImageRef } from './image.ts';
import {
  CHUNK_SIZE_BYTES_MAX,
  CHUNKS_PER_REQUEST_MAX,
  GRANT_BYTES_PER_REQUEST_MAX,
  HASH_SIZE_BYTES,
  INLINE_BYTES_PER_REQUEST_MAX,
  SEGMENTS_PER_REQUEST_MAX,
} from './limits.ts';

export type { Segment } from '../../drivers/virtio-blk/protocol.ts';
export type { ChunkingConfig } from './chunker.ts';
export type { ChunkStat, ContentStats } from './store.ts';
export type { GcReport, MountReport } from './gc.ts';
export type { IngestResult, ChunkRefOut } from './ingest.ts';
export type { ContentImageRef } from './image.ts';

export const CONTENT_ENDPOINT = 'content';

type Bytes = { data: Uint8Array } | { from: Segment[] };

export type ContentRequest =
  | { op: 'info' }
  | ({ op: 'put'; ref: boolean } & Bytes)
  | { op: 'putMany'; ref: boolean; items: Uint8Array[] }
  | { op: 'putMany'; ref: boolean; from: Segment[]; lengths: number[] }
  | ({ op: 'ingest'; ref: boolean } & Bytes)
  | { op: 'get'; hash: Uint8Array; into?: Segment[] }
  | { op: 'has'; hashes: Uint8Array[] }
  | { op: 'ref'; hashes: Uint8Array[] }
  | { op: 'unref'; hashes: Uint8Array[] }
  | { op: 'stat'; hash: Uint8Array }
  | { op: 'stats' }
  | { op: 'gc'; roots: Uint8Array }
  | { op: 'gc'; rootsFrom: Segment[] }
  | { op: 'checkpoint'; image: Record<string, unknown> };

export type ContentOp = ContentRequest['op'];

export interface ContentInfo {
  blockSizeBytes: number;
  hash: string;
  chunking: ChunkingConfig;
  limits: { chunkSizeBytesMax: number; chunksPerRequestMax: number; inlineBytesPerRequestMax: number; grantBytesPerRequestMax: number };
  mount: MountReport;
}

export type ContentStatsReply = ContentStats & { mount: MountReport };

// ---- validation -------------------------------------------------------------------------

function int(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) badMessage(`${what} must be an integer in [${min}, ${max}], got ${String(v)}`);
  return v;
}

function hash(v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length !== HASH_SIZE_BYTES) badMessage(`${what} must be ${HASH_SIZE_BYTES} bytes`);
  return v;
}

function hashes(v: unknown, what: string): Uint8Array[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > CHUNKS_PER_REQUEST_MAX) badMessage(`${what} must be a list of 1..${CHUNKS_PER_REQUEST_MAX} hashes`);
  return v.map((h, i) => hash(h, `${what}[${i}]`));
}

function bytes(v: unknown, what: string, max: number): Uint8Array {
  if (!(v instanceof Uint8Array)) badMessage(`${what} must be bytes`);
  if (v.length > max) throw new ServiceError('TOOBIG', `${what}: ${v.length} bytes exceeds ${max}`);
  return v;
}

export function segments(v: unknown, what: string): Segment[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > SEGMENTS_PER_REQUEST_MAX) badMessage(`${what} must be 1..${SEGMENTS_PER_REQUEST_MAX} segments`);
  let total = 0;
  const out = v.map((s, i) => {
    if (!s || typeof s !== 'object') badMessage(`${what}[${i}] is not a segment`);
    const seg = s as Record<string, unknown>;
    const lengthBytes = int(seg.lengthBytes, `${what}[${i}].lengthBytes`, 1, GRANT_BYTES_PER_REQUEST_MAX);
    total += lengthBytes;
    return { grantId: int(seg.grantId, `${what}[${i}].grantId`, 0, Number.MAX_SAFE_INTEGER), offsetBytes: int(seg.offsetBytes, `${what}[${i}].offsetBytes`, 0, Number.MAX_SAFE_INTEGER), lengthBytes };
  });
  if (total > GRANT_BYTES_PER_REQUEST_MAX) throw new ServiceError('TOOBIG', `${what}: ${total} bytes exceeds ${GRANT_BYTES_PER_REQUEST_MAX}`);
  return out;
}

function dataOrFrom(b: Record<string, unknown>, max: number): Bytes {
  if ((b.data === undefined) === (b.from === undefined)) badMessage('takes exactly one of data or from');
  return b.data !== undefined ? { data: bytes(b.data, 'data', max) } : { from: segments(b.from, 'from') };
}

function optRef(b: Record<string, unknown>): boolean {
  if (b.ref !== undefined && typeof b.ref !== 'boolean') badMessage('ref must be a boolean');
  return b.ref !== false;
}

function plainMap(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) badMessage(`${what} must be a map`);
  return v as Record<string, unknown>;
}

const parsers: { [Op in ContentOp]: (b: Record<string, unknown>) => Extract<ContentRequest, { op: Op }> } = {
  info: () => ({ op: 'info' }),
  stats: () => ({ op: 'stats' }),
  put: (b) => ({ op: 'put', ref: optRef(b), ...dataOrFrom(b, CHUNK_SIZE_BYTES_MAX) }),
  ingest: (b) => ({ op: 'ingest', ref: optRef(b), ...dataOrFrom(b, INLINE_BYTES_PER_REQUEST_MAX) }),
  putMany: (b) => {
    const ref = optRef(b);
    if ((b.items === undefined) === (b.from === undefined)) badMessage('putMany takes exactly one of items or from');
    if (b.items !== undefined) {
      if (!Array.isArray(b.items) || b.items.length === 0 || b.items.length > CHUNKS_PER_REQUEST_MAX) badMessage(`items must be a list of 1..${CHUNKS_PER_REQUEST_MAX} chunks`);
      let total = 0;
      const items = b.items.map((x: unknown, i: number) => bytes(x, `items[${i}]`, CHUNK_SIZE_BYTES_MAX));
      for (const x of items) total += x.length;
      if (total > INLINE_BYTES_PER_REQUEST_MAX) throw new ServiceError('TOOBIG', `items: ${total} bytes inline exceeds ${INLINE_BYTES_PER_REQUEST_MAX}; use a grant`);
      return { op: 'putMany', ref, items };
    }
    const from = segments(b.from, 'from');
    if (!Array.isArray(b.lengths) || b.lengths.length === 0 || b.lengths.length > CHUNKS_PER_REQUEST_MAX) badMessage(`lengths must be a list of 1..${CHUNKS_PER_REQUEST_MAX} lengths`);
    const lengths = b.lengths.map((n: unknown, i: number) => int(n, `lengths[${i}]`, 0, CHUNK_SIZE_BYTES_MAX));
    const want = lengths.reduce((x: number, y: number) => x + y, 0);
    const have = from.reduce((x, s) => x + s.lengthBytes, 0);
    if (want !== have) badMessage(`lengths add up to ${want} bytes, the segments hold ${have}`);
    return { op: 'putMany', ref, from, lengths };
  },
  get: (b) => ({ op: 'get', hash: hash(b.hash, 'hash'), ...(b.into !== undefined ? { into: segments(b.into, 'into') } : {}) }),
  has: (b) => ({ op: 'has', hashes: hashes(b.hashes, 'hashes') }),
  ref: (b) => ({ op: 'ref', hashes: hashes(b.hashes, 'hashes') }),
  unref: (b) => ({ op: 'unref', hashes: hashes(b.hashes, 'hashes') }),
  stat: (b) => ({ op: 'stat', hash: hash(b.hash, 'hash') }),
  checkpoint: (b) => {
    const image = plainMap(b.image, 'image');
    if ('content' in image) badMessage("image already has a 'content' section");
    return { op: 'checkpoint', image };
  },
  gc: (b) => {
    if ((b.roots === undefined) === (b.rootsFrom === undefined)) badMessage('gc takes exactly one of roots or rootsFrom');
    if (b.roots !== undefined) {
      const roots = bytes(b.roots, 'roots', INLINE_BYTES_PER_REQUEST_MAX);
      if (roots.length % HASH_SIZE_BYTES !== 0) badMessage(`roots is ${roots.length} bytes, not a whole number of ${HASH_SIZE_BYTES}-byte hashes`);
      return { op: 'gc', roots };
    }
    const rootsFrom = segments(b.rootsFrom, 'rootsFrom');
    if (rootsFrom.reduce((n, s) => n + s.lengthBytes, 0) % HASH_SIZE_BYTES !== 0) badMessage('rootsFrom does not hold whole hashes');
    return { op: 'gc', rootsFrom };
  },
};

/** Checks the shape of a request; throws BADMSG naming the field (TOOBIG over a limit, BADOP for an unknown op). */
export function parseContentRequest(op: string, body: unknown): ContentRequest {
  if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body) || body instanceof Uint8Array)) badMessage(`${op}: body must be a map`);
  if (!Object.hasOwn(parsers, op)) throw new ServiceError('BADOP', `content has no op '${op}'`);
  return parsers[op as ContentOp]((body ?? {}) as Record<string, unknown>);
}

/** Splits packed 32-byte hashes. */
export function unpackHashes(packed: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at + HASH_SIZE_BYTES <= packed.length; at += HASH_SIZE_BYTES) out.push(packed.slice(at, at + HASH_SIZE_BYTES));
  return out;
}

export function packHashes(list: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(list.length * HASH_SIZE_BYTES);
  list.forEach((h, i) => out.set(h, i * HASH_SIZE_BYTES));
  return out;
}

// ---- typed client ------------------------------------------------------------------------

/** The codec hands back Buffers; callers get plain Uint8Arrays (same memory, no copy). */
function plain(b: Uint8Array): Uint8Array {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** What the client needs of its context: calls, and memory for the by-grant paths. */
export type ContentCaller = Pick<ServiceContext, 'call'> & Partial<Pick<ServiceContext, 'memory'>>;

/** Bytes of the staging region ingestStream lends per batch. */
export const INGEST_STAGING_BYTES = 16 * 1024 * 1024;

export class ContentClient {
  constructor(
    private readonly ctx: ContentCaller,
    readonly endpoint: string = CONTENT_ENDPOINT,
  ) {}

  info(): Promise<ContentInfo> {
    return this.ctx.call<ContentInfo>(this.endpoint, 'info', {});
  }
  async put(data: Uint8Array, options: { ref?: boolean } = {}): Promise<Uint8Array> {
    return plain((await this.ctx.call<{ hash: Uint8Array }>(this.endpoint, 'put', { data, ref: options.ref ?? true })).hash);
  }
  putMany(items: Uint8Array[], options: { ref?: boolean } = {}): Promise<{ hashes: Uint8Array[]; newChunks: number; newBytes: number }> {
    return this.ctx.call(this.endpoint, 'putMany', { items, ref: options.ref ?? true });
  }
  putManyFrom(from: Segment[], lengths: number[], options: { ref?: boolean } = {}): Promise<{ hashes: Uint8Array[]; newChunks: number; newBytes: number }> {
    return this.ctx.call(this.endpoint, 'putMany', { from, lengths, ref: options.ref ?? true });
  }
  ingest(data: Uint8Array, options: { ref?: boolean } = {}): Promise<IngestResult> {
    return this.ctx.call<IngestResult>(this.endpoint, 'ingest', { data, ref: options.ref ?? true });
  }
  async get(hash: Uint8Array): Promise<Uint8Array> {
    return plain((await this.ctx.call<{ data: Uint8Array }>(this.endpoint, 'get', { hash })).data);
  }
  /** Reads the chunk into granted memory; resolves with its length. */
  async getInto(hash: Uint8Array, into: Segment[]): Promise<number> {
    return (await this.ctx.call<{ lengthBytes: number }>(this.endpoint, 'get', { hash, into })).lengthBytes;
  }
  async has(hashes: Uint8Array[]): Promise<boolean[]> {
    return (await this.ctx.call<{ present: boolean[] }>(this.endpoint, 'has', { hashes })).present;
  }
  async ref(hashes: Uint8Array[]): Promise<void> {
    await this.ctx.call(this.endpoint, 'ref', { hashes });
  }
  async unref(hashes: Uint8Array[]): Promise<void> {
    await this.ctx.call(this.endpoint, 'unref', { hashes });
  }
  stat(hash: Uint8Array): Promise<ChunkStat> {
    return this.ctx.call<ChunkStat>(this.endpoint, 'stat', { hash });
  }
  stats(): Promise<ContentStatsReply> {
    return this.ctx.call<ContentStatsReply>(this.endpoint, 'stats', {});
  }
  /** Records an Axiom checkpoint of `image` plus the content index (the caller holds its own proposals meanwhile). */
  checkpoint(image: Record<string, unknown>): Promise<{ commitSeq: number; content: ContentImageRef }> {
    return this.ctx.call(this.endpoint, 'checkpoint', { image }, { timeoutMs: 10 * 60_000 });
  }
  gc(roots: Uint8Array[] = []): Promise<GcReport> {
    return this.ctx.call<GcReport>(this.endpoint, 'gc', { roots: packHashes(roots) }, { timeoutMs: 10 * 60_000 });
  }

  /** Chunks a stream with the store's chunker and stores it in batches by grant. */
  async ingestStream(source: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>, options: { ref?: boolean } = {}): Promise<IngestResult> {
    const memory = this.ctx.memory;
    if (!memory) throw new Error('ingestStream needs a context with memory');
    const info = await this.info();
    const chunker = createChunker(info.chunking);
    const region: Region = memory.alloc(INGEST_STAGING_BYTES);
    const grantId = memory.grant(region, this.endpoint, 'r');
    const staging = memory.view(region);
    const out: ChunkRefOut[] = [];
    let lengths: number[] = [], used = 0, offsetBytes = 0, newChunks = 0, newBytes = 0;
    const send = async () => {
      if (lengths.length === 0) return;
      const r = await this.putManyFrom([{ grantId, offsetBytes: 0, lengthBytes: used }], lengths, options);
      lengths.forEach((n, i) => {
        out.push({ hash: r.hashes[i], offsetBytes, lengthBytes: n });
        offsetBytes += n;
      });
      newChunks += r.newChunks;
      newBytes += r.newBytes;
      lengths = [];
      used = 0;
    };
    const take = async (chunks: Uint8Array[]) => {
      for (const c of chunks) {
        if (used + c.length > staging.length || lengths.length === CHUNKS_PER_REQUEST_MAX) await send();
        staging.set(c, used);
        used += c.length;
        lengths.push(c.length);
      }
    };
    try {
      if (source instanceof Uint8Array) await take(chunker.push(source));
      else for await (const piece of source) await take(chunker.push(piece));
      await take(chunker.finish());
      await send();
    } finally {
      memory.revoke(grantId);
      memory.free(region);
    }
    return { chunks: out, lengthBytes: offsetBytes, newChunks, newBytes };
  }
}
