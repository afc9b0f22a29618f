/**
 * The two seams the content store stands on, so the store logic runs unchanged over the
 * real services (adapters.ts: block service and Axiom through their protocol.ts clients)
 * and over in-memory models in tests (test/content/ports.ts).
 *
 * BlockPort, the block service's contract as the store relies on it:
 *  - allocate(n) is durable on reply and returns extents of the data region nobody else
 *    holds; free(extents) is durable on reply.
 *  - write(blockIndex, data) of allocated blocks is visible at once and durable only
 *    after a later flush() resolves; read returns what was last written.
 *  - allocatedExtents() lists every allocated extent of the data region (for the mount
 *    scan that frees crash leftovers). The store assumes it is the only allocator of
 *    data blocks (DESIGN.md: file data lives in chunks).
 *
 * MetaLog, Axiom's contract as the store relies on it:
 *  - commit(records) makes all of them durable and visible, or none; it resolves after
 *    the commit point (the flush after the Commit record) with the transaction's seqs.
 *  - read(afterSeq, apply) calls `apply` with every committed content record whose seq
 *    is above afterSeq, in commit order, and resolves with the newest committed seq it
 *    covered. Records other clients committed (the filesystem commits ChunkRef in its
 *    own transactions) come through here too.
 *  - checkpoint() names the newest checkpoint; history before it is gone, so the mount
 *    loads the content index image the checkpoint names (image.ts) and reads after it.
 */
import type { Extent } from '../block/protocol.ts';

export type { Extent } from '../block/protocol.ts';

export interface BlockPort {
  readonly blockSizeBytes: number;
  /** Where chunk extents may lie. */
  readonly dataRegion: Extent;
  allocate(blockCount: number, contiguous: boolean): Promise<Extent[]>;
  write(blockIndex: number, data: Uint8Array): Promise<void>;
  /** Optional zero-copy write: `fill` writes the blockCount blocks straight into memory the block service reads (a granted staging slot). */
  writeStaged?(blockIndex: number, blockCount: number, fill: (dst: Uint8Array) => void): Promise<void>;
  read(blockIndex: number, blockCount: number): Promise<Uint8Array>;
  flush(): Promise<void>;
  free(extents: Extent[]): Promise<void>;
  allocatedExtents(): Promise<Extent[]>;
}

/** The content store's Axiom records (axiom/records.ts: ChunkPut, ChunkRef, ChunkDrop). */
export type ContentRecord =
  | { type: 'ChunkPut'; payload: { hash: Uint8Array; blockIndex: number; blockCount: number; sizeBytes: number } }
  | { type: 'ChunkRef'; payload: { hash: Uint8Array; delta: number } }
  | { type: 'ChunkDrop'; payload: { hash: Uint8Array } };

export interface CommitSeqs {
  firstSeq: number;
  commitSeq: number;
}

export interface MetaLog {
  commit(records: ContentRecord[]): Promise<CommitSeqs>;
  read(afterSeq: number, apply: (record: ContentRecord, seq: number) => void): Promise<number>;
  /** The newest checkpoint (its seq and image value), if the log has one. */
  checkpoint(): Promise<{ seq: number; image: unknown } | undefined>;
  /** Records a checkpoint image; records proposed after the call land after it. */
  recordCheckpoint(image: unknown): Promise<{ commitSeq: number }>;
}
