// Frames and the chain: known-answer vectors (checked independently by vectors-check.py),
// the four end-of-log tests in order, and tampering: any one changed byte of any record
// is caught and the record is named by its seq.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encode } from '../../kernel/codec.ts';
import { genesisHash, nobleBlake3, verifyChain } from '../../axiom/chain.ts';
import { checkFrame, encodeFrame, frameLengthOf, FRAME_OFFSET } from '../../axiom/frame.ts';
import { RECORD_TYPES, decodeRecordPayload, type RecordTypeName } from '../../axiom/records.ts';
import vectors from './vectors.json' with { type: 'json' };

const fromHex = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const revive = (v: unknown): unknown =>
  JSON.parse(JSON.stringify(v), (_k, x) => (x && typeof x === 'object' && '$bytes' in x ? fromHex(x.$bytes as string) : x));

const logId = fromHex(vectors.logIdHex);
const genesis = genesisHash(logId, nobleBlake3);
const frames = vectors.records.map((r) => fromHex(r.frameHex));

describe('known-answer vectors', () => {
  it('reproduces the genesis hash, payload bytes, frames and chain hashes', () => {
    expect(hex(genesis)).toBe(vectors.genesisHex);
    let prev = genesis;
    for (const r of vectors.records) {
      const row = RECORD_TYPES[r.type as RecordTypeName];
      expect(row.code).toBe(r.typeCode);
      const payload = encode(row.validate(revive(r.payload)));
      expect(hex(payload)).toBe(r.payloadHex);
      const { bytes, hash } = encodeFrame({ seq: r.seq, txid: r.txid, epoch: r.epoch, typeCode: r.typeCode, payload }, prev, nobleBlake3);
      expect(hex(bytes)).toBe(r.frameHex);
      expect(hex(hash)).toBe(r.hashHex);
      prev = hash;
    }
  });

  it('verifies the vector chain and decodes every payload back', () => {
    const verdict = verifyChain(frames, 1, genesis, nobleBlake3);
    expect(verdict).toMatchObject({ ok: true, lastSeq: vectors.records.length });
    vectors.records.forEach((r, i) => {
      const check = checkFrame(frames[i], r.seq, i === 0 ? genesis : fromHex(vectors.records[i - 1].hashHex), nobleBlake3);
      expect(check.ok).toBe(true);
      if (!check.ok) return;
      expect(check.frame).toMatchObject({ seq: r.seq, txid: r.txid, epoch: r.epoch, typeCode: r.typeCode, flags: 0 });
      expect(decodeRecordPayload(check.frame.typeCode, check.frame.payload, r.seq).payload).toEqual(revive(r.payload));
    });
  });

  it('reports length, checksum, seq and chain failures in that order', () => {
    const f = frames[0];
    expect(checkFrame(f.subarray(0, 40), 1, genesis, nobleBlake3)).toMatchObject({ ok: false, reason: 'length' });
    const torn = f.slice();
    torn[torn.length - 1] ^= 1;
    expect(checkFrame(torn, 1, genesis, nobleBlake3)).toMatchObject({ ok: false, reason: 'checksum' });
    expect(checkFrame(f, 2, genesis, nobleBlake3)).toMatchObject({ ok: false, reason: 'seq' });
    expect(checkFrame(f, 1, new Uint8Array(32), nobleBlake3)).toMatchObject({ ok: false, reason: 'chain' });
    expect(frameLengthOf(new Uint8Array(64))).toBe(-1); // zeros: the end of a log never written
    expect(frameLengthOf(f)).toBe(f.length);
  });

  it('rejects a well-checksummed frame that does not chain (debris of another epoch)', () => {
    const payload = fromHex(vectors.records[1].payloadHex);
    const prev = fromHex(vectors.records[0].hashHex);
    const other = encodeFrame({ seq: 2, txid: 1, epoch: 7, typeCode: 16, payload }, prev, nobleBlake3);
    // Same seq, same predecessor, different epoch: both check against their own predecessor...
    expect(checkFrame(other.bytes, 2, prev, nobleBlake3).ok).toBe(true);
    // ...but record 3 of the vectors chains only from the original record 2.
    expect(checkFrame(frames[2], 3, other.hash, nobleBlake3)).toMatchObject({ ok: false, reason: 'chain' });
  });
});

describe('tampering', () => {
  it('names the record whenever any one byte of any committed record changes', () => {
    for (let r = 0; r < frames.length; r++) {
      for (let offset = 0; offset < frames[r].length; offset++) {
        const copy = frames.map((f) => f.slice());
        copy[r][offset] ^= 0x5a;
        const verdict = verifyChain(copy, 1, genesis, nobleBlake3);
        expect(verdict.ok, `record ${r + 1} byte ${offset}`).toBe(false);
        if (!verdict.ok) expect(verdict.seq).toBe(r + 1);
      }
    }
  });

  it('catches a forger who fixes the checksum: the chain names the record', () => {
    const copy = frames.map((f) => f.slice());
    const target = copy[3];
    target[FRAME_OFFSET.payload + 2] ^= 1;
    // Recompute the checksum as a forger would; the hash link still breaks.
    const check = encodeFrame(
      { seq: 4, txid: 4, epoch: 2, typeCode: vectors.records[3].typeCode, payload: target.subarray(FRAME_OFFSET.payload) },
      fromHex(vectors.records[2].hashHex),
      nobleBlake3,
    );
    // A forger who rewrites the hash too only moves the failure to the next record.
    const forgedFixedHash = check.bytes;
    const withFixedHash = [...copy.slice(0, 3), forgedFixedHash, ...copy.slice(4)];
    expect(verifyChain(withFixedHash, 1, genesis, nobleBlake3)).toMatchObject({ ok: false, seq: 5, reason: 'chain' });
  });

  it('property: random single-byte changes in a random chain are named', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 80 }), { minLength: 1, maxLength: 12 }),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (payloads, pick, at, xor) => {
          let prev = genesis;
          const fs = payloads.map((p, i) => {
            const { bytes, hash } = encodeFrame({ seq: i + 1, txid: 1, epoch: 1, typeCode: 2, payload: p }, prev, nobleBlake3);
            prev = hash;
            return bytes;
          });
          if (!verifyChain(fs, 1, genesis, nobleBlake3).ok) return false;
          const r = pick % fs.length;
          fs[r][at % fs[r].length] ^= xor;
          const verdict = verifyChain(fs, 1, genesis, nobleBlake3);
          return !verdict.ok && verdict.seq === r + 1;
        },
      ),
    );
  });
});
