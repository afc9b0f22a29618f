/**
 * A tiny deterministic PRNG for the machine's fault injection: xoshiro128** seeded
 * through splitmix32 (Blackman and Vigna, https://prng.di.unimi.it/).
 *
 * Why our own: a crash state chosen "at random" must be the same bytes on every run with
 * the same seed, on every Node version, so nothing here may touch Math.random. Not for
 * cryptography.
 *
 * Invariants: the state is never all zeros (splitmix32 seeding guarantees it); every
 * output is a u32; `below(n)` is unbiased (rejection sampling).
 */

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) >>> 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export class Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** `seed` is any safe integer; both its low and high 32 bits shape the stream. */
  constructor(readonly seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`Prng: seed must be a safe integer, got ${seed}`);
    const low = seed >>> 0;
    const high = Math.floor(Math.abs(seed) / 2 ** 32) >>> 0;
    const mix = { s: (low ^ Math.imul(high, 0x27d4eb2d) ^ (seed < 0 ? 0x5bd1e995 : 0)) >>> 0 };
    this.s0 = splitmix32(mix);
    this.s1 = splitmix32(mix);
    this.s2 = splitmix32(mix);
    this.s3 = splitmix32(mix);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // cannot happen; stay safe
  }

  /** The next u32 (xoshiro128**). */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform integer in [0, n), for 1 <= n <= 2^32. */
  below(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 2 ** 32) throw new RangeError(`Prng.below: n must be in [1, 2^32], got ${n}`);
    if (n === 1) return 0;
    const limit = 2 ** 32 - (2 ** 32 % n); // largest multiple of n not above 2^32
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** A uniform integer in [lo, hi], both inclusive. */
  between(lo: number, hi: number): number {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo) throw new RangeError(`Prng.between: bad range [${lo}, ${hi}]`);
    return lo + this.below(hi - lo + 1);
  }

  /** true with probability 1/2. */
  bool(): boolean {
    return (this.nextU32() & 1) === 1;
  }
}
