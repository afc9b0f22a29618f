// The 9P2000.L codec: every message round-trips; known byte layouts match Linux's; short,
// long, mislabelled and random input is refused with WireError/UnknownMessageError only.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  decodeDirents,
  decodeMessage,
  encodeMessage,
  MESSAGES,
  UnknownMessageError,
  WireError,
  writeDirent,
  type Body,
  type MessageName,
} from '../../services/9p/codec.ts';
import { WireWriter } from '../../services/9p/wire.ts';
import { WALK_NAMES_MAX_9P } from '../../services/9p/limits.ts';

const str = fc.string({ unit: 'grapheme', maxLength: 24 }).filter((s) => !s.includes('\0'));
const qid = fc.record({ type: fc.nat(255), version: fc.nat(0xffffffff), path: fc.maxSafeNat() });
const KIND: Record<string, fc.Arbitrary<unknown>> = {
  u8: fc.nat(255),
  u16: fc.nat(0xffff),
  u32: fc.nat(0xffffffff),
  u64: fc.maxSafeNat(),
  str,
  qid,
  strs: fc.array(str, { maxLength: WALK_NAMES_MAX_9P }),
  qids: fc.array(qid, { maxLength: WALK_NAMES_MAX_9P }),
  data: fc.uint8Array({ maxLength: 300 }),
  u32opt: fc.option(fc.nat(0xffffffff), { nil: undefined }),
};

function bodyArb(name: MessageName): fc.Arbitrary<Record<string, unknown>> {
  const fields = MESSAGES[name].fields as readonly (readonly [string, string])[];
  return fc.record(Object.fromEntries(fields.map(([f, k]) => [f, KIND[k]])));
}

const anyMessage = fc.constantFrom(...(Object.keys(MESSAGES) as MessageName[])).chain((name) =>
  fc.tuple(fc.constant(name), fc.nat(0xffff), bodyArb(name)),
);

function withSize(bytes: Uint8Array, size = bytes.length): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setUint32(0, size, true);
  return out;
}

function onlyWireErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof WireError) && !(e instanceof UnknownMessageError)) throw e;
  }
}

describe('9P codec', () => {
  it('round-trips every message type with arbitrary fields', () => {
    fc.assert(
      fc.property(anyMessage, ([name, tag, body]) => {
        const bytes = encodeMessage(name, tag, body as Body<typeof name>);
        expect(new DataView(bytes.buffer).getUint32(0, true)).toBe(bytes.length);
        const back = decodeMessage(bytes);
        expect(back.name).toBe(name);
        expect(back.tag).toBe(tag);
        expect(back.body).toEqual(body);
      }),
      { numRuns: 3000 },
    );
  });

  it('lays out Tversion, Twalk and Rlerror as Linux does', () => {
    // size[4] type[1]=100 tag[2]=0xffff msize[4]=8192 version[s]="9P2000.L"
    expect([...encodeMessage('Tversion', 0xffff, { msize: 8192, version: '9P2000.L' })]).toEqual([
      21, 0, 0, 0, 100, 0xff, 0xff, 0x00, 0x20, 0, 0, 8, 0, ...new TextEncoder().encode('9P2000.L'),
    ]);
    expect([...encodeMessage('Twalk', 1, { fid: 1, newfid: 2, wnames: ['a', 'bc'] })]).toEqual([
      24, 0, 0, 0, 110, 1, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 0, 1, 0, 97, 2, 0, 98, 99,
    ]);
    expect([...encodeMessage('Rlerror', 7, { ecode: 2 })]).toEqual([11, 0, 0, 0, 7, 7, 0, 2, 0, 0, 0]);
    // Tfsync from clients older than Linux 3.x has no datasync field.
    expect(decodeMessage(withSize(new Uint8Array([0, 0, 0, 0, 50, 3, 0, 9, 0, 0, 0]))).body).toEqual({ fid: 9, datasync: undefined });
  });

  it('refuses every truncation of a valid message', () => {
    fc.assert(
      fc.property(anyMessage, fc.nat(), ([name, tag, body], cut) => {
        const bytes = encodeMessage(name, tag, body as Body<typeof name>);
        if (bytes.length <= 7) return;
        const keep = 7 + (cut % (bytes.length - 7));
        const short = bytes.slice(0, keep);
        // With the original size field the frame is shorter than it claims.
        expect(() => decodeMessage(short)).toThrow(WireError);
        // With a corrected size field some field runs past the end (Tfsync may drop datasync).
        if (name === 'Tfsync' && keep === 11) return;
        expect(() => decodeMessage(withSize(short))).toThrow(WireError);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses trailing bytes after the last field', () => {
    fc.assert(
      fc.property(anyMessage, fc.uint8Array({ minLength: 1, maxLength: 3 }), ([name, tag, body], extra) => {
        const bytes = encodeMessage(name, tag, body as Body<typeof name>);
        const longer = new Uint8Array(bytes.length + extra.length);
        longer.set(bytes);
        longer.set(extra, bytes.length);
        expect(() => decodeMessage(withSize(longer))).toThrow(WireError);
      }),
      { numRuns: 1000 },
    );
  });

  it('throws nothing but WireError or UnknownMessageError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, fixSize) => {
        onlyWireErrors(() => decodeMessage(fixSize && bytes.length >= 4 ? withSize(bytes) : bytes));
      }),
      { numRuns: 5000 },
    );
  });

  it('bounds strings, name lists and 8-byte integers', () => {
    const w = new WireWriter();
    w.u32(0).u8(110).u16(1).u32(1).u32(2).u16(WALK_NAMES_MAX_9P + 1);
    expect(() => decodeMessage(withSize(w.finish()))).toThrow(/at most 16/);
    const huge = withSize(new Uint8Array([0, 0, 0, 0, 116, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0, 1, 0, 0]));
    expect(() => decodeMessage(huge)).toThrow(/2\^53/);
    const nul = withSize(new Uint8Array([0, 0, 0, 0, 100, 1, 0, 0, 0x10, 0, 0, 3, 0, 0x39, 0, 0x50]));
    expect(() => decodeMessage(nul)).toThrow(/NUL/);
    const badUtf8 = withSize(new Uint8Array([0, 0, 0, 0, 100, 1, 0, 0, 0x10, 0, 0, 2, 0, 0xc3, 0x28]));
    expect(() => decodeMessage(badUtf8)).toThrow(/UTF-8/);
    expect(() => decodeMessage(new Uint8Array([0xff, 0xff, 0xff, 0x7f, 100, 0, 0]))).toThrow(WireError);
    expect(() => decodeMessage(withSize(new Uint8Array([0, 0, 0, 0, 99, 5, 0])))).toThrow(UnknownMessageError);
  });

  it('round-trips directory entries', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ qid, offset: fc.maxSafeNat(), type: fc.nat(255), name: str }), { maxLength: 20 }), (entries) => {
        const w = new WireWriter();
        for (const e of entries) writeDirent(w, e);
        expect(decodeDirents(w.finish())).toEqual(entries);
      }),
    );
  });
});
