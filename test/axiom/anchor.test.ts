// The anchor slot: every field at the offset FORMAT.md gives, little-endian; any changed
// byte of the checksummed part invalidates the slot; a slot holds only its own parity.
import { describe, expect, it } from 'vitest';
import { decodeAnchor, encodeAnchor, type Anchor } from '../../axiom/anchor.ts';
import { crc32c } from '../../axiom/crc32c.ts';

const anchor: Anchor = {
  generation: 7,
  regionBlockCount: 1000,
  epoch: 3,
  logId: Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i),
  startPos: 2 ** 40 + 8,
  startSeq: 123_456,
  startPrevHash: new Uint8Array(32).fill(0x5c),
  checkpointSeq: 123_456,
  imageSizeBytesMax: 4096,
};

describe('anchor slot', () => {
  it('lays out every field as FORMAT.md says', () => {
    const block = encodeAnchor(anchor);
    const v = new DataView(block.buffer);
    expect(new TextDecoder().decode(block.subarray(0, 8))).toBe('AXIOMANC');
    expect([v.getUint16(8, true), v.getUint16(10, true), v.getUint32(12, true)]).toEqual([1, 128, 4096]);
    expect(v.getBigUint64(16, true)).toBe(7n);
    expect([v.getUint32(24, true), v.getUint32(28, true)]).toEqual([1000, 3]);
    expect(block.subarray(32, 48)).toEqual(anchor.logId);
    expect(v.getBigUint64(48, true)).toBe(BigInt(2 ** 40 + 8));
    expect(v.getBigUint64(56, true)).toBe(123_456n);
    expect(block.subarray(64, 96)).toEqual(anchor.startPrevHash);
    expect(v.getBigUint64(96, true)).toBe(123_456n);
    expect(v.getUint32(104, true)).toBe(4096);
    expect(block.subarray(108, 124).every((b) => b === 0)).toBe(true);
    expect(v.getUint32(124, true)).toBe(crc32c(block.subarray(0, 124)));
    expect(block.subarray(128).every((b) => b === 0)).toBe(true);
    expect(decodeAnchor(block, 1)).toEqual({ ok: true, anchor });
  });

  it('rejects a slot with any changed byte, the wrong parity, or all zeros', () => {
    const block = encodeAnchor(anchor);
    for (let i = 0; i < 128; i++) {
      const copy = block.slice();
      copy[i] ^= 0x10;
      expect(decodeAnchor(copy, 1).ok, `byte ${i}`).toBe(false);
    }
    expect(decodeAnchor(block, 0)).toMatchObject({ ok: false, why: expect.stringContaining('slot 0') });
    expect(decodeAnchor(new Uint8Array(4096), 0)).toMatchObject({ ok: false, zero: true });
  });
});
