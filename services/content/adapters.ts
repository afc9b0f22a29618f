/**
 * The store's ports over the real services, through their protocol.ts clients only:
 * BlockPort over services/block (BlockClient) and MetaLog over Axiom (AxiomClient).
 *
 * allocatedExtents() asks the block service's allocator (the `allocated` op), which
 * answers from its own bitmap in memory: what allocate and free have committed, which
 * the cached bitmap blocks on the device need not show yet.
 *
 * read(afterSeq) reads committed records from Axiom (read, in pages) and hands the
 * Chunk* records to the store in commit order; the mount starts after the newest
 * checkpoint, whose image carries the content index (image.ts).
 */
import type { BlockClient } from '../block/protocol.ts';
import type { AxiomClient } from '../../axiom/protocol.ts';
import type { ServiceMemory } from '../../kernel/service.ts';
import { BLOCK_SIZE_BYTES, STAGING_SLOT_BYTES, STAGING_SLOTS } from './limits.ts';
import { assert, contentError } from './errors.ts';
import { mergeExtents } from './gc.ts';
import type { BlockPort, ContentRecord, Extent, MetaLog } from './ports.ts';

const CONTENT_TYPES = new Set(['ChunkPut', 'ChunkRef', 'ChunkDrop']);

/** Slots of a staging region lent to the block service; a write waits for a free slot. */
class Staging {
  private readonly free: number[] = [];
  private readonly waiters: (() => void)[] = [];
  constructor(
    private readonly view: Uint8Array,
    readonly grantId: number,
  ) {
    for (let i = 0; i < STAGING_SLOTS; i++) this.free.push(i);
  }
  async use<T>(fn: (slotOffsetBytes: number, dst: Uint8Array) => Promise<T>): Promise<T> {
    while (this.free.length === 0) await new Promise<void>((r) => this.waiters.push(r));
    const slot = this.free.pop()!;
    try {
      const at = slot * STAGING_SLOT_BYTES;
      return await fn(at, this.view.subarray(at, at + STAGING_SLOT_BYTES));
    } finally {
      this.free.push(slot);
      this.waiters.shift()?.();
    }
  }
}

/** The block service as a BlockPort; with `memory`, data writes go through a granted staging region (no copy in messages). */
export async function blockPortOver(block: BlockClient, memory?: ServiceMemory): Promise<BlockPort> {
  const info = await block.info();
  if (info.blockSizeBytes !== BLOCK_SIZE_BYTES) throw contentError('NOTMOUNTED', `the block service's blocks are ${info.blockSizeBytes} bytes, not ${BLOCK_SIZE_BYTES}`);
  const data = info.regions.data;
  const ioBlocksMax = info.limits.ioBlocksMax;
  let staging: Staging | undefined;
  if (memory && ioBlocksMax * BLOCK_SIZE_BYTES >= STAGING_SLOT_BYTES) {
    const region = memory.alloc(STAGING_SLOTS * STAGING_SLOT_BYTES);
    staging = new Staging(memory.view(region), memory.grant(region, block.endpoint, 'r'));
  }
  const stage = staging;
  return {
    blockSizeBytes: BLOCK_SIZE_BYTES,
    dataRegion: { blockIndex: data.blockIndex, blockCount: data.blockCount },
    allocate: (blockCount, contiguous) => block.allocate(blockCount, { contiguous }),
    write: (blockIndex, bytes) => block.write(blockIndex, bytes),
    writeStaged: stage
      ? (blockIndex, blockCount, fill) =>
          stage.use(async (offsetBytes, dst) => {
            const lengthBytes = blockCount * BLOCK_SIZE_BYTES;
            assert(lengthBytes <= dst.length, `a staged write of ${blockCount} blocks fits a slot`);
            fill(dst.subarray(0, lengthBytes));
            await block.writeFrom(blockIndex, [{ grantId: stage.grantId, offsetBytes, lengthBytes }]);
          })
      : undefined,
    read: (blockIndex, blockCount) => block.read(blockIndex, blockCount),
    flush: () => block.flush(),
    free: async (extents) => void (await block.free(extents)),
    async allocatedExtents(): Promise<Extent[]> {
      return mergeExtents(await block.allocated());
    },
  };
}


export function axiomLogOver(axiom: AxiomClient): MetaLog {
  return {
    async commit(records: ContentRecord[]) {
      const r = await axiom.propose(records);
      return { firstSeq: r.firstSeq, commitSeq: r.commitSeq };
    },
    async read(afterSeq, apply): Promise<number> {
      let seq = afterSeq + 1;
      if (afterSeq === 0) seq = (await axiom.info()).startSeq;
      for (;;) {
        const { records, committedSeq } = await axiom.read(seq);
        for (const r of records) {
          seq = r.seq + 1;
          if (CONTENT_TYPES.has(r.type)) apply({ type: r.type, payload: r.payload } as ContentRecord, r.seq);
        }
        if (records.length === 0 || seq > committedSeq) return Math.max(afterSeq, committedSeq);
      }
    },
    async checkpoint() {
      const info = await axiom.info();
      if (info.checkpointSeq === 0) return undefined;
      const cp = await axiom.checkpointImage();
      return { seq: cp.seq, image: cp.image };
    },
    async recordCheckpoint(image: unknown) {
      return { commitSeq: (await axiom.checkpoint(image)).commitSeq };
    },
  };
}

