/**
 * The engine's seams (seams.ts) over the real services, each reached only through its
 * protocol.ts: chunks through the content store, records through Axiom, checkpoint
 * images through the block service.
 *
 * Chunks: page bytes go by grant through staging the engine lends the content store
 * (ContentChunks below), inline only when no memory can be lent.
 *
 * Records: an fs transaction is proposed to Axiom as the fs records followed by one
 * ChunkRef per chunk reference change, so names and references commit atomically; the
 * content store follows the log and applies the ChunkRefs (its puts take no reference:
 * `ref: false`, leased from gc until the ChunkRef commits).
 *
 * Checkpoint images live in blocks of their own (allocated from the block service,
 * written, flushed) and are named by the Axiom checkpoint, which the content store
 * records: `content.checkpoint({v, fs: ImageRef})` catches the content index up with the
 * log, adds its own image (`content`) and records the whole as the checkpoint. An image
 * may be megabytes, more than one log record may carry. The engine has stopped applying
 * changes and every commit has landed before it calls checkpoint (filesystem.ts), so the
 * image and the log agree. After the checkpoint, the previous fs image's blocks are freed.
 * A crash before it leaves the new image's blocks named by no checkpoint, a crash after it
 * the old image's: either way the content store's mount frees them as leftovers (it holds
 * every extent a checkpoint names, and frees other allocated blocks it does not know).
 */
import { ServiceError } from '../../kernel/errors.ts';
import { AxiomClient, TXN_RECORDS_MAX, type LogRecord, type RecordInput } from '../../axiom/protocol.ts';
import type { BlockClient, Extent } from '../../services/block/protocol.ts';
import type { ContentClient } from '../../services/content/protocol.ts';
import type { ServiceMemory } from '../../kernel/service.ts';
import type { Region } from '../../kernel/memory.ts';
import { StagingSlots } from '../../kernel/staging.ts';
import { GET_STAGING_SLOTS, PAGE_SIZE_BYTES, PUT_BATCH_PAGES, PUT_STAGING_SLOTS } from './limits.ts';
import type { ChunkSink, LoggedRecord, MetaLog } from './seams.ts';
import type { ChunkDelta } from './state.ts';
import { FS_RECORD_TYPES, type FsRecord, isFsRecordType } from './records.ts';
import { hashKey } from './pages.ts';

const BLOCK_SIZE_BYTES = 4096;
const READ_RECORDS_BATCH = 4096;
/** Records per proposal, below Axiom's TXN_RECORDS_MAX with room to spare for its size limit. */
const TXN_RECORDS_BATCH = Math.min(2048, TXN_RECORDS_MAX);
const PUT_SLOT_BYTES = PUT_BATCH_PAGES * PAGE_SIZE_BYTES;

function assert(ok: boolean, what: string): asserts ok {
  if (!ok) throw new Error(`fs adapters: ${what}`);
}

/**
 * Pages to and from the content store. With memory to lend, page bytes go by grant: a put
 * batch is copied into a slot of a region lent 'r' (putMany `from` + lengths), a get lands
 * in a one-page slot of a region lent 'w' (`into`) and is copied out for the caller (the
 * page cache keeps it, the slot is reused). The content store verifies every chunk it reads
 * against its hash before it fills the slot. Without memory, or if the regions cannot be
 * had, everything is inline. If the content store stops honouring the grants (it restarted:
 * the kernel dropped what it held), the regions are freed, the call is made inline, and the
 * next call lends fresh ones. A chunk larger than a page (a snapshot's tree object) is
 * fetched inline.
 */
export class ContentChunks implements ChunkSink {
  private puts?: StagingSlots;
  private gets?: StagingSlots;
  private inlineOnly: boolean;

  constructor(
    private readonly content: ContentClient,
    private readonly memory?: ServiceMemory,
  ) {
    this.inlineOnly = !memory;
  }

  async put(chunks: Uint8Array[]): Promise<Uint8Array[]> {
    const batches: Uint8Array[][] = [];
    for (let i = 0; i < chunks.length; i += PUT_BATCH_PAGES) batches.push(chunks.slice(i, i + PUT_BATCH_PAGES));
    // Batches go together (each waits for a slot), so the store hashes one while the next is copied.
    const hashes = await Promise.all(batches.map((b) => this.putBatch(b)));
    const out = hashes.flat();
    assert(out.length === chunks.length, `put of ${chunks.length} chunks returned ${out.length} hashes`);
    return out;
  }

  private async putBatch(batch: Uint8Array[]): Promise<Uint8Array[]> {
    const staging = this.staging();
    if (!staging || batch.some((c) => c.length === 0 || c.length > PAGE_SIZE_BYTES)) return (await this.content.putMany(batch, { ref: false })).hashes;
    try {
      return await staging.puts.use(async (offsetBytes, slot) => {
        let at = 0;
        for (const c of batch) {
          slot.set(c, at);
          at += c.length;
        }
        const { hashes } = await this.content.putManyFrom([{ grantId: staging.puts.grantId, offsetBytes, lengthBytes: at }], batch.map((c) => c.length), { ref: false });
        return hashes;
      });
    } catch (e) {
      if (!this.grantRefused(e, staging)) throw e;
      return (await this.content.putMany(batch, { ref: false })).hashes;
    }
  }

  async get(hash: Uint8Array): Promise<Uint8Array> {
    const staging = this.staging();
    if (!staging) return this.content.get(hash);
    try {
      return await staging.gets.use(async (offsetBytes, slot) => {
        const lengthBytes = await this.content.getInto(hash, [{ grantId: staging.gets.grantId, offsetBytes, lengthBytes: slot.length }]);
        assert(lengthBytes <= slot.length, `a get filled ${lengthBytes} bytes of a ${slot.length}-byte slot`);
        return slot.slice(0, lengthBytes);
      });
    } catch (e) {
      if (e instanceof ServiceError && e.code === 'TOOBIG') return this.content.get(hash); // larger than a page: a tree object
      if (!this.grantRefused(e, staging)) throw e;
      return this.content.get(hash);
    }
  }

  /** The staging regions, lent on first use; undefined when the engine works inline. */
  private staging(): { puts: StagingSlots; gets: StagingSlots } | undefined {
    if (this.puts && this.gets) return { puts: this.puts, gets: this.gets };
    const memory = this.memory;
    if (this.inlineOnly || !memory) return undefined;
    const regions: Region[] = [];
    try {
      const lend = (slotBytes: number, slotCount: number, rights: 'r' | 'w') => {
        const region = memory.alloc(slotBytes * slotCount);
        regions.push(region);
        return new StagingSlots(region, memory.view(region, 0, slotBytes * slotCount), memory.grant(region, this.content.endpoint, rights), slotBytes, slotCount);
      };
      this.puts = lend(PUT_SLOT_BYTES, PUT_STAGING_SLOTS, 'r');
      this.gets = lend(PAGE_SIZE_BYTES, GET_STAGING_SLOTS, 'w');
      return { puts: this.puts, gets: this.gets };
    } catch (e) {
      if (!(e instanceof ServiceError)) throw e;
      for (const r of regions) memory.free(r);
      this.puts = this.gets = undefined;
      this.inlineOnly = true; // no memory to lend (NOMEM) or no right to lend it: inline from now on
      return undefined;
    }
  }

  /** True if `e` says the content store no longer holds our grant; the regions are then dropped (calls still using them finish inline too). */
  private grantRefused(e: unknown, staging: { puts: StagingSlots; gets: StagingSlots }): boolean {
    if (!(e instanceof ServiceError) || e.code !== 'GRANT') return false;
    if (this.puts === staging.puts) {
      this.puts = this.gets = undefined;
      // Freed once no call uses them: the slots of a dropped region are never handed out again.
      void Promise.all([staging.puts.idle(), staging.gets.idle()]).then(() => {
        this.memory?.free(staging.puts.region);
        this.memory?.free(staging.gets.region);
      });
    }
    return true;
  }
}

/** Where a checkpoint image lives: whole blocks, its length, and a hash to verify it by. */
export interface ImageRef {
  extents: Extent[];
  sizeBytes: number;
  /** FNV-1a-64 style check of the bytes, as hex (integrity, not security: the log is hash-chained). */
  check: string;
}

export interface CheckpointImage {
  v: 1;
  fs: ImageRef;
}

/** The check an ImageRef carries (exported for the offline fsck, which verifies images the same way). */
export function checkOf(bytes: Uint8Array): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < bytes.length; i++) {
    h1 = Math.imul(h1 ^ bytes[i], 0x01000193);
    h2 = Math.imul(h2 ^ bytes[i], 0x5bd1e995);
  }
  return `${(h1 >>> 0).toString(16).padStart(8, '0')}${(h2 >>> 0).toString(16).padStart(8, '0')}:${bytes.length}`;
}

export class AxiomMetaLog implements MetaLog {
  private current?: ImageRef;

  constructor(
    private readonly axiom: AxiomClient,
    private readonly block: BlockClient,
    private readonly content: ContentClient,
  ) {}

  /** Resolves with the Axiom seq of the first of `records`. */
  async commit(records: FsRecord[], deltas: ChunkDelta[]): Promise<number> {
    const merged = new Map<string, { hash: Uint8Array; delta: number }>();
    for (const d of deltas) {
      const k = hashKey(d.hash);
      const m = merged.get(k);
      if (m) m.delta += d.delta;
      else merged.set(k, { hash: d.hash, delta: d.delta });
    }
    const input: RecordInput[] = records.map((r) => ({ type: r.type, payload: r.payload }) as RecordInput);
    const refs = [...merged.values()].filter((m) => m.delta !== 0).map((m) => ({ type: 'ChunkRef', payload: { hash: m.hash, delta: m.delta } }) as RecordInput);
    if (input.length + refs.length <= TXN_RECORDS_BATCH) return (await this.axiom.propose([...input, ...refs])).firstSeq;
    // More references than one transaction takes (a restore across a large difference, a
    // clone of a large file): increments commit before the records, decrements after them,
    // so a crash in between over-counts (leaks until fsck) and never under-counts a chunk a
    // record names. The proposals are issued together, in order, so no other commit lands
    // between them out of call order; the one holding the records is this commit's commit point
    // (the engine replies only when all have committed).
    if (input.length > TXN_RECORDS_BATCH) throw new ServiceError('EIO', `an fs transaction of ${input.length} records`);
    const ups = refs.filter((r) => (r.payload as { delta: number }).delta > 0);
    const downs = refs.filter((r) => (r.payload as { delta: number }).delta < 0);
    const batches: RecordInput[][] = [];
    for (let i = 0; i < ups.length; i += TXN_RECORDS_BATCH) batches.push(ups.slice(i, i + TXN_RECORDS_BATCH));
    const inputAt = batches.length;
    batches.push(input);
    for (let i = 0; i < downs.length; i += TXN_RECORDS_BATCH) batches.push(downs.slice(i, i + TXN_RECORDS_BATCH));
    const receipts = await Promise.all(batches.map((b) => this.axiom.propose(b)));
    return receipts[inputAt].firstSeq;
  }

  async replay(): Promise<{ image?: Uint8Array; records: AsyncIterable<LoggedRecord> }> {
    const { seq, image } = await this.axiom.checkpointImage();
    let fsImage: Uint8Array | undefined;
    if (seq > 0) {
      const ci = image as Partial<CheckpointImage> | null;
      if (!ci || ci.v !== 1 || !ci.fs) throw new ServiceError('EIO', `checkpoint at seq ${seq} holds no filesystem image`);
      this.current = ci.fs;
      fsImage = await this.readImage(ci.fs);
    }
    const axiom = this.axiom;
    async function* records(): AsyncGenerator<LoggedRecord> {
      for (let from = seq + 1; ; ) {
        const batch = await axiom.read(from, READ_RECORDS_BATCH);
        for (const r of batch.records as LogRecord[]) if (isFsRecordType(r.type)) yield { type: r.type, payload: r.payload, seq: r.seq } as LoggedRecord;
        if (batch.records.length === 0) return;
        from = batch.records[batch.records.length - 1].seq + 1;
        if (from > batch.committedSeq) return;
      }
    }
    return { image: fsImage, records: records() };
  }

  async checkpoint(image: Uint8Array): Promise<void> {
    const ref = await this.writeImage(image);
    try {
      await this.content.checkpoint({ v: 1, fs: ref } satisfies CheckpointImage as unknown as Record<string, unknown>);
    } catch (e) {
      await this.freeQuietly(ref.extents); // not recorded (or unknown: the next mount frees leftovers)
      throw e;
    }
    const previous = this.current;
    this.current = ref;
    if (previous) await this.freeQuietly(previous.extents);
  }

  private async writeImage(bytes: Uint8Array): Promise<ImageRef> {
    const blockCount = Math.max(1, Math.ceil(bytes.length / BLOCK_SIZE_BYTES));
    const extents = await this.block.allocate(blockCount);
    const padded = new Uint8Array(blockCount * BLOCK_SIZE_BYTES);
    padded.set(bytes);
    let at = 0;
    for (const e of extents) {
      for (let i = 0; i < e.blockCount; i += 256) {
        const n = Math.min(256, e.blockCount - i);
        await this.block.write(e.blockIndex + i, padded.subarray((at + i) * BLOCK_SIZE_BYTES, (at + i + n) * BLOCK_SIZE_BYTES));
      }
      at += e.blockCount;
    }
    await this.block.flush();
    return { extents, sizeBytes: bytes.length, check: checkOf(bytes) };
  }

  private async readImage(ref: ImageRef): Promise<Uint8Array> {
    const out = new Uint8Array(ref.extents.reduce((n, e) => n + e.blockCount, 0) * BLOCK_SIZE_BYTES);
    let at = 0;
    for (const e of ref.extents) {
      for (let i = 0; i < e.blockCount; i += 256) {
        const n = Math.min(256, e.blockCount - i);
        out.set(await this.block.read(e.blockIndex + i, n), (at + i) * BLOCK_SIZE_BYTES);
      }
      at += e.blockCount;
    }
    const bytes = out.subarray(0, ref.sizeBytes);
    if (checkOf(bytes) !== ref.check) throw new ServiceError('EIO', `the filesystem's checkpoint image does not match its check (${ref.check})`);
    return bytes;
  }

  private async freeQuietly(extents: Extent[]): Promise<void> {
    try {
      await this.block.free(extents);
    } catch (e) {
      // Already free (a crash after the free, before the next checkpoint): nothing to do.
      if (!(e instanceof ServiceError)) throw e;
    }
  }
}

export { FS_RECORD_TYPES };
