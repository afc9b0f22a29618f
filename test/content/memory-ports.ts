// In-memory models of the content store's two seams (services/content/ports.ts), with
// the fault model the store must survive: writes are volatile until flush, allocate and
// free are durable on reply, commits are durable on reply, and crash() loses exactly the
// unflushed writes. Faults can be armed for the next call of an operation, and a commit
// can fail with an unknown outcome (EIO) that was in fact kept or lost.
import { ServiceError } from '../../kernel/errors.ts';
import type { BlockPort, ContentRecord, Extent, MetaLog } from '../../services/content/ports.ts';
import { mergeExtents } from '../../services/content/gc.ts';

const B = 4096;

export class MemoryBlockPort implements BlockPort {
  readonly blockSizeBytes = B;
  readonly dataRegion: Extent;
  private readonly durable = new Map<number, Uint8Array>();
  private volatile = new Map<number, Uint8Array>();
  readonly allocated = new Set<number>();
  private readonly flips = new Map<number, number>();
  private readonly faults = new Map<string, string>();
  counts = { allocate: 0, write: 0, flush: 0, free: 0, read: 0 };

  constructor(dataBlocks = 4096, firstBlock = 100) {
    this.dataRegion = { blockIndex: firstBlock, blockCount: dataBlocks };
  }

  /** The next call of `op` fails with `code` (and changes nothing). */
  failNext(op: 'allocate' | 'write' | 'flush' | 'free' | 'read', code: string): void {
    this.faults.set(op, code);
  }

  private fault(op: keyof MemoryBlockPort['counts']): void {
    this.counts[op]++;
    const code = this.faults.get(op);
    if (code) {
      this.faults.delete(op);
      throw new ServiceError(code, `injected ${code} on ${op}`);
    }
  }

  async allocate(blockCount: number, contiguous: boolean): Promise<Extent[]> {
    await undefined;
    this.fault('allocate');
    const { blockIndex: first, blockCount: n } = this.dataRegion;
    let run = 0;
    for (let b = first; b < first + n; b++) {
      run = this.allocated.has(b) ? 0 : run + 1;
      if (run === blockCount) {
        for (let k = b - blockCount + 1; k <= b; k++) this.allocated.add(k);
        return [{ blockIndex: b - blockCount + 1, blockCount }];
      }
    }
    void contiguous;
    throw new ServiceError('NOSPC', `no run of ${blockCount} free blocks`);
  }

  async free(extents: Extent[]): Promise<void> {
    await undefined;
    this.fault('free');
    for (const e of extents) for (let b = e.blockIndex; b < e.blockIndex + e.blockCount; b++) {
      if (!this.allocated.has(b)) throw new ServiceError('NOTALLOCATED', `block ${b} is not allocated`);
    }
    for (const e of extents) for (let b = e.blockIndex; b < e.blockIndex + e.blockCount; b++) this.allocated.delete(b);
  }

  async write(blockIndex: number, data: Uint8Array): Promise<void> {
    await undefined;
    this.fault('write');
    if (data.length === 0 || data.length % B !== 0) throw new ServiceError('BADMSG', `write of ${data.length} bytes`);
    for (let i = 0; i < data.length / B; i++) {
      if (!this.allocated.has(blockIndex + i)) throw new ServiceError('NOTALLOCATED', `write of unallocated block ${blockIndex + i}`);
    }
    for (let i = 0; i < data.length / B; i++) this.volatile.set(blockIndex + i, data.slice(i * B, (i + 1) * B));
  }

  async flush(): Promise<void> {
    await undefined;
    this.fault('flush');
    for (const [b, d] of this.volatile) this.durable.set(b, d);
    this.volatile.clear();
  }

  async read(blockIndex: number, blockCount: number): Promise<Uint8Array> {
    await undefined;
    this.fault('read');
    const out = new Uint8Array(blockCount * B);
    for (let i = 0; i < blockCount; i++) {
      const d = this.volatile.get(blockIndex + i) ?? this.durable.get(blockIndex + i);
      if (d) out.set(d, i * B);
      const flip = this.flips.get(blockIndex + i);
      if (flip !== undefined) out[i * B + (flip >> 3)] ^= 1 << (flip & 7);
    }
    return out;
  }

  async allocatedExtents(): Promise<Extent[]> {
    return mergeExtents([...this.allocated].map((b) => ({ blockIndex: b, blockCount: 1 })));
  }

  /** Reads of this block return bit `bitIndex` flipped (the stored bytes stay right). */
  flipBitOnRead(blockIndex: number, bitIndex: number): void {
    this.flips.set(blockIndex, bitIndex);
  }

  /** Power loss: unflushed writes are gone; allocations (journaled) stay. */
  crash(): void {
    this.volatile = new Map();
  }

  /** Blocks whose durable bytes differ from zero (for "never overwrite a live block" checks). */
  durableBlock(blockIndex: number): Uint8Array | undefined {
    return this.durable.get(blockIndex);
  }
}

export class MemoryLog implements MetaLog {
  /** Committed transactions, each with the seq of its first record (its Commit record is firstSeq + records). */
  readonly transactions: { firstSeq: number; records: ContentRecord[] }[] = [];
  private nextSeq = 1;
  private cp: { seq: number; image: unknown } | undefined;
  private nextFault: { code: string; kept: boolean } | null = null;
  commits = 0;
  reads = 0;

  /** The next commit fails with `code`; with `kept` it was nevertheless made durable (an EIO after the flush). */
  failNext(code: string, kept = false): void {
    this.nextFault = { code, kept };
  }

  /** Another client (the filesystem) commits content records in its own transaction. */
  foreign(records: ContentRecord[]): void {
    this.append(structuredClone(records));
  }

  private append(records: ContentRecord[]): { firstSeq: number; commitSeq: number } {
    const firstSeq = this.nextSeq;
    this.transactions.push({ firstSeq, records });
    this.nextSeq += records.length + 1;
    return { firstSeq, commitSeq: firstSeq + records.length };
  }

  async commit(records: ContentRecord[]): Promise<{ firstSeq: number; commitSeq: number }> {
    const copy = structuredClone(records);
    await undefined;
    await undefined;
    this.commits++;
    const f = this.nextFault;
    if (f) {
      this.nextFault = null;
      if (f.kept) this.append(copy);
      throw new ServiceError(f.code, `injected ${f.code} on commit`);
    }
    return this.append(copy);
  }

  async read(afterSeq: number, apply: (record: ContentRecord, seq: number) => void): Promise<number> {
    await undefined;
    this.reads++;
    for (const t of this.transactions) {
      t.records.forEach((r, i) => {
        if (t.firstSeq + i > afterSeq) apply(structuredClone(r), t.firstSeq + i);
      });
    }
    return Math.max(afterSeq, this.nextSeq - 1);
  }

  async checkpoint(): Promise<{ seq: number; image: unknown } | undefined> {
    return this.cp && structuredClone(this.cp);
  }

  /** Records a checkpoint and drops the history before it (the ring reuses that space). */
  async recordCheckpoint(image: unknown): Promise<{ commitSeq: number }> {
    await undefined;
    const f = this.nextFault;
    if (f) {
      this.nextFault = null;
      throw new ServiceError(f.code, `injected ${f.code} on checkpoint`);
    }
    const seq = this.nextSeq;
    this.nextSeq += 2;
    this.cp = { seq, image: structuredClone(image) };
    this.transactions.splice(0);
    return { commitSeq: seq + 1 };
  }

  records(): ContentRecord[] {
    return this.transactions.flatMap((t) => t.records);
  }
}
