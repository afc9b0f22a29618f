/**
 * The content service: serves protocol.ts on the `content` endpoint over a ContentStore
 * whose ports are the block service and Axiom, reached through their protocol.ts clients
 * only (adapters.ts).
 *
 * Mount (right after start returns: the kernel delivers replies only to a running
 * service): replay the log into the index, check every chunk extent, free the leftovers
 * a crash left (gc.ts). Requests wait for the mount; a failed mount is logged and every
 * request is answered NOTMOUNTED with its reason. The boot log names the BLAKE3
 * implementation chosen and the chunking. Every request is parsed by
 * parseContentRequest first: a bad message is an error reply, never a crash. Bytes by
 * grant are copied out of the caller's memory before use (the caller may change it, and
 * the native BLAKE3 must not read physical memory) and into it after the chunk was
 * verified. Message input is the service's own too (decoded from the kernel's copy), so
 * put and putMany hand the store bytes nobody else holds (`owned`: hashed once, not
 * again as they are staged).
 *
 * Commit points are the store's (store.ts, gc.ts); this file adds none. On stop the
 * unused pool blocks are given back to the block service.
 */
import type { IncomingRequest, Manifest, ServiceContext, ServiceDefinition, ServiceHandlers } from '../../kernel/service.ts';
import { BLOCK_ENDPOINT, BlockClient } from '../block/protocol.ts';
import { AXIOM_ENDPOINT, AxiomClient } from '../../axiom/protocol.ts';
import { blockPortOver, axiomLogOver } from './adapters.ts';
import { checkChunking, DEFAULT_FASTCDC, type ChunkingConfig } from './chunker.ts';
import { contentError } from './errors.ts';
import { mountStore, runGc, type MountReport } from './gc.ts';
import { blake3Implementation } from './hash.ts';
import { ingest } from './ingest.ts';
import { checkpointWith } from './image.ts';
import { CONTENT_ENDPOINT, parseContentRequest, unpackHashes, type ContentInfo, type ContentOp, type ContentRequest, type Segment } from './protocol.ts';
import type { ContentStore } from './store.ts';
import { BLOCK_SIZE_BYTES, CHUNK_SIZE_BYTES_MAX, CHUNKS_PER_REQUEST_MAX, GRANT_BYTES_PER_REQUEST_MAX, INLINE_BYTES_PER_REQUEST_MAX } from './limits.ts';

export interface ContentServiceConfig {
  blockEndpoint: string;
  axiomEndpoint: string;
  chunking: ChunkingConfig;
  reclaimLeftovers: boolean;
}

export function contentManifest(
  options: Partial<ContentServiceConfig> & { name?: string; endpoint?: string } = {},
): Manifest<ContentServiceConfig> {
  const blockEndpoint = options.blockEndpoint ?? BLOCK_ENDPOINT;
  const axiomEndpoint = options.axiomEndpoint ?? AXIOM_ENDPOINT;
  return {
    name: options.name ?? 'content',
    provides: [options.endpoint ?? CONTENT_ENDPOINT],
    calls: [blockEndpoint, axiomEndpoint],
    config: { blockEndpoint, axiomEndpoint, chunking: checkChunking(options.chunking ?? DEFAULT_FASTCDC), reclaimLeftovers: options.reclaimLeftovers ?? true },
    service: contentService,
  };
}

type Handler<Op extends ContentOp> = (req: Extract<ContentRequest, { op: Op }>) => unknown | Promise<unknown>;

function describeChunking(c: ChunkingConfig): string {
  const k = (n: number) => `${n / 1024} KiB`;
  return c.kind === 'fixed' ? `fixed ${k(c.sizeBytes)}` : `FastCDC min ${k(c.minSizeBytes)} avg ${k(c.avgSizeBytes)} max ${k(c.maxSizeBytes)} (normalisation ${c.normalizationLevel})`;
}

export const contentService: ServiceDefinition<ContentServiceConfig> = {
  start(ctx: ServiceContext, config: ContentServiceConfig): ServiceHandlers {
    // The kernel delivers replies only once start() has returned, so the mount runs after
    // it; requests wait for it, and a failed mount answers every request with its reason.
    const ready = mount(ctx, config).then(
      ({ store, report }) => makeHandlers(ctx, store, report),
      (e: unknown) => {
        const reason = contentError('NOTMOUNTED', `mount failed: ${(e as Error).message ?? String(e)}`);
        ctx.log(reason.message);
        return reason;
      },
    );
    let storeForStop: ContentStore | undefined;
    void ready.then((h) => {
      if (!(h instanceof Error)) storeForStop = h.store;
    });
    return {
      handle: async (req: IncomingRequest) => {
        const r = parseContentRequest(req.op, req.body);
        const handlers = await ready;
        if (handlers instanceof Error) throw handlers;
        return (handlers.ops[r.op] as Handler<typeof r.op>)(r);
      },
      stop: async () => {
        const store = storeForStop;
        if (store && !store.failure) await store.pool.drain().catch((e: Error) => ctx.log(`stop: pool blocks not freed (${e.message}); the next mount frees them`));
      },
    };
  },
};

async function mount(ctx: ServiceContext, config: ContentServiceConfig): Promise<{ store: ContentStore; report: MountReport }> {
  const blocks = await blockPortOver(new BlockClient(ctx, config.blockEndpoint), ctx.memory);
  const log = axiomLogOver(new AxiomClient(ctx, config.axiomEndpoint));
  const { store, report } = await mountStore(blocks, log, { chunking: config.chunking, reclaimLeftovers: config.reclaimLeftovers, nowMs: () => ctx.clock.nowMs() });
  ctx.log(`BLAKE3 ${blake3Implementation()}; chunking ${describeChunking(config.chunking)}`);
  ctx.log(
    `mounted ${report.chunks} chunks (${report.replayedRecords} records replayed${report.anomalies ? `, ${report.anomalies} anomalies: ${store.index.lastAnomaly}` : ''}); ` +
      `${report.leftoverBlocks} leftover blocks in ${report.leftoverExtents} runs ${report.reclaimed ? 'freed' : 'kept'}`,
  );
  for (const p of report.problems) ctx.log(`mount found: ${p}`);
  return { store, report };
}

function makeHandlers(ctx: ServiceContext, store: ContentStore, mount: MountReport): { store: ContentStore; ops: { [Op in ContentOp]: Handler<Op> } } {
  const readSegments = (from: Segment[]): Uint8Array => {
    const total = from.reduce((n, s) => n + s.lengthBytes, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const s of from) {
      out.set(ctx.memory.grantView(s.grantId, 'r', s.offsetBytes, s.lengthBytes), at);
      at += s.lengthBytes;
    }
    return out;
  };
  const bytesOf = (r: { data: Uint8Array } | { from: Segment[] }) => ('data' in r ? r.data : readSegments(r.from));
  const splitSegments = (from: Segment[], lengths: number[]): Uint8Array[] => {
    const all = readSegments(from);
    let at = 0;
    return lengths.map((n) => all.subarray(at, (at += n)));
  };

  const ops: { [Op in ContentOp]: Handler<Op> } = {
    info: (): ContentInfo => ({
      blockSizeBytes: BLOCK_SIZE_BYTES,
      hash: blake3Implementation(),
      chunking: store.chunking,
      limits: { chunkSizeBytesMax: CHUNK_SIZE_BYTES_MAX, chunksPerRequestMax: CHUNKS_PER_REQUEST_MAX, inlineBytesPerRequestMax: INLINE_BYTES_PER_REQUEST_MAX, grantBytesPerRequestMax: GRANT_BYTES_PER_REQUEST_MAX },
      mount,
    }),
    put: async (r) => {
      const data = bytesOf(r);
      if (data.length > CHUNK_SIZE_BYTES_MAX) throw contentError('TOOBIG', `a chunk of ${data.length} bytes exceeds ${CHUNK_SIZE_BYTES_MAX}; use ingest`);
      return { hash: await store.put(data, { ref: r.ref, owned: true }) };
    },
    putMany: async (r) => {
      // By grant: copied out of the caller's memory first (it may change it, and the native
      // BLAKE3 cannot read physical memory), then cut into the chunks.
      const items = 'items' in r ? r.items : splitSegments(r.from, r.lengths);
      return store.putMany(items, { ref: r.ref, owned: true });
    },
    ingest: async (r) => {
      try {
        return await ingest(store, bytesOf(r), { ref: r.ref });
      } catch (e) {
        throw (e as { reason?: unknown }).reason ?? e;
      }
    },
    get: async (r) => {
      const data = await store.get(r.hash);
      if (!r.into) return { data };
      const room = r.into.reduce((n, s) => n + s.lengthBytes, 0);
      if (room < data.length) throw contentError('TOOBIG', `the chunk is ${data.length} bytes, the segments hold ${room}`);
      let at = 0;
      for (const s of r.into) {
        if (at >= data.length) break;
        const n = Math.min(s.lengthBytes, data.length - at);
        ctx.memory.grantView(s.grantId, 'w', s.offsetBytes, n).set(data.subarray(at, at + n));
        at += n;
      }
      return { lengthBytes: data.length };
    },
    has: (r) => ({ present: r.hashes.map((h) => store.has(h)) }),
    ref: async (r) => (await store.ref(r.hashes), {}),
    unref: async (r) => (await store.unref(r.hashes), {}),
    stat: async (r) => {
      await store.applier.catchUp().catch(() => undefined); // the refcount includes other clients' committed references
      return store.stat(r.hash);
    },
    stats: async () => {
      await store.applier.catchUp().catch(() => undefined); // count other clients' references too; a failed read shows in `failed`
      return { ...store.stats(), mount };
    },
    gc: (r) => runGc(store, unpackHashes('roots' in r ? r.roots : readSegments(r.rootsFrom))),
    checkpoint: (r) => checkpointWith(store, r.image),
  };
  return { store, ops };
}
