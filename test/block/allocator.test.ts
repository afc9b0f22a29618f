// Allocator against a reference Set model (fast-check): no block handed out twice, frees
// reused, counts right across "reboots" (bitmap persisted through its encoded blocks and
// decoded again), NOSPC / NOTALLOCATED / RANGE refusals change nothing.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Allocator } from '../../services/block/allocator.ts';
import { ServiceError } from '../../kernel/errors.ts';
import { bitmapBytesFor, checksumSeed, decodeBitmapBlock, encodeBitmapBlock, initialBitmap, layoutFor, parseUuid, type Extent, type Layout } from '../../services/block/format/index.ts';

const seed = checksumSeed(parseUuid('0f0e0d0c0b0a09080706050403020100'));
const layout = layoutFor(16 * 1024 * 1024); // data region of ~2.8k blocks: small enough to fill

function code(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (e instanceof ServiceError) return e.code;
    throw e;
  }
}

/** Persists dirty bitmap blocks into `disk` and can rebuild an allocator from it (a reboot). */
class PersistedBitmap {
  readonly disk = new Map<number, Uint8Array>();
  constructor(readonly layout: Layout) {}
  persist(a: Allocator): void {
    for (const w of a.takeDirty(seed)) this.disk.set(w.blockIndex, w.data);
  }
  reboot(): Allocator {
    const bits = new Uint8Array(bitmapBytesFor(this.layout));
    for (let k = 0; k < this.layout.bitmap.blockCount; k++) decodeBitmapBlock(this.disk.get(this.layout.bitmap.blockIndex + k)!, k, this.layout, seed, bits);
    return new Allocator(this.layout, bits);
  }
}

type Op =
  | { kind: 'alloc'; count: number; contiguous: boolean }
  | { kind: 'free'; pick: number; part: number }
  | { kind: 'doubleFree'; pick: number }
  | { kind: 'freeNever'; offset: number }
  | { kind: 'freeOutside'; which: number }
  | { kind: 'reboot' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('alloc' as const), count: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 1500 })), contiguous: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('free' as const), pick: fc.nat(), part: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('doubleFree' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('freeNever' as const), offset: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('freeOutside' as const), which: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reboot' as const }) },
);

describe('Allocator vs a Set model', () => {
  it('agrees on every sequence of operations, across reboots', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 120 }), (ops) => {
        const disk = new PersistedBitmap(layout);
        const fresh = initialBitmap(layout);
        for (let k = 0; k < layout.bitmap.blockCount; k++) disk.disk.set(layout.bitmap.blockIndex + k, encodeBitmapBlock(fresh, k, layout, seed));
        let a = new Allocator(layout, fresh);
        const model = new Set<number>();
        const owned: Extent[] = [];
        const freed: Extent[] = [];
        const dataStart = layout.data.blockIndex;
        const dataCount = layout.data.blockCount;
        for (const op of ops) {
          const freeBefore = a.freeBlockCount;
          switch (op.kind) {
            case 'alloc': {
              const r = code(() => {
                const extents = a.allocate(op.count, { contiguous: op.contiguous });
                let n = 0;
                for (const e of extents) {
                  for (let b = e.blockIndex; b < e.blockIndex + e.blockCount; b++) {
                    expect(model.has(b), `block ${b} handed out twice`).toBe(false);
                    expect(b >= dataStart && b < dataStart + dataCount).toBe(true);
                    model.add(b);
                  }
                  n += e.blockCount;
                  owned.push(e);
                }
                expect(n).toBe(op.count);
                if (op.contiguous) expect(extents.length).toBe(1);
              });
              if (r !== 'ok') {
                expect(r).toBe('NOSPC');
                expect(a.freeBlockCount).toBe(freeBefore);
                if (!op.contiguous) expect(op.count).toBeGreaterThan(dataCount - model.size);
              }
              break;
            }
            case 'free': {
              if (owned.length === 0) break;
              const i = op.pick % owned.length;
              const e = owned[i];
              // Free a prefix of the extent (exercises partial frees), keep the rest.
              const n = 1 + (op.part % e.blockCount);
              expect(code(() => a.free([{ blockIndex: e.blockIndex, blockCount: n }]))).toBe('ok');
              for (let b = e.blockIndex; b < e.blockIndex + n; b++) model.delete(b);
              freed.push({ blockIndex: e.blockIndex, blockCount: n });
              if (n === e.blockCount) owned.splice(i, 1);
              else owned[i] = { blockIndex: e.blockIndex + n, blockCount: e.blockCount - n };
              break;
            }
            case 'doubleFree': {
              if (freed.length === 0) break;
              const e = freed[op.pick % freed.length];
              const stillFree = [...Array(e.blockCount).keys()].some((k) => !model.has(e.blockIndex + k));
              const r = code(() => a.free([e]));
              if (stillFree) {
                expect(r).toBe('NOTALLOCATED');
                expect(a.freeBlockCount).toBe(freeBefore);
              } else {
                // Every block of it was reallocated since: this is a legal free of the new owner's blocks; undo it in the model.
                expect(r).toBe('ok');
                for (let b = e.blockIndex; b < e.blockIndex + e.blockCount; b++) model.delete(b);
                for (let j = owned.length - 1; j >= 0; j--) {
                  const o = owned[j];
                  if (o.blockIndex < e.blockIndex + e.blockCount && e.blockIndex < o.blockIndex + o.blockCount) {
                    owned.splice(j, 1);
                    for (let b = o.blockIndex; b < o.blockIndex + o.blockCount; b++) {
                      if (b < e.blockIndex || b >= e.blockIndex + e.blockCount) owned.push({ blockIndex: b, blockCount: 1 });
                    }
                  }
                }
              }
              break;
            }
            case 'freeNever': {
              const b = dataStart + (op.offset % dataCount);
              const r = code(() => a.free([{ blockIndex: b, blockCount: 1 }]));
              expect(r).toBe(model.has(b) ? 'ok' : 'NOTALLOCATED');
              if (r === 'ok') {
                model.delete(b);
                for (let j = owned.length - 1; j >= 0; j--) {
                  const o = owned[j];
                  if (b >= o.blockIndex && b < o.blockIndex + o.blockCount) {
                    owned.splice(j, 1);
                    if (b > o.blockIndex) owned.push({ blockIndex: o.blockIndex, blockCount: b - o.blockIndex });
                    if (b + 1 < o.blockIndex + o.blockCount) owned.push({ blockIndex: b + 1, blockCount: o.blockIndex + o.blockCount - b - 1 });
                  }
                }
              } else expect(a.freeBlockCount).toBe(freeBefore);
              break;
            }
            case 'freeOutside': {
              const bad = [
                { blockIndex: 0, blockCount: 1 },
                { blockIndex: layout.axiom.blockIndex, blockCount: 2 },
                { blockIndex: dataStart + dataCount - 1, blockCount: 2 },
                { blockIndex: layout.journal.blockIndex, blockCount: 1 },
              ][op.which];
              expect(code(() => a.free([bad]))).toBe('RANGE');
              expect(a.freeBlockCount).toBe(freeBefore);
              break;
            }
            case 'reboot':
              disk.persist(a);
              a = disk.reboot();
              break;
          }
          expect(a.freeBlockCount).toBe(dataCount - model.size);
        }
        a.checkConsistency();
        disk.persist(a);
        const after = disk.reboot();
        expect(after.freeBlockCount).toBe(dataCount - model.size);
        for (const b of model) expect(after.isAllocated(b)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('Allocator policy and refusals', () => {
  it('serves a large request from one run when one exists, and reuses freed blocks', () => {
    const a = new Allocator(layout, initialBitmap(layout));
    const [x] = a.allocate(10);
    const [y] = a.allocate(10);
    expect(y.blockIndex).toBe(x.blockIndex + 10); // next-fit: consecutive
    a.free([x]);
    const big = a.allocate(500);
    expect(big).toHaveLength(1); // not split across the 10-block hole
    const all = a.allocate(a.freeBlockCount); // takes everything, including the hole
    expect(all.some((e) => e.blockIndex === x.blockIndex)).toBe(true);
    expect(a.freeBlockCount).toBe(0);
    expect(code(() => a.allocate(1))).toBe('NOSPC');
    a.checkConsistency();
  });
  it('refuses a contiguous request that only fits in pieces, changing nothing', () => {
    const a = new Allocator(layout, initialBitmap(layout));
    const blocks = a.allocate(layout.data.blockCount);
    expect(blocks).toHaveLength(1);
    const d = layout.data.blockIndex;
    a.free([
      { blockIndex: d + 100, blockCount: 50 },
      { blockIndex: d + 300, blockCount: 50 },
    ]);
    a.takeDirty(seed);
    expect(code(() => a.allocate(60, { contiguous: true }))).toBe('NOSPC');
    expect(a.freeBlockCount).toBe(100);
    expect(a.dirtyCount).toBe(0);
    const pieces = a.allocate(60);
    expect(pieces.map((e) => e.blockCount).reduce((s, n) => s + n)).toBe(60);
    expect(pieces.length).toBe(2);
  });
  it('rejects overlapping extents in one free and frees nothing', () => {
    const a = new Allocator(layout, initialBitmap(layout));
    const [x] = a.allocate(20);
    expect(code(() => a.free([{ blockIndex: x.blockIndex, blockCount: 10 }, { blockIndex: x.blockIndex + 5, blockCount: 10 }]))).toBe('BADMSG');
    expect(a.freeBlockCount).toBe(layout.data.blockCount - 20);
  });
  it('frees all-or-nothing when one extent of many is not allocated', () => {
    const a = new Allocator(layout, initialBitmap(layout));
    const [x] = a.allocate(20);
    expect(code(() => a.free([{ blockIndex: x.blockIndex, blockCount: 10 }, { blockIndex: x.blockIndex + 20, blockCount: 1 }]))).toBe('NOTALLOCATED');
    expect(a.freeBlockCount).toBe(layout.data.blockCount - 20);
    expect(a.isAllocated(x.blockIndex)).toBe(true);
  });
});
