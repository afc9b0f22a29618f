// CRC32C: the standard check value and agreement with a bit-at-a-time reference.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { crc32c } from '../../axiom/crc32c.ts';

function reference(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe('crc32c', () => {
  it('matches the CRC-32/ISCSI check value', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa); // 32 zero bytes (RFC 3720 B.4)
  });

  it('agrees with a bit-at-a-time reference on any input', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => crc32c(bytes) === reference(bytes)));
  });
});
