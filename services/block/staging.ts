/**
 * The staging area: pages of one memory region, lent to the driver once as a grant, out
 * of which the I/O scheduler carves the buffers the device DMAs into and out of.
 *
 * Allocation is next-fit of contiguous runs of 4096-byte pages, so every request's
 * buffer is one segment. Invariants (asserted): a page belongs to at most one buffer;
 * freeing a buffer that is not allocated stops loudly.
 */
import { assert } from './errors.ts';
import { BLOCK_SIZE_BYTES } from './limits.ts';

export interface StagingBuffer {
  offsetBytes: number;
  lengthBytes: number;
}

export class Staging {
  private readonly used: Uint8Array;
  private hint = 0;
  freeBlocks: number;

  constructor(
    /** A live view of the whole region. */
    readonly bytes: Uint8Array,
    /** The grant that lends the whole region to the driver (a new one after the driver restarts). */
    public grantId: number,
  ) {
    assert(bytes.length > 0 && bytes.length % BLOCK_SIZE_BYTES === 0, `staging of ${bytes.length} bytes`);
    this.used = new Uint8Array(bytes.length / BLOCK_SIZE_BYTES);
    this.freeBlocks = this.used.length;
  }

  get capacityBlocks(): number {
    return this.used.length;
  }

  /** A buffer of `blockCount` contiguous blocks, or undefined if no run is free now. */
  alloc(blockCount: number): StagingBuffer | undefined {
    assert(blockCount >= 1 && blockCount <= this.used.length, `staging alloc of ${blockCount} blocks`);
    if (blockCount > this.freeBlocks) return undefined;
    const n = this.used.length;
    for (const [from, to] of [
      [this.hint, n],
      [0, this.hint],
    ]) {
      let run = 0;
      for (let i = from; i < Math.min(n, to + blockCount); i++) {
        run = this.used[i] ? 0 : run + 1;
        if (run === blockCount) {
          const first = i - blockCount + 1;
          this.used.fill(1, first, first + blockCount);
          this.freeBlocks -= blockCount;
          this.hint = (first + blockCount) % n;
          return { offsetBytes: first * BLOCK_SIZE_BYTES, lengthBytes: blockCount * BLOCK_SIZE_BYTES };
        }
      }
    }
    return undefined;
  }

  free(buf: StagingBuffer): void {
    const first = buf.offsetBytes / BLOCK_SIZE_BYTES;
    const count = buf.lengthBytes / BLOCK_SIZE_BYTES;
    for (let i = first; i < first + count; i++) assert(this.used[i] === 1, `freeing free staging block ${i}`);
    this.used.fill(0, first, first + count);
    this.freeBlocks += count;
  }

  view(buf: StagingBuffer): Uint8Array {
    return this.bytes.subarray(buf.offsetBytes, buf.offsetBytes + buf.lengthBytes);
  }
}
