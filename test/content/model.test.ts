// Property test: the content store against a model map. Random put / ref / unref / gc /
// reboot (power cut: unflushed writes lost) and concurrent groups of puts, refs and a
// gc, then a final reboot. After every step: every chunk with references reads back
// exactly what was put and has the model's refcount; gc removed exactly the unreferenced,
// unrooted chunks (so stored bytes drop after unref + gc); the index's totals match a
// recount; allocated blocks are exactly the chunks' blocks plus the pool.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mountStore, runGc } from '../../services/content/gc.ts';
import { checkpointWith } from '../../services/content/image.ts';
import { hashChunk } from '../../services/content/hash.ts';
import { hexOf } from '../../services/content/errors.ts';
import type { ContentStore } from '../../services/content/store.ts';
import { MemoryBlockPort, MemoryLog } from './memory-ports.ts';
import { codeOf, patterned } from '../helpers/stack.ts';

const CONTENTS = Array.from({ length: 12 }, (_, i) => patterned([0, 1, 4095, 4096, 4097, 9000, 20_000, 65_536, 100, 3, 12_345, 70_000][i], 500 + i));
const HEX = CONTENTS.map((c) => hexOf(hashChunk(c)));

type Op =
  | { k: 'put'; i: number }
  | { k: 'ref'; i: number }
  | { k: 'unref'; i: number }
  | { k: 'gc'; roots: number[] }
  | { k: 'reboot' }
  | { k: 'checkpoint' }
  | { k: 'together'; puts: number[]; refs: number[]; gc: boolean };

const idx = fc.integer({ min: 0, max: CONTENTS.length - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: idx.map((i) => ({ k: 'put' as const, i })) },
  { weight: 2, arbitrary: idx.map((i) => ({ k: 'ref' as const, i })) },
  { weight: 4, arbitrary: idx.map((i) => ({ k: 'unref' as const, i })) },
  { weight: 2, arbitrary: fc.array(idx, { maxLength: 3 }).map((roots) => ({ k: 'gc' as const, roots })) },
  { weight: 1, arbitrary: fc.constant({ k: 'reboot' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'checkpoint' as const }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('together' as const), puts: fc.array(idx, { maxLength: 5 }), refs: fc.array(idx, { maxLength: 3 }), gc: fc.boolean() }) },
);

class Model {
  refs = new Map<number, number>(); // chunks present in the store, by content index
  apply(op: Op): void {
    switch (op.k) {
      case 'put':
        this.refs.set(op.i, (this.refs.get(op.i) ?? 0) + 1);
        return;
      case 'ref':
        if (this.refs.has(op.i)) this.refs.set(op.i, this.refs.get(op.i)! + 1);
        return;
      case 'unref':
        if ((this.refs.get(op.i) ?? 0) > 0) this.refs.set(op.i, this.refs.get(op.i)! - 1);
        return;
      case 'gc':
        for (const [i, n] of this.refs) if (n === 0 && !op.roots.includes(i)) this.refs.delete(i);
        return;
      default:
        return;
    }
  }
}

async function check(store: ContentStore, blocks: MemoryBlockPort, model: Model): Promise<void> {
  store.index.audit();
  expect(store.index.anomalies).toBe(0);
  expect(store.index.size).toBe(model.refs.size);
  let stored = 0;
  for (const [i, n] of model.refs) {
    const h = hashChunk(CONTENTS[i]);
    expect(store.stat(h).refcount).toBe(n);
    stored += CONTENTS[i].length;
    if (n > 0) expect(Buffer.from(await store.get(h)).equals(Buffer.from(CONTENTS[i]))).toBe(true);
  }
  for (let i = 0; i < CONTENTS.length; i++) if (!model.refs.has(i)) expect(store.has(hashChunk(CONTENTS[i]))).toBe(false);
  expect(store.stats().storedBytes).toBe(stored);
  expect(blocks.allocated.size * 4096).toBe(store.stats().allocatedBytes + (store.pool.blocks + store.stats().imageBlocks) * 4096);
}

async function run(ops: Op[]): Promise<void> {
  const blocks = new MemoryBlockPort(2048);
  const log = new MemoryLog();
  let store = (await mountStore(blocks, log)).store;
  const model = new Model();
  const h = (i: number) => hashChunk(CONTENTS[i]);
  for (const op of ops) {
    switch (op.k) {
      case 'put':
        expect(hexOf(await store.put(CONTENTS[op.i]))).toBe(HEX[op.i]);
        break;
      case 'ref':
        expect(await codeOf(store.ref([h(op.i)]))).toBe(model.refs.has(op.i) ? 'ok' : 'NOTFOUND');
        break;
      case 'unref': {
        const n = model.refs.get(op.i);
        expect(await codeOf(store.unref([h(op.i)]))).toBe(n === undefined ? 'NOTFOUND' : n > 0 ? 'ok' : 'REFCOUNT');
        break;
      }
      case 'gc': {
        const storedBefore = store.stats().storedBytes;
        const r = await runGc(store, op.roots.map(h));
        const swept = [...model.refs].filter(([i, n]) => n === 0 && !op.roots.includes(i)).map(([i]) => CONTENTS[i].length);
        expect(r.sweptChunks).toBe(swept.length);
        expect(store.stats().storedBytes).toBe(storedBefore - swept.reduce((a, b) => a + b, 0));
        break;
      }
      case 'checkpoint':
        await checkpointWith(store, { other: 'section' });
        break;
      case 'reboot':
        blocks.crash();
        store = (await mountStore(blocks, log)).store;
        break;
      case 'together': {
        // Only commutative work runs together: puts, refs of referenced chunks, one gc.
        const refs = op.refs.filter((i) => (model.refs.get(i) ?? 0) > 0);
        const work: Promise<unknown>[] = [...op.puts.map((i) => store.put(CONTENTS[i])), ...refs.map((i) => store.ref([h(i)]))];
        const orphansBefore = [...model.refs].filter(([, n]) => n === 0).map(([i]) => i);
        if (op.gc) work.push(runGc(store, []));
        await Promise.all(work);
        for (const i of refs) model.apply({ k: 'ref', i });
        for (const i of op.puts) model.apply({ k: 'put', i });
        if (op.gc) for (const i of orphansBefore) if (model.refs.get(i) === 0) model.refs.delete(i);
        break;
      }
    }
    if (op.k !== 'together') model.apply(op);
    await check(store, blocks, model);
  }
  blocks.crash();
  store = (await mountStore(blocks, log)).store;
  await check(store, blocks, model);
}

describe('content store against a model', () => {
  it('put/ref/unref/gc/reboot in random order keep every referenced chunk and drop the rest', async () => {
    await fc.assert(fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), run), { numRuns: 120, seed: 42 });
  });
});
