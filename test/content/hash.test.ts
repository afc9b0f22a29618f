// BLAKE3: every implementation that loads here gives the official known answers
// (test/content/vectors/blake3.json, from BLAKE3-team/BLAKE3), whole and streamed in
// pieces, and the fast ones agree with @noble/hashes on random inputs of every length
// around BLAKE3's 1024-byte chunk boundaries, block sizes and the native/wasm threshold.
import { describe, expect, it } from 'vitest';
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js';
import vectors from './vectors/blake3.json' with { type: 'json' };
import { blake3, blake3Implementation, blake3Implementations, hashChunk, axiomHasher } from '../../services/content/hash.ts';
import { HASH_NATIVE_MIN_BYTES } from '../../services/content/limits.ts';
import { patterned } from '../helpers/stack.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const vectorInput = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 251);
const impls = Object.entries(blake3Implementations);

describe('BLAKE3 implementations', () => {
  it('loads the native addon here and says so', () => {
    expect(Object.keys(blake3Implementations)).toEqual(expect.arrayContaining(['native', 'wasm', 'noble', 'chosen']));
    expect(blake3Implementation()).toMatch(/^native/);
    expect(blake3.name).toBe(blake3Implementation());
  });

  it('the vector file is the one we think (35 cases, 0..102400 bytes)', () => {
    expect(vectors.cases.length).toBe(35);
    expect(vectors.cases.at(-1)!.input_len).toBe(102400);
    // noble's extended output matches the whole 131-byte field: the file is read right.
    for (const c of vectors.cases) expect(hex(nobleBlake3(vectorInput(c.input_len), { dkLen: c.hash.length / 2 }))).toBe(c.hash);
  });

  for (const [name, impl] of impls) {
    it(`${name}: official vectors, whole`, () => {
      for (const c of vectors.cases) {
        const d = impl.hash(vectorInput(c.input_len));
        expect(d.length).toBe(32);
        expect(hex(d), `input_len ${c.input_len}`).toBe(c.hash.slice(0, 64));
      }
    });

    it(`${name}: official vectors, streamed in uneven pieces`, () => {
      for (const c of vectors.cases) {
        const input = vectorInput(c.input_len);
        for (const piece of [1, 63, 1024, 1500]) {
          if (piece === 1 && c.input_len > 5000) continue;
          const h = impl.createHasher();
          for (let at = 0; at < input.length; at += piece) h.update(input.subarray(at, at + piece));
          expect(hex(h.digest()), `input_len ${c.input_len} piece ${piece}`).toBe(c.hash.slice(0, 64));
        }
      }
    });
  }

  const lengths = new Set<number>();
  for (let n = 0; n <= 2048; n++) lengths.add(n);
  for (const center of [3072, 4096, 8192, 16384, 65536, HASH_NATIVE_MIN_BYTES, 1024 * 31, 1024 * 33]) {
    for (let d = -3; d <= 3; d++) lengths.add(center + d);
  }

  for (const [name, impl] of impls.filter(([n]) => n !== 'noble')) {
    it(`${name} agrees with @noble/hashes on random inputs of ${lengths.size} lengths`, () => {
      const big = patterned(70_000, 99);
      for (const n of lengths) {
        const input = big.subarray(n % 7, (n % 7) + n);
        expect(hex(impl.hash(input)), `length ${n}`).toBe(hex(nobleBlake3(input)));
      }
    });
  }

  it('digests are fresh arrays, never views of a reused buffer', () => {
    const a = blake3Implementations.wasm.hash(new Uint8Array([1]));
    const b = blake3Implementations.wasm.hash(new Uint8Array([2]));
    expect(hex(a)).not.toBe(hex(b));
    expect(hex(a)).toBe(hex(nobleBlake3(new Uint8Array([1]))));
    const c = hashChunk(new Uint8Array(10_000));
    const d = hashChunk(new Uint8Array(10_001));
    expect(hex(c)).toBe(hex(nobleBlake3(new Uint8Array(10_000))));
    expect(c.buffer).not.toBe(d.buffer);
  });

  it('hashes views of a SharedArrayBuffer (physical memory, grants) without crashing', () => {
    const sab = new Uint8Array(new SharedArrayBuffer(100_000));
    sab.set(patterned(100_000, 5));
    const plain = sab.slice(10, 70_010);
    for (const [, impl] of impls) {
      expect(hex(impl.hash(sab.subarray(10, 70_010)))).toBe(hex(nobleBlake3(plain)));
      expect(hex(impl.createHasher().update(sab.subarray(10, 40_010)).update(sab.subarray(40_010, 70_010)).digest())).toBe(hex(nobleBlake3(plain)));
    }
  });

  it('interleaved streams do not share state', () => {
    for (const [, impl] of impls) {
      const hs = Array.from({ length: 12 }, () => impl.createHasher());
      const inputs = hs.map((_, i) => patterned(5000 + i, i + 1));
      for (let at = 0; at < 6000; at += 700) hs.forEach((h, i) => h.update(inputs[i].subarray(at, at + 700)));
      hs.forEach((h, i) => expect(hex(h.digest())).toBe(hex(nobleBlake3(inputs[i]))));
    }
  });

  it('the Axiom hasher seam hashes the concatenation of its parts', () => {
    const a = patterned(3000, 1), b = patterned(20000, 2);
    const both = new Uint8Array(23000);
    both.set(a);
    both.set(b, 3000);
    expect(hex(axiomHasher.hash([a, b]))).toBe(hex(nobleBlake3(both)));
    expect(hex(axiomHasher.hash([a]))).toBe(hex(nobleBlake3(a)));
  });
});
