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
 * are inline. A block service that no longer holds a staging grant (it restarted) makes
 * that write or read go inline and the next one lend a fresh region (Lender); a write so
 * redone is filled (and checked) again from its source.
 *
 * read(afterSeq) reads committed records from Axiom (read, in pages) and hands the
 * Chunk* records to the store in commit order; the mount starts after the newest
 * checkpoint, whose image carries the content index (image.ts).
 */
import type { BlockClient } from '../block/protocol.ts';
import type { AxiomClient } from '../../axiom/protocol.ts';
import type { ServiceMemory } from '../../kernel/service.ts';
import type { Region } from '../../kernel/memory.ts';
import { StagingSlots } from '../../kernel/staging.ts';
import { ServiceError } from '../../kernel/errors.ts';
import { BLOCK_SIZE_BYTES, READ_SLOT_BYTES, READ_SLOTS, STAGING_SLOT_BYTES, STAGING_SLOTS } from './limits.ts';
import { assert, contentError } from './errors.ts';
import { mergeExtents } from './gc.ts';
import type { BlockPort, ContentRecord, Extent, MetaLog } from './ports.ts';

const CONTENT_TYPES = new Set(['ChunkPut', 'ChunkRef', 'ChunkDrop']);

/**
 * A staging region lent to the block service on first use, with `rights`. A block
 * service that no longer holds the grant (it restarted) makes the caller drop it: that
 * call goes inline and the next one lends a fresh region. None if memory cannot be had
 * (the calls stay inline).
 */
class Lender {
  private current: StagingSlots | undefined;
  private unavailable: boolean;
  constructor(
    private readonly memory: ServiceMemory | undefined,
    private readonly endpoint: string,
    private readonly rights: 'r' | 'w',
    private readonly slotBytes: number,
    private readonly slotCount: number,
  ) {
    this.unavailable = !memory;
  }
  staging(): StagingSlots | undefined {
    const memory = this.memory;
    if (this.current || this.unavailable || !memory) return this.current;
    let region: Region | undefined;
    try {
      region = memory.alloc(this.slotCount * this.slotBytes);
      this.current = new StagingSlots(region, memory.view(region), memory.grant(region, this.endpoint, this.rights), this.slotBytes, this.slotCount);
    } catch (e) {
      if (!(e instanceof ServiceError)) throw e;
      if (region) memory.free(region);
      this.unavailable = true;
    }
    return this.current;
  }
  /** Forgets `old` (if still current); its region is freed once its slots in use are done (they finish inline, as the caller). */
  drop(old: StagingSlots): void {
    if (this.current !== old) return;
    this.current = undefined;
    void old.idle().then(() => this.memory?.free(old.region));
  }
}

const lostGrant = (e: unknown): boolean => e instanceof ServiceError && e.code === 'GRANT';

/** The block service as a BlockPort; with `memory`, data writes and reads go through granted staging regions (no copy in messages). */
export async function blockPortOver(block: BlockClient, memory?: ServiceMemory): Promise<BlockPort> {
  const info = await block.info();
  if (info.blockSizeBytes !== BLOCK_SIZE_BYTES) throw contentError('NOTMOUNTED', `the block service's blocks are ${info.blockSizeBytes} bytes, not ${BLOCK_SIZE_BYTES}`);
  const data = info.regions.data;
  const ioBlocksMax = info.limits.ioBlocksMax;
  const writes = memory && ioBlocksMax * BLOCK_SIZE_BYTES >= STAGING_SLOT_BYTES ? new Lender(memory, block.endpoint, 'r', STAGING_SLOT_BYTES, STAGING_SLOTS) : undefined;
  writes?.staging(); // lent at mount, as before: the first write need not wait for it
  const reads = new Lender(memory, block.endpoint, 'w', READ_SLOT_BYTES, READ_SLOTS);
  const writeInline = (blockIndex: number, blockCount: number, fill: (dst: Uint8Array) => void): Promise<void> => {
    const buf = new Uint8Array(blockCount * BLOCK_SIZE_BYTES);
    fill(buf);
    return block.write(blockIndex, buf);
  };
  return {
    blockSizeBytes: BLOCK_SIZE_BYTES,
    dataRegion: { blockIndex: data.blockIndex, blockCount: data.blockCount },
    allocate: (blockCount, contiguous) => block.allocate(blockCount, { contiguous }),
    write: (blockIndex, bytes) => block.write(blockIndex, bytes),
    writeStaged: writes
      ? (blockIndex, blockCount, fill) => {
          const stage = writes.staging();
          if (!stage) return Promise.resolve().then(() => writeInline(blockIndex, blockCount, fill));
          return stage
            .use(async (offsetBytes, dst) => {
              const lengthBytes = blockCount * BLOCK_SIZE_BYTES;
              assert(lengthBytes <= dst.length, `a staged write of ${blockCount} blocks fits a slot`);
              fill(dst.subarray(0, lengthBytes));
              await block.writeFrom(blockIndex, [{ grantId: stage.grantId, offsetBytes, lengthBytes }]);
            })
            .catch((e: unknown) => {
              if (!lostGrant(e)) throw e;
              // The block service restarted and read nothing of the slot: the same blocks
              // (fresh ones from the pool, not yet named by any record) are written inline,
              // from the same source, checked again by `fill` as before.
              writes.drop(stage);
              return writeInline(blockIndex, blockCount, fill);
            });
        }
      : undefined,
    read: (blockIndex, blockCount) => {
      const stage = blockCount > 0 && blockCount * BLOCK_SIZE_BYTES <= READ_SLOT_BYTES ? reads.staging() : undefined;
      if (!stage) return block.read(blockIndex, blockCount);
      return stage
        .use(async (offsetBytes, slot) => {
          const lengthBytes = blockCount * BLOCK_SIZE_BYTES;
          await block.readInto(blockIndex, blockCount, [{ grantId: stage.grantId, offsetBytes, lengthBytes }]);
          return slot.slice(0, lengthBytes); // private: the store verifies exactly what it returns
        })
        .catch((e: unknown) => {
          if (!lostGrant(e)) throw e;
          reads.drop(stage);
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

