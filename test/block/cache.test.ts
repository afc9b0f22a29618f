// Block cache: dirty blocks survive eviction pressure, concurrent reads coalesce into one
// device read, a write racing a read wins, write-back failures surface and keep the block
// dirty, 2Q keeps a re-referenced hot set through a scan; write-around keeps no copy and
// orders reads and writes of its blocks after it; a model test with a slow device.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BlockCache, type CacheBacking } from '../../services/block/cache.ts';
import { BLOCK_SIZE_BYTES } from '../../services/block/limits.ts';

const B = BLOCK_SIZE_BYTES;

function blockOf(tag: number): Uint8Array {
  const b = new Uint8Array(B);
  new DataView(b.buffer).setUint32(0, tag, true);
  b[B - 1] = tag & 0xff;
  return b;
}
const tagOf = (bytes: Uint8Array, i = 0) => new DataView(bytes.buffer, bytes.byteOffset + i * B).getUint32(0, true);

/** A device whose requests complete only when the test says so (or at once with `auto`). */
class FakeDevice implements CacheBacking {
  readonly stored = new Map<number, Uint8Array>();
  /** Images durable elsewhere (the journal, in the service): reads see them over `stored`. */
  readonly overlay = new Map<number, Uint8Array>();
  readonly reads: [number, number][] = [];
  readonly writes: [number, number][] = [];
  private held: (() => void)[] = [];
  auto = true;
  failWrites = false;

  private gate(): Promise<void> {
    if (this.auto) return Promise.resolve();
    return new Promise((r) => this.held.push(r));
  }
  release(): void {
    const h = this.held;
    this.held = [];
    for (const r of h) r();
  }
  get heldCount(): number {
    return this.held.length;
  }
  async read(blockIndex: number, blockCount: number): Promise<Uint8Array> {
    this.reads.push([blockIndex, blockCount]);
    await this.gate();
    const out = new Uint8Array(blockCount * B);
    for (let i = 0; i < blockCount; i++) out.set(this.overlay.get(blockIndex + i) ?? this.stored.get(blockIndex + i) ?? blockOf(0), i * B);
    return out;
  }
  async write(blockIndex: number, data: Uint8Array): Promise<void> {
    const copy = data.slice();
    await this.gate();
    if (this.failWrites) throw Object.assign(new Error('IOERR'), { code: 'IOERR' });
    this.writes.push([blockIndex, copy.length / B]);
    for (let i = 0; i < copy.length / B; i++) this.stored.set(blockIndex + i, copy.slice(i * B, (i + 1) * B));
  }
}

const flushMicrotasks = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

describe('BlockCache', () => {
  it('never loses a dirty block under eviction pressure, and stays within capacity', async () => {
    const dev = new FakeDevice();
    const cache = new BlockCache(dev, 16 * B);
    for (let b = 0; b < 200; b++) await cache.write(b, blockOf(1000 + b), { dirty: true });
    expect(cache.residentBlocks).toBeLessThanOrEqual(16);
    await cache.writeBackAll();
    for (let b = 0; b < 200; b++) expect(tagOf(dev.stored.get(b)!)).toBe(1000 + b);
    expect(cache.stats().dirtyBlocks).toBe(0);
    expect(cache.stats().writeBacks).toBeGreaterThanOrEqual(200);
  });

  it('makes writers wait (not lose data) while every block is dirty and write-backs are slow', async () => {
    const dev = new FakeDevice();
    dev.auto = false;
    const cache = new BlockCache(dev, 16 * B);
    const writes = [...Array(40).keys()].map((b) => cache.write(b, blockOf(7000 + b), { dirty: true }));
    await flushMicrotasks();
    expect(dev.heldCount).toBeGreaterThan(0); // write-backs started, writers blocked on them
    expect(cache.stats().evictions).toBe(0); // nothing clean to evict: nothing evicted
    while (dev.heldCount) {
      dev.release();
      await flushMicrotasks();
    }
    dev.auto = true;
    await Promise.all(writes);
    await cache.writeBackAll();
    for (let b = 0; b < 40; b++) expect(tagOf(dev.stored.get(b)!)).toBe(7000 + b);
  });

  it('coalesces concurrent reads of the same blocks into one device read', async () => {
    const dev = new FakeDevice();
    dev.auto = false;
    for (let b = 0; b < 10; b++) dev.stored.set(b, blockOf(b + 1));
    const cache = new BlockCache(dev, 64 * B);
    const r1 = cache.read(3, 1);
    const r2 = cache.read(3, 1);
    const r3 = cache.read(0, 10); // 3 is in flight: only [0,3) and [4,10) go to the device
    await flushMicrotasks();
    expect(dev.reads).toEqual([
      [3, 1],
      [0, 3],
      [4, 6],
    ]);
    dev.release();
    expect(tagOf(await r1)).toBe(4);
    expect(tagOf(await r2)).toBe(4);
    const all = await r3;
    for (let i = 0; i < 10; i++) expect(tagOf(all, i)).toBe(i + 1);
    const s = cache.stats();
    expect([s.misses, s.coalesced]).toEqual([10, 2]);
    await cache.read(3, 1);
    expect(cache.stats().hits).toBe(1);
    expect(dev.reads).toHaveLength(3);
  });

  it('lets a write that races a read win', async () => {
    const dev = new FakeDevice();
    dev.auto = false;
    dev.stored.set(5, blockOf(1));
    const cache = new BlockCache(dev, 64 * B);
    const r = cache.read(5, 1);
    await flushMicrotasks();
    const w = cache.write(5, blockOf(2), { dirty: true });
    dev.release();
    await w;
    expect(tagOf(await r)).toBe(2);
    expect(tagOf(await cache.read(5, 1))).toBe(2);
    expect(cache.isDirty(5)).toBe(true);
  });

  it('keeps a block dirty when its write-back fails, and reports the failure', async () => {
    const dev = new FakeDevice();
    const cache = new BlockCache(dev, 64 * B);
    await cache.write(9, blockOf(9), { dirty: true });
    dev.failWrites = true;
    await expect(cache.writeBackAll()).rejects.toThrow('IOERR');
    expect(cache.isDirty(9)).toBe(true);
    dev.failWrites = false;
    await cache.writeBackAll();
    expect(cache.isDirty(9)).toBe(false);
    expect(tagOf(dev.stored.get(9)!)).toBe(9);
  });

  it('keeps a re-referenced hot set through a one-pass scan (2Q)', async () => {
    const dev = new FakeDevice();
    const cache = new BlockCache(dev, 64 * B);
    const hot = [...Array(8).keys()];
    for (const b of hot) await cache.read(b, 1);
    for (let b = 100; b < 164; b++) await cache.read(b, 1); // pushes the hot blocks out of A1in into the ghost list
    for (const b of hot) await cache.read(b, 1); // ghost hits: the hot set moves to Am
    expect(cache.stats().ghostHits).toBe(8);
    const readsBefore = dev.reads.length;
    for (let b = 2000; b < 2500; b++) await cache.read(b, 1); // a long scan
    for (const b of hot) await cache.read(b, 1);
    expect(dev.reads.length - readsBefore).toBe(500); // the scan missed; the hot set did not
  });

  it('writes around: no copy kept, stale copies dropped, later reads and writes wait for it', async () => {
    const dev = new FakeDevice();
    const cache = new BlockCache(dev, 64 * B);
    await cache.write(10, blockOf(1), { dirty: true }); // a dirty copy the write-around makes stale
    await cache.read(12, 1); // a clean copy, likewise
    const big = new Uint8Array(8 * B);
    for (let i = 0; i < 8; i++) big.set(blockOf(100 + i), i * B);
    dev.auto = false;
    const around = cache.writeAround(8, big);
    await flushMicrotasks();
    expect(dev.heldCount).toBe(1);
    expect(cache.has(10) || cache.has(12)).toBe(false);
    const read = cache.read(9, 2); // issued while the write is in flight: sees it
    const later = cache.write(11, blockOf(7), { dirty: true }); // must land after it
    await flushMicrotasks();
    expect(dev.heldCount).toBe(1); // neither went to the device yet
    dev.auto = true;
    dev.release();
    await around;
    expect([...(await read)].length).toBe(2 * B);
    expect([tagOf(await read, 0), tagOf(await read, 1)]).toEqual([101, 102]);
    await later;
    await cache.writeBackAll();
    expect(tagOf(dev.stored.get(10)!)).toBe(102); // the stale dirty copy never overwrote it
    expect(tagOf(dev.stored.get(11)!)).toBe(7); // the later write won
    expect(dev.writes[0]).toEqual([8, 8]);
  });

  it('reads large runs of uncached blocks around the cache, and caches runs it already knows', async () => {
    const dev = new FakeDevice();
    const cache = new BlockCache(dev, 64 * B);
    for (let i = 0; i < 40; i++) dev.stored.set(i, blockOf(500 + i));
    const big = await cache.read(0, 16);
    expect(tagOf(big, 15)).toBe(515);
    expect(cache.residentBlocks).toBe(0);
    expect(cache.stats()).toMatchObject({ readArounds: 1, misses: 0 });
    await cache.write(20, blockOf(9), { dirty: true }); // newer than the device's copy
    const mixed = await cache.read(16, 16);
    expect(tagOf(mixed, 4)).toBe(9);
    expect(tagOf(mixed, 5)).toBe(521);
    expect(cache.stats().readArounds).toBe(1);
    expect(cache.residentBlocks).toBe(16);
  });

  it('falls back to a cached write when a block it covers is being read', async () => {
    const dev = new FakeDevice();
    const cache = new BlockCache(dev, 64 * B);
    dev.auto = false;
    const read = cache.read(5, 1);
    await flushMicrotasks();
    const around = cache.writeAround(4, new Uint8Array(4 * B).fill(9));
    await flushMicrotasks();
    expect(cache.isDirty(5)).toBe(true); // cached, not sent around the in-flight read
    dev.auto = true;
    dev.release();
    await read;
    await around;
    expect((await cache.read(5, 1))[0]).toBe(9);
  });

  it('agrees with a map model under random reads and writes over a slow device', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ write: fc.boolean(), dirty: fc.boolean(), around: fc.boolean(), block: fc.nat(40), count: fc.integer({ min: 1, max: 4 }), tag: fc.nat() }), { maxLength: 80 }),
        fc.integer({ min: 16, max: 24 }),
        async (ops, capacity) => {
          const dev = new FakeDevice();
          const cache = new BlockCache(dev, capacity * B);
          const model = new Map<number, number>();
          const lastWasDirty = new Map<number, boolean>();
          let pending: Promise<void>[] = [];
          // A read may return the value at its start or any value written while it is in flight.
          let inFlightReads: Map<number, Set<number>>[] = [];
          for (const op of ops) {
            if (op.write) {
              const data = new Uint8Array(op.count * B);
              for (let i = 0; i < op.count; i++) {
                data.set(blockOf(op.tag + i), i * B);
                model.set(op.block + i, op.tag + i);
                for (const r of inFlightReads) r.get(op.block + i)?.add(op.tag + i);
              }
              // A clean write means "already durable elsewhere" (the journal): mirror that in the device's overlay; a dirty one
              // (or a write-around: the store checkpoints the journal's image of a block before it) supersedes it.
              const dirty = op.dirty || op.around;
              for (let i = 0; i < op.count; i++) {
                lastWasDirty.set(op.block + i, dirty);
                if (dirty) dev.overlay.delete(op.block + i);
                else dev.overlay.set(op.block + i, blockOf(op.tag + i));
              }
              pending.push(op.around ? cache.writeAround(op.block, data) : cache.write(op.block, data, { dirty: op.dirty }));
            } else {
              const allowed = new Map([...Array(op.count).keys()].map((i) => [op.block + i, new Set([model.get(op.block + i) ?? 0])]));
              inFlightReads.push(allowed);
              pending.push(
                cache.read(op.block, op.count).then((bytes) => {
                  for (let i = 0; i < op.count; i++) expect(allowed.get(op.block + i)!.has(tagOf(bytes, i))).toBe(true);
                }),
              );
            }
            if (pending.length > 3) {
              await Promise.all(pending);
              pending = [];
              inFlightReads = [];
            }
          }
          await Promise.all(pending);
          await cache.writeBackAll();
          // Dirty data reached the device; clean data is "durable elsewhere" (the journal, in the service), so only the cache view is checked for it.
          for (const [b, tag] of model) {
            if (lastWasDirty.get(b)) expect(tagOf(dev.stored.get(b)!)).toBe(tag);
            expect(tagOf(await cache.read(b, 1))).toBe(tag);
          }
          expect(cache.residentBlocks).toBeLessThanOrEqual(capacity);
        },
      ),
      { numRuns: 100 },
    );
  });
});
