/**
 * The ring: the log's logical byte stream mapped onto blocks 2 .. blockCount-1 of the
 * region (FORMAT.md, "Logical positions"). Logical position `pos` lives at ring byte
 * `pos mod ringSizeBytes`; this is the only code that does that arithmetic.
 *
 * Offers `read(pos, lengthBytes)` for any logical range (split at the ring's end),
 * `writeBlocks(alignedPos, data)` for whole blocks (split at the ring's end and at
 * DEVICE_WRITE_SIZE_BYTES_MAX), and `RingCursor`, a read-ahead window for sequential
 * scans. Nothing here checks frames: callers verify checksums on every byte they use.
 */

import type { LogDevice } from './device.ts';
import { assert } from './errors.ts';
import { alignDown, alignUp, AXIOM_BLOCK_SIZE_BYTES, DEVICE_WRITE_SIZE_BYTES_MAX, RING_FIRST_BLOCK_INDEX, SCAN_READ_SIZE_BYTES } from './limits.ts';

export class Ring {
  readonly blockSizeBytes = AXIOM_BLOCK_SIZE_BYTES;
  readonly ringBlockCount: number;
  readonly ringSizeBytes: number;

  constructor(readonly device: LogDevice) {
    assert(device.blockSizeBytes === AXIOM_BLOCK_SIZE_BYTES, 'device block size');
    this.ringBlockCount = device.blockCount - RING_FIRST_BLOCK_INDEX;
    assert(this.ringBlockCount >= 1, 'the region has ring blocks');
    this.ringSizeBytes = this.ringBlockCount * this.blockSizeBytes;
  }

  /** Region block index holding logical position `pos`. */
  blockIndexOf(pos: number): number {
    return RING_FIRST_BLOCK_INDEX + Math.floor((pos % this.ringSizeBytes) / this.blockSizeBytes);
  }

  /** The bytes at logical [pos, pos + lengthBytes); lengthBytes <= ringSizeBytes. */
  async read(pos: number, lengthBytes: number): Promise<Uint8Array> {
    assert(pos >= 0 && lengthBytes >= 1 && lengthBytes <= this.ringSizeBytes, `ring read [${pos}, +${lengthBytes})`);
    const firstPos = alignDown(pos, this.blockSizeBytes);
    let blockCount = (alignUp(pos + lengthBytes, this.blockSizeBytes) - firstPos) / this.blockSizeBytes;
    blockCount = Math.min(blockCount, this.ringBlockCount);
    const firstRingBlock = (firstPos % this.ringSizeBytes) / this.blockSizeBytes;
    const headCount = Math.min(blockCount, this.ringBlockCount - firstRingBlock);
    let bytes = await this.device.read(RING_FIRST_BLOCK_INDEX + firstRingBlock, headCount);
    if (headCount < blockCount) {
      const tail = await this.device.read(RING_FIRST_BLOCK_INDEX, blockCount - headCount);
      const joined = new Uint8Array(bytes.length + tail.length);
      joined.set(bytes, 0);
      joined.set(tail, bytes.length);
      bytes = joined;
    }
    assert(bytes.length === blockCount * this.blockSizeBytes, 'device returned the blocks asked for');
    const skip = pos - firstPos;
    if (skip + lengthBytes <= bytes.length) return bytes.subarray(skip, skip + lengthBytes);
    // The range covered the whole ring (only possible when it is not block aligned): wrap by copy.
    const out = new Uint8Array(lengthBytes);
    for (let i = 0; i < lengthBytes; i++) out[i] = bytes[(skip + i) % bytes.length];
    return out;
  }

  /** Writes whole blocks starting at block-aligned logical `alignedPos`. */
  async writeBlocks(alignedPos: number, data: Uint8Array): Promise<void> {
    assert(alignedPos % this.blockSizeBytes === 0 && data.length % this.blockSizeBytes === 0, 'ring writes are whole blocks');
    assert(data.length <= this.ringSizeBytes, 'a ring write is at most one lap');
    for (let doneBytes = 0; doneBytes < data.length; ) {
      const ringOffset = (alignedPos + doneBytes) % this.ringSizeBytes;
      const lengthBytes = Math.min(data.length - doneBytes, this.ringSizeBytes - ringOffset, DEVICE_WRITE_SIZE_BYTES_MAX);
      await this.device.write(RING_FIRST_BLOCK_INDEX + ringOffset / this.blockSizeBytes, data.subarray(doneBytes, doneBytes + lengthBytes));
      doneBytes += lengthBytes;
    }
  }
}

/** A read-ahead window over the ring for sequential reading; views stay valid until the next call. */
export class RingCursor {
  private windowPos = 0;
  private window: Uint8Array = new Uint8Array(0);

  constructor(
    private readonly ring: Ring,
    private readonly readSizeBytes = SCAN_READ_SIZE_BYTES,
  ) {}

  async bytes(pos: number, lengthBytes: number): Promise<Uint8Array> {
    const offset = pos - this.windowPos;
    if (offset >= 0 && offset + lengthBytes <= this.window.length) return this.window.subarray(offset, offset + lengthBytes);
    const spanBytes = Math.min(Math.max(lengthBytes, this.readSizeBytes), this.ring.ringSizeBytes);
    this.window = await this.ring.read(pos, spanBytes);
    this.windowPos = pos;
    assert(this.window.length >= lengthBytes, 'cursor window holds the range');
    return this.window.subarray(0, lengthBytes);
  }
}
