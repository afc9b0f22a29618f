/**
 * The block-addressed device interface the journal, the cache and the tools stand on:
 * whole 4096-byte blocks, async, with an explicit FLUSH.
 *
 * Contract (the same as the driver's): a completed write is visible to later reads at
 * once and durable only after a later flush completes; requests that are in flight
 * together may complete, and reach the medium, in any order.
 *
 * In the service the I/O scheduler implements it over the virtio-blk driver. For tools
 * and tests, `backendDevice` wraps any synchronous disk backend (memory, file, faulty:
 * kernel/machine/disk) without importing it: only its shape is needed.
 */
import { BLOCK_SIZE_BYTES } from './limits.ts';

export interface BlockDevice {
  readonly blockCount: number;
  readBlocks(blockIndex: number, blockCount: number): Promise<Uint8Array>;
  writeBlocks(blockIndex: number, data: Uint8Array): Promise<void>;
  flush(): Promise<void>;
}

/** The part of kernel/machine/disk/backend.ts's DiskBackend this adapter uses. */
export interface SyncDisk {
  readonly sizeBytes: number;
  read(offsetBytes: number, dst: Uint8Array): void;
  write(offsetBytes: number, src: Uint8Array): void;
  flush(): void;
}

export function backendDevice(disk: SyncDisk): BlockDevice & { counts: { reads: number; writes: number; flushes: number } } {
  const counts = { reads: 0, writes: 0, flushes: 0 };
  return {
    blockCount: Math.floor(disk.sizeBytes / BLOCK_SIZE_BYTES),
    counts,
    async readBlocks(blockIndex, blockCount) {
      const out = new Uint8Array(blockCount * BLOCK_SIZE_BYTES);
      disk.read(blockIndex * BLOCK_SIZE_BYTES, out);
      counts.reads++;
      return out;
    },
    async writeBlocks(blockIndex, data) {
      if (data.length === 0 || data.length % BLOCK_SIZE_BYTES !== 0) throw new RangeError(`writeBlocks of ${data.length} bytes`);
      disk.write(blockIndex * BLOCK_SIZE_BYTES, data);
      counts.writes++;
    },
    async flush() {
      disk.flush();
      counts.flushes++;
    },
  };
}
