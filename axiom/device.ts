/**
 * LogDevice: the one interface Axiom needs from storage. Block indices are relative to
 * the Axiom region; the block service (or an adapter over a disk backend) maps them.
 *
 * Contract (the block service's, restated for what Axiom relies on):
 * - blockSizeBytes is AXIOM_BLOCK_SIZE_BYTES; blockCount never changes.
 * - read returns exactly blockCount * blockSizeBytes bytes (a fresh buffer Axiom may keep).
 * - write makes data visible to later reads at once; it is durable only after a later
 *   flush() resolves. Writes are sector-atomic: after a crash each 512-byte sector of an
 *   unflushed write holds all old or all new bytes.
 * - A failure rejects the promise; Axiom then assumes nothing about what is durable.
 *
 * `MemoryLogDevice` keeps the region in one Uint8Array, durable at once (there is no
 * power to lose); it counts calls so tests can see group commit share flushes.
 */

import { axiomError } from './errors.ts';
import { AXIOM_BLOCK_SIZE_BYTES } from './limits.ts';

export interface LogDevice {
  readonly blockSizeBytes: number;
  readonly blockCount: number;
  read(blockIndex: number, blockCount: number): Promise<Uint8Array>;
  write(blockIndex: number, data: Uint8Array): Promise<void>;
  flush(): Promise<void>;
}

export interface DeviceCounters {
  reads: number;
  writes: number;
  flushes: number;
  bytesRead: number;
  bytesWritten: number;
}

/** Throws BADARG unless [blockIndex, blockIndex + blockCount) lies inside a device of `deviceBlockCount` blocks. */
export function checkBlockRange(deviceBlockCount: number, blockIndex: number, blockCount: number, op: string): void {
  const ok = Number.isSafeInteger(blockIndex) && Number.isSafeInteger(blockCount) && blockIndex >= 0 && blockCount >= 1 && blockIndex + blockCount <= deviceBlockCount;
  if (!ok) throw axiomError('BADARG', `${op}: blocks [${blockIndex}, +${blockCount}) are outside a region of ${deviceBlockCount} blocks`);
}

export class MemoryLogDevice implements LogDevice {
  readonly blockSizeBytes = AXIOM_BLOCK_SIZE_BYTES;
  readonly blockCount: number;
  readonly bytes: Uint8Array;
  readonly counters: DeviceCounters = { reads: 0, writes: 0, flushes: 0, bytesRead: 0, bytesWritten: 0 };

  /** A zeroed region of blockCount blocks, or a region over `image` (not copied). */
  constructor(blockCountOrImage: number | Uint8Array) {
    this.bytes = typeof blockCountOrImage === 'number' ? new Uint8Array(blockCountOrImage * AXIOM_BLOCK_SIZE_BYTES) : blockCountOrImage;
    if (this.bytes.length === 0 || this.bytes.length % AXIOM_BLOCK_SIZE_BYTES !== 0) throw new RangeError('MemoryLogDevice: size must be whole blocks');
    this.blockCount = this.bytes.length / AXIOM_BLOCK_SIZE_BYTES;
  }

  async read(blockIndex: number, blockCount: number): Promise<Uint8Array> {
    checkBlockRange(this.blockCount, blockIndex, blockCount, 'read');
    this.counters.reads++;
    this.counters.bytesRead += blockCount * this.blockSizeBytes;
    return this.bytes.slice(blockIndex * this.blockSizeBytes, (blockIndex + blockCount) * this.blockSizeBytes);
  }

  async write(blockIndex: number, data: Uint8Array): Promise<void> {
    if (data.length % this.blockSizeBytes !== 0) throw axiomError('BADARG', `write: ${data.length} bytes is not whole blocks`);
    checkBlockRange(this.blockCount, blockIndex, data.length / this.blockSizeBytes, 'write');
    this.counters.writes++;
    this.counters.bytesWritten += data.length;
    this.bytes.set(data, blockIndex * this.blockSizeBytes);
  }

  async flush(): Promise<void> {
    this.counters.flushes++;
  }
}
