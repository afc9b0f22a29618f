/**
 * The guest's IDE disk (v86 `hda`) over the block service: a contiguous extent of
 * 4 KiB blocks, addressed by the guest in bytes (its 512-byte sectors).
 *
 * v86 calls `get` and `set` with byte ranges that need not be block-aligned; a partial
 * block is read, patched and written back. Operations run one at a time in arrival order
 * (a queue), so a read always sees every earlier write; v86's IDE waits for each command
 * anyway. `set` copies its bytes before returning, as v86 requires.
 *
 * Durability: v86's IDE completes FLUSH CACHE without telling the disk object, so with
 * `writeThrough` (the default) every write is followed by a block-service flush before
 * v86 is told it is done: what the guest was told is written survives power loss. The
 * first 4 KiB are kept in memory for the synchronous `get_from_cache` that v86 uses to
 * read the partition table when it computes the disk geometry.
 *
 * Invariants: every access is inside the extent (else RangeError, a bug in v86 or us);
 * requests to the block service are at most `ioBlocksMax` blocks each.
 */
import type { BlockClient, Extent } from '../../services/block/protocol.ts';
import type { V86Disk } from './v86.ts';

export const DISK_BLOCK_BYTES = 4096;

export interface BlockDiskOptions {
  /** Flush the block service after every write (default true). */
  writeThrough?: boolean;
  /** Largest request to the block service, in blocks (BlockInfo.limits.ioBlocksMax). */
  ioBlocksMax: number;
  log?: (line: string) => void;
}

export class BlockDisk implements V86Disk {
  readonly byteLength: number;
  onload?: (event: object) => void;
  onprogress?: (event: object) => void;
  reads = 0;
  writes = 0;
  private queue: Promise<void> = Promise.resolve();
  private head?: Uint8Array;
  private failed?: Error;

  constructor(
    private readonly block: BlockClient,
    readonly extent: Extent,
    private readonly options: BlockDiskOptions,
  ) {
    if (extent.blockCount < 1 || options.ioBlocksMax < 1) throw new RangeError('a disk needs at least one block and ioBlocksMax >= 1');
    this.byteLength = extent.blockCount * DISK_BLOCK_BYTES;
  }

  load(): void {
    this.enqueue(async () => {
      this.head = await this.readBlocks(0, 1);
    }).then(() => this.onload?.({}));
  }

  get(startBytes: number, lengthBytes: number, done: (data: Uint8Array) => void): void {
    this.check(startBytes, lengthBytes);
    this.enqueue(async () => {
      this.reads++;
      const first = Math.floor(startBytes / DISK_BLOCK_BYTES);
      const last = Math.floor((startBytes + lengthBytes - 1) / DISK_BLOCK_BYTES);
      const blocks = lengthBytes === 0 ? new Uint8Array(0) : await this.readBlocks(first, last - first + 1);
      const at = startBytes - first * DISK_BLOCK_BYTES;
      done(blocks.slice(at, at + lengthBytes));
    });
  }

  set(startBytes: number, data: Uint8Array, done: () => void): void {
    this.check(startBytes, data.length);
    const bytes = data.slice();
    this.enqueue(async () => {
      this.writes++;
      if (bytes.length === 0) return done();
      const first = Math.floor(startBytes / DISK_BLOCK_BYTES);
      const last = Math.floor((startBytes + bytes.length - 1) / DISK_BLOCK_BYTES);
      const count = last - first + 1;
      const at = startBytes - first * DISK_BLOCK_BYTES;
      let blocks: Uint8Array;
      if (at === 0 && bytes.length === count * DISK_BLOCK_BYTES) blocks = bytes;
      else {
        // Read-modify-write of the partial blocks at either end.
        blocks = new Uint8Array(count * DISK_BLOCK_BYTES);
        if (at !== 0) blocks.set(await this.readBlocks(first, 1), 0);
        if ((at + bytes.length) % DISK_BLOCK_BYTES !== 0 && (count > 1 || at === 0)) blocks.set(await this.readBlocks(last, 1), (count - 1) * DISK_BLOCK_BYTES);
        blocks.set(bytes, at);
      }
      await this.writeBlocks(first, blocks);
      if (this.options.writeThrough !== false) await this.block.flush();
      if (first === 0) this.head = blocks.slice(0, DISK_BLOCK_BYTES);
      done();
    });
  }

  get_and_cache(startBytes: number, lengthBytes: number, done: (data: Uint8Array) => void): void {
    this.get(startBytes, lengthBytes, done);
  }

  get_from_cache(startBytes: number, lengthBytes: number): Uint8Array | undefined {
    if (!this.head || startBytes + lengthBytes > DISK_BLOCK_BYTES) return undefined;
    return this.head.slice(startBytes, startBytes + lengthBytes);
  }

  /** The disk's contents live in the block service, not in v86's state image. */
  get_state(): unknown[] {
    return [this.byteLength];
  }

  set_state(state: unknown[]): void {
    if (state[0] !== this.byteLength) throw new Error(`saved state is for a disk of ${String(state[0])} bytes, this one has ${this.byteLength}`);
  }

  /** Resolves when every queued operation has finished; rejects if one failed. */
  async drain(): Promise<void> {
    await this.queue;
    if (this.failed) throw this.failed;
  }

  private check(startBytes: number, lengthBytes: number): void {
    if (!Number.isSafeInteger(startBytes) || !Number.isSafeInteger(lengthBytes) || startBytes < 0 || lengthBytes < 0 || startBytes + lengthBytes > this.byteLength) {
      throw new RangeError(`disk access ${startBytes}+${lengthBytes} outside ${this.byteLength} bytes`);
    }
  }

  private enqueue(op: () => Promise<void>): Promise<void> {
    const next = this.queue.then(op).catch((e: unknown) => {
      // The guest gets no reply for a failed operation (v86 has no error path for a disk
      // object); the failure is logged and kept for drain(), the disk keeps serving.
      this.failed ??= e as Error;
      this.options.log?.(`guest disk: ${(e as Error).message}`);
    });
    this.queue = next;
    return next;
  }

  private async readBlocks(first: number, count: number): Promise<Uint8Array> {
    const out = new Uint8Array(count * DISK_BLOCK_BYTES);
    for (let done = 0; done < count; done += this.options.ioBlocksMax) {
      const n = Math.min(this.options.ioBlocksMax, count - done);
      out.set(await this.block.read(this.extent.blockIndex + first + done, n), done * DISK_BLOCK_BYTES);
    }
    return out;
  }

  private async writeBlocks(first: number, blocks: Uint8Array): Promise<void> {
    const count = blocks.length / DISK_BLOCK_BYTES;
    for (let done = 0; done < count; done += this.options.ioBlocksMax) {
      const n = Math.min(this.options.ioBlocksMax, count - done);
      await this.block.write(this.extent.blockIndex + first + done, blocks.subarray(done * DISK_BLOCK_BYTES, (done + n) * DISK_BLOCK_BYTES));
    }
  }
}
