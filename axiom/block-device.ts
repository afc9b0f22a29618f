/**
 * The LogDevice a running system gives Axiom: its region of the image, through the block
 * service (services/block/protocol.ts). The block service places the Axiom region
 * (`info().regions.axiom`) and lets Axiom write it directly, without its journal: Axiom's
 * own frames, checksums and anchor slots make its writes safe, and the block service's
 * `flush` is the FLUSH that makes Axiom's commit point real.
 *
 * Block indices are relative to the region here and absolute in the block protocol;
 * requests are split at the service's `ioBlocksMax`. Written against the structural
 * `BlockPort` (what BlockClient offers), so this file needs no import of the block
 * service's code, only of its protocol's shape.
 */

import type { LogDevice } from './device.ts';
import { checkBlockRange } from './device.ts';
import { axiomError } from './errors.ts';
import { AXIOM_BLOCK_SIZE_BYTES } from './limits.ts';

/** What Axiom needs of services/block/protocol.ts's BlockClient. */
export interface BlockPort {
  info(): Promise<{ blockSizeBytes: number; regions: { axiom: { blockIndex: number; blockCount: number } }; limits: { ioBlocksMax: number } }>;
  read(blockIndex: number, blockCount: number): Promise<Uint8Array>;
  write(blockIndex: number, data: Uint8Array): Promise<void>;
  flush(): Promise<void>;
}

export class BlockLogDevice implements LogDevice {
  readonly blockSizeBytes = AXIOM_BLOCK_SIZE_BYTES;

  constructor(
    private readonly port: BlockPort,
    readonly firstBlockIndex: number,
    readonly blockCount: number,
    private readonly ioBlocksMax: number,
  ) {
    if (!Number.isSafeInteger(ioBlocksMax) || ioBlocksMax < 1) throw axiomError('BADARG', `ioBlocksMax ${ioBlocksMax}`);
  }

  async read(blockIndex: number, blockCount: number): Promise<Uint8Array> {
    checkBlockRange(this.blockCount, blockIndex, blockCount, 'read');
    if (blockCount <= this.ioBlocksMax) return this.readChecked(blockIndex, blockCount);
    const out = new Uint8Array(blockCount * AXIOM_BLOCK_SIZE_BYTES);
    for (let done = 0; done < blockCount; done += this.ioBlocksMax) {
      const n = Math.min(this.ioBlocksMax, blockCount - done);
      out.set(await this.readChecked(blockIndex + done, n), done * AXIOM_BLOCK_SIZE_BYTES);
    }
    return out;
  }

  private async readChecked(blockIndex: number, blockCount: number): Promise<Uint8Array> {
    const data = await this.port.read(this.firstBlockIndex + blockIndex, blockCount);
    if (!(data instanceof Uint8Array) || data.length !== blockCount * AXIOM_BLOCK_SIZE_BYTES) {
      throw axiomError('EIO', `block service returned ${data?.length} bytes for ${blockCount} blocks`);
    }
    return data;
  }

  async write(blockIndex: number, data: Uint8Array): Promise<void> {
    if (data.length === 0 || data.length % AXIOM_BLOCK_SIZE_BYTES !== 0) throw axiomError('BADARG', `write: ${data.length} bytes is not whole blocks`);
    const blockCount = data.length / AXIOM_BLOCK_SIZE_BYTES;
    checkBlockRange(this.blockCount, blockIndex, blockCount, 'write');
    for (let done = 0; done < blockCount; done += this.ioBlocksMax) {
      const n = Math.min(this.ioBlocksMax, blockCount - done);
      await this.port.write(this.firstBlockIndex + blockIndex + done, data.subarray(done * AXIOM_BLOCK_SIZE_BYTES, (done + n) * AXIOM_BLOCK_SIZE_BYTES));
    }
  }

  flush(): Promise<void> {
    return this.port.flush();
  }
}

/** The Axiom region of the image behind a block service client. */
export async function blockLogDevice(port: BlockPort): Promise<BlockLogDevice> {
  const info = await port.info();
  if (info.blockSizeBytes !== AXIOM_BLOCK_SIZE_BYTES) throw axiomError('BADARG', `the block service's blocks are ${info.blockSizeBytes} bytes`);
  const { blockIndex, blockCount } = info.regions.axiom;
  return new BlockLogDevice(port, blockIndex, blockCount, info.limits.ioBlocksMax);
}
