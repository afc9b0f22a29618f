// The clean-page cache against a small model (an array in recency order with a byte
// limit): hits and misses, least-recently-used eviction, hash and hex-key lookups that
// agree, hashes sharing a bucket prefix, pages kept as plain Uint8Arrays.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PageCache, hashKey } from '../../services/fs/pages.ts';

/** Hashes from a small pool; several share their first four bytes (one bucket). */
function poolHash(i: number): Uint8Array {
  const h = new Uint8Array(32);
  h[0] = 0xab;
  h[1] = i % 3; // pool entries 0, 3, 6 ... share a prefix
  h[2] = 0x10;
  h[3] = 0x01 | ((i % 3) << 2);
  h[31] = i;
  return h;
}

describe('PageCache', () => {
  it('behaves like an LRU list with a byte limit, by hash or by hex key', () => {
    const action = fc.oneof(
      fc.record({ kind: fc.constant('put' as const), i: fc.nat(11), sizeBytes: fc.integer({ min: 1, max: 40 }), byKey: fc.boolean() }),
      fc.record({ kind: fc.constant('get' as const), i: fc.nat(11), byKey: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 120 }), fc.array(action, { maxLength: 200 }), (limitBytes, actions) => {
        const cache = new PageCache(limitBytes);
        let model: { i: number; page: Uint8Array }[] = []; // oldest first
        let hits = 0;
        let misses = 0;
        for (const a of actions) {
          const hash = poolHash(a.i);
          if (a.kind === 'put') {
            const page = new Uint8Array(a.sizeBytes).fill(a.i + 1);
            if (a.byKey) cache.put(hashKey(hash), page);
            else cache.putByHash(hash, page);
            if (!model.some((m) => m.i === a.i)) {
              model.push({ i: a.i, page });
              let total = model.reduce((n, m) => n + m.page.length, 0);
              while (total > limitBytes && model.length) total -= model.shift()!.page.length;
            }
          } else {
            const got = a.byKey ? cache.get(hashKey(hash)) : cache.getByHash(hash);
            const at = model.findIndex((m) => m.i === a.i);
            if (at < 0) {
              misses++;
              expect(got).toBeUndefined();
            } else {
              hits++;
              expect(got).toBeDefined();
              expect([...got!]).toEqual([...model[at].page]);
              model.push(...model.splice(at, 1));
            }
          }
          expect(cache.hits).toBe(hits);
          expect(cache.misses).toBe(misses);
          expect(cache.size).toBe(model.length);
          expect(cache.bytes).toBe(model.reduce((n, m) => n + m.page.length, 0));
          expect([...cache.recency()].map((h) => h[31])).toEqual(model.map((m) => m.i));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('keeps the first page put under a hash, and hands back plain Uint8Arrays', () => {
    const cache = new PageCache(1 << 20);
    const h = poolHash(1);
    cache.putByHash(h, Buffer.from([1, 2, 3]));
    cache.put(hashKey(h), new Uint8Array([9, 9, 9]));
    const got = cache.getByHash(h)!;
    expect([...got]).toEqual([1, 2, 3]);
    expect(Buffer.isBuffer(got)).toBe(false);
    expect(got.subarray(1)).toBeInstanceOf(Uint8Array);
  });

  it('does not depend on the caller keeping the hash it put', () => {
    const cache = new PageCache(1 << 20);
    const h = poolHash(2);
    cache.putByHash(h, new Uint8Array([7]));
    h.fill(0);
    expect(cache.getByHash(poolHash(2))).toEqual(new Uint8Array([7]));
    expect(cache.getByHash(h)).toBeUndefined();
  });

  it('misses on a key that is not a hex hash and refuses to store one', () => {
    const cache = new PageCache(1 << 20);
    expect(cache.get('not hex')).toBeUndefined();
    expect(cache.get('')).toBeUndefined();
    expect(() => cache.put('zz', new Uint8Array(1))).toThrow(/not a hex hash/);
  });
});
