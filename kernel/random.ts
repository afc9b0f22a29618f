/**
 * Seeded randomness: xoshiro128** seeded through splitmix32.
 *
 * The only source of randomness a service or the scheduler may use; the same seed
 * gives the same sequence on every machine. `fork(label)` derives an independent
 * stream, so adding a service does not shift the numbers another service sees.
 */

export class Random {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    let x = seed >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.u32() / 2 ** 32;
  }

  /** An integer in [0, bound), bound >= 1 (rejection sampling: no modulo bias). */
  below(bound: number): number {
    if (!Number.isInteger(bound) || bound < 1 || bound > 2 ** 32) throw new RangeError(`below(${bound})`);
    const limit = 2 ** 32 - (2 ** 32 % bound);
    for (;;) {
      const r = this.u32();
      if (r < limit) return r % bound;
    }
  }

  fill(bytes: Uint8Array): Uint8Array {
    for (let i = 0; i < bytes.length; i += 4) {
      const r = this.u32();
      bytes[i] = r & 0xff;
      if (i + 1 < bytes.length) bytes[i + 1] = (r >>> 8) & 0xff;
      if (i + 2 < bytes.length) bytes[i + 2] = (r >>> 16) & 0xff;
      if (i + 3 < bytes.length) bytes[i + 3] = r >>> 24;
    }
    return bytes;
  }

  /** An independent stream derived from this one's seed material and a label. */
  fork(label: string): Random {
    let h = 0x811c9dc5 ^ this.s0;
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
    return new Random((h ^ this.s3) >>> 0);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
