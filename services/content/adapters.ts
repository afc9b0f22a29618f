/**
 * The store's ports over the real services, through their protocol.ts clients only:
 * BlockPort over services/block (BlockClient) and MetaLog over Axiom (AxiomClient).
 *
 * allocatedExtents() asks the block service's allocator (the `allocated` op), which
 * answers from its own bitmap in memory: what allocate and free have committed, which
 * the cached bitmap blocks on the device need not show yet.
 *
 * Data by grant: writes go through a staging region lent 'r' to the block service
 * (writeStaged); reads of up to a read slot (the default chunker's largest chunk, so every
 * fs page and nearly every chunk) land in a region lent 'w' and are copied out before the
 * store sees them: its native BLAKE3 must not see a SharedArrayBuffer view, and the block
 * service could still write the slot, so what is verified is a private copy. Larger reads
 * are inline. A block service that no longer holds the read grant (it restarted) makes
 * that read inline and the next one lend a fresh region.
 *
 * read(afterSeq) reads committed records from Axiom (read, in pages) and hands the
 * Chunk* records to the store in commit order; the mount starts after the newest
 * checkpoint, whose image carries the content index (image.ts).
 */
import type { BlockClient } from '../block/protocol.ts';
import type { AxiomClient } from '../../axiom/protocol.ts';
import type { ServiceMemory } from '../../kernel/service.ts';
import type { Region } from '../../kernel/memory.ts';
import { ServiceError } from '../../kernel/errors.ts';
import { BLOCK_SIZE_BYTES, CDC_MAX_SIZE_BYTES_DEFAULT, STAGING_SLOT_BYTES, STAGING_SLOTS } from './limits.ts';
import { assert, contentError } from './errors.ts';
import { mergeExtents } from './gc.ts';
import type { BlockPort, ContentRecord, Extent, MetaLog } from './ports.ts';

const CONTENT_TYPES = new Set(['ChunkPut', 'ChunkRef', 'ChunkDrop']);

/** Read staging: slots of the default chunker's largest chunk, enough for the fs's concurrent page reads (16 per read). Belongs in limits.ts. */
const READ_SLOT_BYTES = CDC_MAX_SIZE_BYTES_DEFAULT;
const READ_SLOTS = 16;

/** Slots of a staging region lent to the block service (for writes, or for reads); a caller waits for a free slot. */
class Staging {
  private readonly free: number[] = [];
  private readonly waiters: (() => void)[] = [];
  constructor(
    private readonly view: Uint8Array,
    readonly grantId: number,
    private readonly slotBytes = STAGING_SLOT_BYTES,
    private readonly slotCount = STAGING_SLOTS,
    readonly region?: Region,
  ) {
    assert(view.length >= slotBytes * slotCount, `staging of ${view.length} bytes holds ${slotCount} slots of ${slotBytes}`);
    for (let i = 0; i < slotCount; i++) this.free.push(i);
  }
  async use<T>(fn: (slotOffsetBytes: number, dst: Uint8Array) => Promise<T>): Promise<T> {
    while (this.free.length === 0) await new Promise<void>((r) => this.waiters.push(r));
    const slot = this.free.pop()!;
    try {
      const at = slot * this.slotBytes;
      return await fn(at, this.view.subarray(at, at + this.slotBytes));
    } finally {
      this.free.push(slot);
      for (const wake of this.waiters.splice(0)) wake(); // each re-checks; idle() waits here too
    }
  }
  /** Resolves once no slot is in use. */
  async idle(): Promise<void> {
    while (this.free.length < this.slotCount) await new Promise<void>((r) => this.waiters.push(r));
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
  // Read staging, lent on first use; none if memory cannot be had (reads stay inline).
  let reads: Staging | undefined;
  let readsUnavailable = !memory;
  const readStaging = (): Staging | undefined => {
    if (reads || readsUnavailable || !memory) return reads;
    let region: Region | undefined;
    try {
      region = memory.alloc(READ_SLOTS * READ_SLOT_BYTES);
      reads = new Staging(memory.view(region), memory.grant(region, block.endpoint, 'w'), READ_SLOT_BYTES, READ_SLOTS, region);
    } catch (e) {
      if (!(e instanceof ServiceError)) throw e;
      if (region) memory.free(region);
      readsUnavailable = true;
    }
    return reads;
  };
  const dropReadStaging = (old: Staging) => {
    if (reads !== old) return;
    reads = undefined;
    // Slots still in use finish (inline, as this one) before the region goes.
    void old.idle().then(() => old.region && memory?.free(old.region));
  };
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
    read: (blockIndex, blockCount) => {
      const reads = blockCount > 0 && blockCount * BLOCK_SIZE_BYTES <= READ_SLOT_BYTES ? readStaging() : undefined;
      if (!reads) return block.read(blockIndex, blockCount);
      return reads
        .use(async (offsetBytes, slot) => {
          const lengthBytes = blockCount * BLOCK_SIZE_BYTES;
          await block.readInto(blockIndex, blockCount, [{ grantId: reads.grantId, offsetBytes, lengthBytes }]);
          return slot.slice(0, lengthBytes); // private: the store verifies exactly what it returns
        })
        .catch((e: unknown) => {
          if (!(e instanceof ServiceError) || e.code !== 'GRANT') throw e;
          dropReadStaging(reads);
          return block.read(blockIndex, blockCount);
        });
    },
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

