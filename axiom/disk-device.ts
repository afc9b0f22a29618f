/**
 * A LogDevice over a disk backend (kernel/machine/disk: file, memory, faulty), for
 * tools that open an image without the block service (`strata inspect axiom`, fsck,
 * benchmarks) and for the crash tests. A running system reaches its disk through the
 * block service instead (axiom/block-device.ts once services/block's protocol lands).
 *
 * The region is [firstBlockIndex, firstBlockIndex + blockCount) of the disk in
 * 4096-byte blocks. Backend calls are synchronous; their DiskIoErrors become rejections,
 * which the engine treats as a device failure (EIO). flush() is the backend's flush
 * (fdatasync for a file), which is what makes Axiom's commit point real.
 */

import type { DiskBackend } from '../kernel/machine/disk/backend.ts';
import { checkBlockRange, type LogDevice } from './device.ts';
import { axiomError } from './errors.ts';
import { AXIOM_BLOCK_SIZE_BYTES } from './limits.ts';

export class DiskLogDevice implements LogDevice {
  readonly blockSizeBytes = AXIOM_BLOCK_SIZE_BYTES;

  constructor(
    private readonly backend: DiskBackend,
    readonly firstBlockIndex: number,
    readonly blockCount: number,
  ) {
    const diskBlockCount = Math.floor(backend.sizeBytes / AXIOM_BLOCK_SIZE_BYTES);
    if (!Number.isSafeInteger(firstBlockIndex) || firstBlockIndex < 0 || !Number.isSafeInteger(blockCount) || blockCount < 1 || firstBlockIndex + blockCount > diskBlockCount) {
      throw axiomError('BADARG', `region [${firstBlockIndex}, +${blockCount}) does not fit a disk of ${diskBlockCount} blocks`);
    }
  }

  /** The whole disk after `firstBlockIndex` as one region. */
  static wholeDisk(backend: DiskBackend, firstBlockIndex = 0): DiskLogDevice {
    return new DiskLogDevice(backend, firstBlockIndex, Math.floor(backend.sizeBytes / AXIOM_BLOCK_SIZE_BYTES) - firstBlockIndex);
  }

  async read(blockIndex: number, blockCount: number): Promise<Uint8Array> {
    checkBlockRange(this.blockCount, blockIndex, blockCount, 'read');
    const dst = new Uint8Array(blockCount * AXIOM_BLOCK_SIZE_BYTES);
    this.backend.read((this.firstBlockIndex + blockIndex) * AXIOM_BLOCK_SIZE_BYTES, dst);
    return dst;
  }

  async write(blockIndex: number, data: Uint8Array): Promise<void> {
    if (data.length === 0 || data.length % AXIOM_BLOCK_SIZE_BYTES !== 0) throw axiomError('BADARG', `write: ${data.length} bytes is not whole blocks`);
    checkBlockRange(this.blockCount, blockIndex, data.length / AXIOM_BLOCK_SIZE_BYTES, 'write');
    this.backend.write((this.firstBlockIndex + blockIndex) * AXIOM_BLOCK_SIZE_BYTES, data);
  }

  async flush(): Promise<void> {
    this.backend.flush();
  }
}
