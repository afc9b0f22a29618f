// The content store over in-memory ports: put/get/has/stat, dedup (twice, in one batch,
// and two puts of a new chunk at the same moment), references, gc with roots, replay on
// mount, leftovers freed, integrity errors, failures with known and unknown outcomes.
import { describe, expect, it } from 'vitest';
import { mountStore, runGc } from '../../services/content/gc.ts';
import { ingest } from '../../services/content/ingest.ts';
import { checkpointWith } from '../../services/content/image.ts';
import { DEFAULT_FASTCDC, DEFAULT_FIXED } from '../../services/content/chunker.ts';
import { hashChunk } from '../../services/content/hash.ts';
import { hexOf } from '../../services/content/errors.ts';
import type { StoreOptions } from '../../services/content/store.ts';
import { PUT_LEASE_MS } from '../../services/content/limits.ts';
import { MemoryBlockPort, MemoryLog } from './memory-ports.ts';
import { codeOf, patterned } from '../helpers/stack.ts';

const KiB = 1024, MiB = 1024 * 1024;

async function fresh(options: StoreOptions = {}, dataBlocks = 4096) {
  const blocks = new MemoryBlockPort(dataBlocks);
  const log = new MemoryLog();
  const { store } = await mountStore(blocks, log, options);
  return { blocks, log, store };
}

function types(log: MemoryLog): string[] {
  return log.records().map((r) => r.type);
}

describe('content store', () => {
  it('puts, gets, has and stats a chunk; the same bytes twice are stored once', async () => {
    const { store, log, blocks } = await fresh();
    const data = patterned(10_000, 1);
    const h = await store.put(data);
    expect(hexOf(h)).toBe(hexOf(hashChunk(data)));
    expect(await store.get(h)).toEqual(data);
    expect(store.has(h)).toBe(true);
    expect(store.stat(h)).toMatchObject({ sizeBytes: 10_000, refcount: 1, blockCount: 3 });
    const allocated = blocks.allocated.size;
    expect(hexOf(await store.put(data))).toBe(hexOf(h));
    expect(store.stat(h).refcount).toBe(2);
    expect(types(log)).toEqual(['ChunkPut', 'ChunkRef', 'ChunkRef']);
    expect(blocks.allocated.size).toBe(allocated);
    const s = store.stats();
    expect(s).toMatchObject({ chunkCount: 1, logicalBytes: 20_000, storedBytes: 10_000, allocatedBytes: 3 * 4096, orphanCount: 0, dedupRatio: 2 });
    expect(await codeOf(store.get(new Uint8Array(32)))).toBe('NOTFOUND');
    expect(store.has(new Uint8Array(32))).toBe(false);
    store.index.audit();
  });

  it('stores the empty chunk without blocks', async () => {
    const { store } = await fresh();
    const h = await store.put(new Uint8Array(0));
    expect(store.stat(h)).toMatchObject({ sizeBytes: 0, blockCount: 0, refcount: 1 });
    expect((await store.get(h)).length).toBe(0);
  });

  it('dedups within one putMany: one ChunkPut, refcount = occurrences', async () => {
    const { store, log } = await fresh();
    const a = patterned(5000, 2), b = patterned(7000, 3);
    const r = await store.putMany([a, b, a, a]);
    expect(r.newChunks).toBe(2);
    expect(store.stat(r.hashes[0]).refcount).toBe(3);
    expect(types(log).filter((t) => t === 'ChunkPut').length).toBe(2);
    expect(log.transactions.length).toBe(1);
  });

  it('two clients putting the same new chunk at the same moment store it once', async () => {
    const { store, log } = await fresh();
    const data = patterned(100 * KiB, 4);
    const [h1, h2, h3] = await Promise.all([store.put(data), store.put(data), store.putMany([data])]);
    expect(hexOf(h1)).toBe(hexOf(h2));
    expect(hexOf(h3.hashes[0])).toBe(hexOf(h1));
    expect(types(log).filter((t) => t === 'ChunkPut').length).toBe(1);
    expect(store.stat(h1).refcount).toBe(3);
    expect(store.counters.inflightDedupHits).toBe(2);
    expect(store.stats().allocatedBytes).toBe(25 * 4096);
  });

  it('writes and flushes a chunk before its ChunkPut commits, into blocks no live chunk holds', async () => {
    const { store, blocks, log } = await fresh();
    const seen: { flushes: number; durable: boolean }[] = [];
    const commit = log.commit.bind(log);
    log.commit = async (records) => {
      for (const r of records) if (r.type === 'ChunkPut') seen.push({ flushes: blocks.counts.flush, durable: blocks.durableBlock(r.payload.blockIndex) !== undefined });
      return commit(records);
    };
    const hashes = [];
    for (let i = 0; i < 20; i++) hashes.push(await store.put(patterned(9000 + i, 10 + i)));
    expect(seen.every((s) => s.durable && s.flushes > 0)).toBe(true);
    const extents = hashes.map((h) => store.stat(h)).map((s) => [s.blockIndex, s.blockIndex + s.blockCount]);
    extents.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < extents.length; i++) expect(extents[i][0]).toBeGreaterThanOrEqual(extents[i - 1][1]);
  });

  it('ref and unref change counts; unref below zero is REFCOUNT and changes nothing', async () => {
    const { store } = await fresh();
    const h = await store.put(patterned(3000, 5));
    await store.ref([h, h]);
    expect(store.stat(h).refcount).toBe(3);
    await store.unref([h]);
    expect(store.stat(h).refcount).toBe(2);
    expect(await codeOf(store.unref([h, h, h]))).toBe('REFCOUNT');
    expect(store.stat(h).refcount).toBe(2);
    expect(await codeOf(store.ref([new Uint8Array(32)]))).toBe('NOTFOUND');
    expect(await codeOf(store.ref([new Uint8Array(31)]))).toBe('BADMSG');
    await store.unref([h, h]);
    expect(store.stats()).toMatchObject({ orphanCount: 1, logicalBytes: 0, storedBytes: 3000 });
  });

  it('gc sweeps unreferenced chunks not named by a root and frees their blocks', async () => {
    const { store, blocks } = await fresh();
    const keep = await store.put(patterned(8000, 6));
    const orphanRooted = await store.put(patterned(8000, 7));
    const orphan = await store.put(patterned(20_000, 8));
    await store.unref([orphanRooted, orphan]);
    const before = blocks.allocated.size;
    const r = await runGc(store, [orphanRooted, new Uint8Array(32).fill(9)]);
    expect(r).toMatchObject({ sweptChunks: 1, sweptBytes: 20_000, freedBlocks: 5, keptByRoots: 1, missingRoots: 1, liveChunks: 2 });
    expect(blocks.allocated.size).toBe(before - 5);
    expect(await codeOf(store.get(orphan))).toBe('NOTFOUND');
    expect(await store.get(keep)).toEqual(patterned(8000, 6));
    expect(await store.get(orphanRooted)).toEqual(patterned(8000, 7));
    expect(store.stats().storedBytes).toBe(16_000);
    // Putting a swept chunk again stores it afresh.
    expect(hexOf(await store.put(patterned(20_000, 8)))).toBe(hexOf(orphan));
    expect(await store.get(orphan)).toEqual(patterned(20_000, 8));
  });

  it('replays the log on mount to the same index, and frees blocks a crash left allocated', async () => {
    const { store, blocks, log } = await fresh();
    const hs = [];
    for (let i = 0; i < 10; i++) hs.push(await store.put(patterned(4096 * (i + 1), 20 + i)));
    await store.unref([hs[3]]);
    await runGc(store, []);
    expect(store.pool.blocks).toBeGreaterThan(0); // pool blocks: allocated, never referenced
    const stats = store.stats();
    blocks.crash();
    const { store: again, report } = await mountStore(blocks, log);
    expect(report.leftoverBlocks).toBe(stats.poolBlocks);
    expect(report.chunks).toBe(9);
    expect(again.stats()).toMatchObject({ chunkCount: 9, logicalBytes: stats.logicalBytes, storedBytes: stats.storedBytes });
    expect(blocks.allocated.size * 4096).toBe(again.stats().allocatedBytes);
    for (const [i, h] of hs.entries()) if (i !== 3) expect(await again.get(h)).toEqual(patterned(4096 * (i + 1), 20 + i));
  });

  it('a bit flipped in a stored chunk is INTEGRITY naming hash and block, never wrong data', async () => {
    const { store, blocks } = await fresh();
    const h = await store.put(patterned(12_000, 30));
    const s = store.stat(h);
    blocks.flipBitOnRead(s.blockIndex + 1, 77);
    const err = await store.get(h).catch((e: Error & { code: string }) => e);
    expect((err as { code: string }).code).toBe('INTEGRITY');
    expect((err as Error).message).toContain(hexOf(h));
    expect((err as Error).message).toContain(`blocks [${s.blockIndex}, +3)`);
    expect(store.counters.integrityErrors).toBe(1);
  });

  it('a failed write or a refused commit changes nothing and the blocks are reused', async () => {
    const { store, blocks, log } = await fresh();
    blocks.failNext('write', 'IOERR');
    expect(await codeOf(store.put(patterned(5000, 40)))).toBe('IOERR');
    log.failNext('NOSPC');
    expect(await codeOf(store.put(patterned(5000, 41)))).toBe('NOSPC');
    expect(store.stats().chunkCount).toBe(0);
    expect(store.inflight.size).toBe(0);
    const h = await store.put(patterned(5000, 40));
    expect(store.stat(h).refcount).toBe(1);
    const h2 = await store.put(patterned(5000, 40));
    log.failNext('BUSY');
    expect(await codeOf(store.ref([h2]))).toBe('BUSY');
    expect(store.stat(h).refcount).toBe(2);
    store.index.audit();
  });

  it('a commit with an unknown outcome fails the store until remount; replay decides', async () => {
    for (const kept of [true, false]) {
      const { store, blocks, log } = await fresh();
      const a = await store.put(patterned(5000, 50));
      log.failNext('EIO', kept);
      expect(await codeOf(store.put(patterned(6000, 51)))).toBe('EIO');
      expect(await codeOf(store.put(patterned(7000, 52)))).toBe('FAILED');
      expect(await codeOf(store.unref([a]))).toBe('FAILED');
      expect(await store.get(a)).toEqual(patterned(5000, 50)); // reads go on
      const { store: again } = await mountStore(blocks, log);
      expect(again.has(hashChunk(patterned(6000, 51)))).toBe(kept);
      if (kept) expect(await again.get(hashChunk(patterned(6000, 51)))).toEqual(patterned(6000, 51));
      expect(blocks.allocated.size * 4096).toBe(again.stats().allocatedBytes);
    }
  });

  it('gc while puts and refs of the same orphans are in flight never drops a referenced chunk', async () => {
    const { store, blocks, log } = await fresh();
    const datas = Array.from({ length: 30 }, (_, i) => patterned(3000 + i, 60 + i));
    const hs = (await store.putMany(datas)).hashes;
    await store.unref(hs);
    const ops = [runGc(store, []), ...datas.slice(0, 10).map((d) => store.put(d)), store.ref(hs.slice(10, 15)).catch(() => 'gone'), runGc(store, [])];
    await Promise.all(ops);
    const { store: again } = await mountStore(blocks, log);
    for (let i = 0; i < 10; i++) expect(await again.get(hs[i])).toEqual(datas[i]);
    for (const s of [store, again]) for (const e of s.index.values()) expect(e.refcount).toBeGreaterThanOrEqual(0);
    expect(again.stats()).toMatchObject({ chunkCount: store.stats().chunkCount, logicalBytes: store.stats().logicalBytes });
  });

  it('a chunk put without a reference is leased from gc until its owner commits the ChunkRef itself', async () => {
    let now = 0;
    const { store, log, blocks } = await fresh({ nowMs: () => now });
    const data = patterned(9000, 90);
    const h = await store.put(data, { ref: false });
    expect(types(log)).toEqual(['ChunkPut']);
    expect(store.stat(h).refcount).toBe(0);
    expect((await runGc(store, [])).sweptChunks).toBe(0); // leased
    log.foreign([{ type: 'ChunkRef', payload: { hash: h, delta: 1 } }]); // the filesystem's own transaction
    now += PUT_LEASE_MS + 1;
    expect((await runGc(store, [])).sweptChunks).toBe(0); // gc caught up: referenced now
    expect(store.stat(h).refcount).toBe(1);
    await store.put(data, { ref: false }); // stored already: no record, a new lease
    expect(types(log)).toEqual(['ChunkPut', 'ChunkRef']);
    log.foreign([{ type: 'ChunkRef', payload: { hash: h, delta: -1 } }]);
    expect((await runGc(store, [])).sweptChunks).toBe(0); // leased again by the second put
    now += PUT_LEASE_MS + 1;
    expect((await runGc(store, [])).sweptChunks).toBe(1);
    const { store: again } = await mountStore(blocks, log);
    expect(again.has(h)).toBe(false);
    expect(again.index.anomalies).toBe(0);
  });

  it("counts other clients' references on replay, and tolerates their mistakes as anomalies", async () => {
    const { store, log, blocks } = await fresh();
    const h = await store.put(patterned(5000, 91));
    log.foreign([{ type: 'ChunkRef', payload: { hash: h, delta: 2 } }]);
    log.foreign([{ type: 'ChunkRef', payload: { hash: new Uint8Array(32).fill(1), delta: 1 } }]);
    const { store: again, report } = await mountStore(blocks, log);
    expect(again.stat(h).refcount).toBe(3);
    expect(report.anomalies).toBe(1);
    expect(again.index.lastAnomaly).toMatch(/not in the index/);
    await again.unref([h, h, h]);
    expect(again.stat(h).refcount).toBe(0);
    void store;
  });

  it('a checkpoint carries the index image: history before it can go, and a remount gets the same index', async () => {
    const { store, log, blocks } = await fresh();
    const hs = (await store.putMany(Array.from({ length: 30 }, (_, i) => patterned(2000 + i * 700, 200 + i)))).hashes;
    await store.unref(hs.slice(0, 4));
    const r = await checkpointWith(store, { fs: { extents: [{ blockIndex: 4000, blockCount: 2 }], note: 'theirs' } });
    expect(log.transactions.length).toBe(0); // the history before the checkpoint is gone
    await store.put(patterned(5000, 300));
    await store.unref([hs[10]]);
    const again = (await mountStore(blocks, log)).store;
    expect(again.image).toEqual(r.content);
    expect(again.stats()).toMatchObject({ chunkCount: 31, logicalBytes: store.stats().logicalBytes, storedBytes: store.stats().storedBytes, anomalies: 0 });
    expect(again.stat(hs[10]).refcount).toBe(0);
    for (const [i, h] of hs.entries()) expect(await again.get(h)).toEqual(patterned(2000 + i * 700, 200 + i));
    // A second checkpoint frees the first image's blocks; a remount frees nothing that is used.
    const imageBlocks = r.content.extents[0];
    await checkpointWith(again, {});
    expect(blocks.allocated.has(imageBlocks.blockIndex)).toBe(false);
    const third = (await mountStore(blocks, log)).store;
    expect(third.stats().chunkCount).toBe(31);
    expect(blocks.allocated.size).toBe(third.stats().allocatedBytes / 4096 + third.stats().imageBlocks);
  });

  it('a checkpoint waits for commits in flight and holds new ones until it is recorded', async () => {
    const { store, log, blocks } = await fresh();
    const before = store.put(patterned(7000, 310));
    const cp = checkpointWith(store, { x: 1 });
    const after = store.put(patterned(7000, 311));
    await Promise.all([before, cp, after]);
    const again = (await mountStore(blocks, log)).store;
    expect(again.has(hashChunk(patterned(7000, 310)))).toBe(true);
    expect(again.has(hashChunk(patterned(7000, 311)))).toBe(true);
    expect(again.index.anomalies).toBe(0);
  });

  it('refuses to mount a checkpoint that carries no content index', async () => {
    const { log, blocks } = await fresh();
    await log.recordCheckpoint({ fs: {} });
    expect(await codeOf(mountStore(blocks, log))).toBe('NOTMOUNTED');
  });

  it('bytes changed by the caller while they are being put are refused, never stored under the wrong name', async () => {
    const { store, blocks } = await fresh();
    const data = patterned(30_000, 400);
    const name = hashChunk(data);
    const p = store.put(data);
    data[100] ^= 1; // after hashing, before staging
    expect(await codeOf(p)).toBe('BADMSG');
    expect(store.has(name)).toBe(false);
    expect(store.inflight.size).toBe(0);
    expect(blocks.allocated.size).toBe(store.pool.blocks); // the extent went back to the pool
    data[100] ^= 1;
    expect(hexOf(await store.put(data))).toBe(hexOf(name));
    expect(await store.get(name)).toEqual(data);
  });

  it('refuses oversized chunks and bad hashes with clear codes', async () => {
    const { store } = await fresh();
    expect(await codeOf(store.put(new Uint8Array(MiB + 1)))).toBe('TOOBIG');
    expect(await codeOf(store.put('nope' as unknown as Uint8Array))).toBe('BADMSG');
    expect(() => store.stat(new Uint8Array(3))).toThrow(/32 bytes/);
  });

  it('answers a full disk with NOSPC and keeps working', async () => {
    const { store } = await fresh({}, 64);
    const hs = [];
    let code = 'ok';
    for (let i = 0; i < 40 && code === 'ok'; i++) {
      try {
        hs.push(await store.put(patterned(16 * KiB, 70 + i)));
      } catch (e) {
        code = (e as { code: string }).code;
      }
    }
    expect(code).toBe('NOSPC');
    for (const [i, h] of hs.entries()) expect(await store.get(h)).toEqual(patterned(16 * KiB, 70 + i));
    await store.unref(hs);
    await runGc(store, []);
    expect(await store.put(patterned(16 * KiB, 99))).toBeInstanceOf(Uint8Array);
  });
});

describe('ingest and dedup', () => {
  it('a file stored twice is stored once', async () => {
    const { store } = await fresh({}, 8192);
    const file = patterned(3 * MiB, 80);
    const first = await ingest(store, file);
    const allocated = store.stats().allocatedBytes;
    const second = await ingest(store, file);
    expect(second.newChunks).toBe(0);
    expect(second.chunks.map((c) => hexOf(c.hash))).toEqual(first.chunks.map((c) => hexOf(c.hash)));
    expect(store.stats().allocatedBytes).toBe(allocated);
    expect(store.stats().dedupRatio).toBeCloseTo(2, 5);
  });

  it('one byte inserted in the middle: FastCDC re-stores the chunks around it, fixed-size everything after', async () => {
    const file = patterned(6 * MiB, 81);
    const at = 3 * MiB + 999;
    const edited = new Uint8Array(file.length + 1);
    edited.set(file.subarray(0, at));
    edited[at] = 7;
    edited.set(file.subarray(at), at + 1);
    const cdc = (await fresh({ chunking: DEFAULT_FASTCDC }, 8192)).store;
    const a = await ingest(cdc, file);
    const b = await ingest(cdc, edited);
    expect(b.newChunks).toBeGreaterThanOrEqual(1);
    expect(b.newChunks).toBeLessThanOrEqual(2);
    expect(b.newBytes).toBeLessThan(600 * KiB);
    const fixed = (await fresh({ chunking: DEFAULT_FIXED }, 8192)).store;
    await ingest(fixed, file);
    const d = await ingest(fixed, edited);
    expect(d.newChunks).toBe(d.chunks.length - Math.floor(at / (64 * KiB)));
    expect(d.newBytes).toBeGreaterThan(edited.length - at - 64 * KiB);
    // Reassembling from the chunk list gives the file back.
    const parts = await Promise.all(b.chunks.map((c) => cdc.get(c.hash)));
    expect(Buffer.concat(parts).equals(Buffer.from(edited))).toBe(true);
    void a;
  });

  it('a byte changed in place re-stores one chunk', async () => {
    for (const chunking of [DEFAULT_FASTCDC, DEFAULT_FIXED]) {
      const { store } = await fresh({ chunking }, 8192);
      const file = patterned(4 * MiB, 82);
      await ingest(store, file);
      const edited = file.slice();
      edited[2 * MiB + 5] ^= 1;
      expect((await ingest(store, edited)).newChunks).toBe(1);
    }
  });

  it('streams: pieces of any size give the same chunks as the whole buffer', async () => {
    const { store } = await fresh({}, 8192);
    const file = patterned(2 * MiB + 17, 83);
    const whole = await ingest(store, file);
    function* pieces() {
      for (let at = 0; at < file.length; at += 77_777) yield file.slice(at, at + 77_777);
    }
    const streamed = await ingest(store, pieces());
    expect(streamed.chunks.map((c) => [hexOf(c.hash), c.offsetBytes, c.lengthBytes])).toEqual(whole.chunks.map((c) => [hexOf(c.hash), c.offsetBytes, c.lengthBytes]));
    expect(streamed.lengthBytes).toBe(file.length);
  });
});
