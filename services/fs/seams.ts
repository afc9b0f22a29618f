/**
 * The two things the filesystem engine needs from below, as small interfaces: a chunk
 * store for page contents and a metadata log for records. services/fs/service.ts
 * implements them over the content store and Axiom protocols; tests use in-memory ones.
 *
 * Ordering contract the engine relies on:
 *  - ChunkSink.put resolves only when the chunk's bytes are durable on the device, so a
 *    record naming the chunk may be committed after it (DESIGN.md, crash contract rule 1);
 *  - MetaLog.commit resolves when the records are durable (the Axiom commit point), and
 *    commits resolve in the order they were called, each one atomically;
 *  - commit and checkpoint take effect in call order: a checkpoint's image describes the
 *    state after exactly the commits called before it, so an implementation that must do
 *    work before recording the image holds back later commits until it has.
 */
import type { ChunkDelta } from './state.ts';
import type { FsRecord } from './records.ts';

/** A record as replay yields it: with its log sequence number, if the log numbers records. */
export type LoggedRecord = FsRecord & { seq?: number };

export interface ChunkSink {
  /** Stores each buffer as a chunk; resolves with their 32-byte hashes once durable. */
  put(chunks: Uint8Array[]): Promise<Uint8Array[]>;
  /** The bytes of a chunk, verified against its hash. */
  get(hash: Uint8Array): Promise<Uint8Array>;
}

export interface MetaLog {
  /**
   * Commits the records and the chunk reference changes they cause, as one transaction.
   * Resolves with the log sequence number of the first of `records` (they are numbered
   * consecutively), or nothing if the log does not number records.
   */
  commit(records: FsRecord[], chunkDeltas: ChunkDelta[]): Promise<number | void>;
  /** The newest checkpoint image (if any), then every committed fs record after it, in order, each with its sequence number where the log has one. */
  replay(): Promise<{ image?: Uint8Array; records: AsyncIterable<LoggedRecord> | Iterable<LoggedRecord> }>;
  /** Records a checkpoint image of the state after everything committed so far. */
  checkpoint(image: Uint8Array): Promise<void>;
}
