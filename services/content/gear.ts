/**
 * The Gear table of FastCDC (Xia et al., USENIX ATC'16, section 3.1): 256 random 32-bit
 * words, one per byte value, rolled as `fp = (fp << 1) + GEAR[byte]`.
 *
 * Generated at load from GEAR_SEED with splitmix32 rather than checked in as 256 magic
 * numbers: the generator is four lines, and test/content/chunker.test.ts holds a
 * known-answer digest of the table, so any change to the seed or the generator (which
 * would move every chunk boundary and so every dedup decision against stored data) fails
 * a test instead of passing silently.
 *
 * Masks: a cut is declared where `(fp & mask) === 0`. Bit k of a Gear hash depends only
 * on the last k + 1 bytes (the shift moves old bytes up and out), so the mask's bits are
 * taken from the top of the word and spread apart (the paper's "zero padding"), making
 * the decision depend on a window of up to 32 bytes.
 */
import { GEAR_SEED } from './limits.ts';
import { assert } from './errors.ts';

/** splitmix32: tiny, full-period, good avalanche; enough for a table of random words. */
function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export function gearTable(seed: number = GEAR_SEED): Uint32Array {
  const next = splitmix32(seed);
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) table[i] = next();
  return table;
}

/** The table every store uses (GEAR_SEED); part of the format, like the hash function. */
export const GEAR: Uint32Array = gearTable();

/** A mask of `bitCount` one-bits spread from bit 31 downwards. */
export function spreadMask(bitCount: number): number {
  assert(Number.isInteger(bitCount) && bitCount >= 1 && bitCount <= 32, `mask of ${bitCount} bits`);
  const step = Math.max(1, Math.floor(32 / bitCount));
  let mask = 0;
  for (let i = 0; i < bitCount; i++) mask |= 1 << (31 - i * step);
  assert(popcount(mask) === bitCount, 'mask has the bits asked for');
  return mask >>> 0;
}

export function popcount(x: number): number {
  let n = 0;
  for (let v = x >>> 0; v !== 0; v &= v - 1) n++;
  return n;
}
