// The codec's fast path against msgpackr itself: the same bytes for every value it covers
// (the on-disk records and trees are encoded with it too), the same values for any bytes
// msgpackr decodes, the same errors for bytes it refuses, and Buffers for bin fields.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { decode, encode } from '../../kernel/codec.ts';

const reference = new Packr({ useRecords: false, moreTypes: false, variableMapSize: true });

/** Values of the shapes messages have, including ones the fast path hands to msgpackr. */
const value = fc.letrec((tie) => ({
  leaf: fc.oneof(
    fc.integer(),
    fc.integer({ min: -0x90, max: 0x110 }),
    fc.constantFrom(0, -0, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 2 ** 32, -0x20, -0x21, -0x80, -0x81, -0x8000, -0x8001, -(2 ** 31), -(2 ** 31) - 1),
    fc.maxSafeInteger(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.string({ maxLength: 80 }),
    fc.string({ unit: 'grapheme', maxLength: 10 }),
    fc.uint8Array({ maxLength: 300 }),
    fc.uint8Array({ maxLength: 10 }).map((b) => Buffer.from(b)),
    fc.constant(undefined),
    fc.constant(new Map([['a', 1]])),
    fc.constant(new Set([1])),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    fc.constant(new Date(5)),
  ),
  node: fc.oneof({ depthSize: 'small' }, tie('leaf'), tie('array'), tie('object')),
  array: fc.array(tie('node'), { maxLength: 20 }),
  object: fc.dictionary(fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('__proto__', '1', 'é')), tie('node'), { maxKeys: 20 }),
})).node;

describe('codec', () => {
  it('encodes every value to msgpackr\'s bytes and decodes them to msgpackr\'s value', () => {
    fc.assert(
      fc.property(value, (v) => {
        const ours = encode(v);
        const theirs = reference.pack(v);
        expect(Buffer.from(ours).equals(Buffer.from(theirs))).toBe(true);
        expect(decode(ours)).toStrictEqual(reference.unpack(theirs));
      }),
      { numRuns: 3000 },
    );
  });

  it('covers big maps, arrays, strings and bins (16- and 32-bit headers)', () => {
    const big = {
      list: Array.from({ length: 70_000 }, (_, i) => i % 300),
      map: Object.fromEntries(Array.from({ length: 70_000 }, (_, i) => [`k${i}`, i])),
      s: 'x'.repeat(70_000),
      s2: 'y'.repeat(300),
      bin: new Uint8Array(70_000).fill(3),
    };
    const ours = encode(big);
    expect(Buffer.from(ours).equals(Buffer.from(reference.pack(big)))).toBe(true);
    expect(decode(ours)).toStrictEqual(reference.unpack(ours));
  });

  it('decodes any bytes as msgpackr does, or fails where it fails', () => {
    const outcome = (f: () => unknown) => {
      try {
        return { ok: true, v: f() };
      } catch {
        return { ok: false };
      }
    };
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      value.map((v) => {
        const b = reference.pack(v);
        return b.subarray(0, Math.max(0, b.length - 1)); // truncated
      }),
      value.map((v) => Buffer.concat([reference.pack(v), Buffer.from([0])])), // trailing byte
    );
    fc.assert(
      fc.property(bytes, (b) => {
        const ours = outcome(() => decode(b));
        const theirs = outcome(() => reference.unpack(b));
        expect(ours.ok).toBe(theirs.ok);
        if (ours.ok) expect(ours.v).toStrictEqual(theirs.v);
      }),
      { numRuns: 3000 },
    );
  });

  it('never lets one message\'s bytes change when later ones are encoded', () => {
    const first = encode({ data: new Uint8Array(40_000).fill(1) });
    const copy = Buffer.from(first);
    for (let i = 0; i < 100; i++) encode({ data: new Uint8Array(30_000).fill(2), i });
    expect(Buffer.from(first).equals(copy)).toBe(true);
  });

  it('decodes bin fields as Buffers over the message bytes', () => {
    const got = decode(encode({ data: new Uint8Array([1, 2, 3]) })) as { data: Uint8Array };
    expect(Buffer.isBuffer(got.data)).toBe(true);
    expect([...got.data]).toEqual([1, 2, 3]);
  });
});
