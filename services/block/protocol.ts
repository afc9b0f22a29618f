/**
 * The block service's protocol: message shapes, their validation, and a typed client.
 * This file is all another service may import from services/block.
 *
 * Addressing is in 4096-byte blocks. Bulk data moves either inline (`data`, copied in the
 * message) or by grant (`from` / `into`: segments of the caller's memory lent to the
 * block service's endpoint), exactly as in the driver's protocol.
 *
 * Ops (durable = survives power loss once the reply has come):
 *   info                         -> BlockInfo (geometry, region table, limits, mount report)
 *   stats                        -> BlockStats (cache, journal, queue, free space)
 *   read   {blockIndex, blockCount, into?}  -> {data?}   any block of the image
 *   write  {blockIndex, data | from}        -> {}        Axiom region, or ALLOCATED blocks
 *          of the data region; durable after a later flush (no journal: for blocks that
 *          nothing references yet, and for Axiom's own log)
 *   flush                        -> {}  every write replied to before it is durable
 *   sync                         -> {}  flush, then checkpoint the journal (fast next mount)
 *   txBegin -> {txId};  txWrite {txId, blockIndex, data | from} -> {};  txAbort {txId}
 *   txCommit {txId} -> {sequence}  all of the transaction's writes, or none, durable on reply
 *   commit {writes: [{blockIndex, data}]} -> {sequence}  one-message transaction
 *   allocate {blockCount, contiguous?} -> {extents}  durable on reply
 *   free {extents} -> {freedBlocks}                  durable on reply
 *   allocated {fromBlockIndex?, extentsMax?} -> {extents, nextBlockIndex}  the data region's
 *            allocated extents from the allocator itself (not the cached bitmap blocks), in
 *            pages: nextBlockIndex is null after the last one
 *
 * Error codes (services/block/errors.ts): NOSPC, RANGE, NOTALLOCATED, BADMSG, TOOBIG,
 * NOTX, INTEGRITY, IOERR, FAILED, NOTMOUNTED, plus the kernel's.
 */
import { ServiceError, badMessage } from '../../kernel/errors.ts';
import type { ServiceContext } from '../../kernel/service.ts';
import type { Segment } from '../../drivers/virtio-blk/protocol.ts';

export type { Segment } from '../../drivers/virtio-blk/protocol.ts';
export type { BlockErrorCode } from './errors.ts';

export const BLOCK_ENDPOINT = 'block';

export interface Extent {
  blockIndex: number;
  blockCount: number;
}

export interface BlockWriteMsg {
  blockIndex: number;
  data: Uint8Array;
}

export type BlockRequest =
  | { op: 'info' }
  | { op: 'stats' }
  | { op: 'read'; blockIndex: number; blockCount: number; into?: Segment[] }
  | { op: 'write'; blockIndex: number; data?: Uint8Array; from?: Segment[] }
  | { op: 'flush' }
  | { op: 'sync' }
  | { op: 'txBegin' }
  | { op: 'txWrite'; txId: number; blockIndex: number; data?: Uint8Array; from?: Segment[] }
  | { op: 'txCommit'; txId: number }
  | { op: 'txAbort'; txId: number }
  | { op: 'commit'; writes: BlockWriteMsg[] }
  | { op: 'allocate'; blockCount: number; contiguous: boolean }
  | { op: 'free'; extents: Extent[] }
  | { op: 'allocated'; fromBlockIndex: number; extentsMax: number };

/** Extents in one `allocated` reply, at most. */
export const ALLOCATED_EXTENTS_MAX = 65_536;

export interface BlockInfo {
  blockSizeBytes: number;
  blockCount: number;
  uuid: string;
  formatVersion: number;
  regions: { superblock: Extent; journal: Extent; bitmap: Extent; axiom: Extent; data: Extent; spare: Extent };
  limits: { ioBlocksMax: number; txBlocksMax: number; allocateBlocksMax: number; extentsPerRequestMax: number };
  mount: {
    superblockSource: 'primary' | 'spare';
    problems: string[];
    replayedTransactions: number;
    replayedBlocks: number;
    replayStop: string;
  };
}

export interface BlockStats {
  freeBlocks: number;
  dataBlocks: number;
  cache: { capacityBytes: number; residentBytes: number; dirtyBlocks: number; hits: number; misses: number; coalesced: number; evictions: number; writeBacks: number; ghostHits: number };
  journal: { capacityBlocks: number; usedBlocks: number; liveTransactions: number; commits: number; batches: number; checkpoints: number; nextSequence: number };
  queue: { queued: number; inFlight: number; inFlightMax: number; deviceRequests: number; merged: number; flushes: number };
  openTransactions: number;
  failed: string | null;
}

const SEGMENTS_MAX = 1024;

function int(v: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) badMessage(`${what} must be an integer in [0, ${max}], got ${String(v)}`);
  return v;
}

function bytes(v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) badMessage(`${what} must be bytes`);
  if (v.length === 0 || v.length % 4096 !== 0) badMessage(`${what}: ${v.length} bytes is not a positive multiple of 4096`);
  return v;
}

function segments(v: unknown, what: string): Segment[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > SEGMENTS_MAX) badMessage(`${what} must be 1..${SEGMENTS_MAX} segments`);
  return v.map((s, i) => {
    if (!s || typeof s !== 'object') badMessage(`${what}[${i}] is not a segment`);
    const seg = s as Record<string, unknown>;
    const lengthBytes = int(seg.lengthBytes, `${what}[${i}].lengthBytes`);
    if (lengthBytes === 0 || lengthBytes % 4096 !== 0) badMessage(`${what}[${i}].lengthBytes ${lengthBytes} is not a positive multiple of 4096`);
    return { grantId: int(seg.grantId, `${what}[${i}].grantId`), offsetBytes: int(seg.offsetBytes, `${what}[${i}].offsetBytes`), lengthBytes };
  });
}

function extents(v: unknown, what: string): Extent[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > 4096) badMessage(`${what} must be 1..4096 extents`);
  return v.map((e, i) => {
    if (!e || typeof e !== 'object') badMessage(`${what}[${i}] is not an extent`);
    const x = e as Record<string, unknown>;
    const blockCount = int(x.blockCount, `${what}[${i}].blockCount`);
    if (blockCount === 0) badMessage(`${what}[${i}].blockCount must be at least 1`);
    return { blockIndex: int(x.blockIndex, `${what}[${i}].blockIndex`), blockCount };
  });
}

function dataOrFrom(b: Record<string, unknown>): { data?: Uint8Array; from?: Segment[] } {
  if ((b.data === undefined) === (b.from === undefined)) badMessage('takes exactly one of data or from');
  return b.data !== undefined ? { data: bytes(b.data, 'data') } : { from: segments(b.from, 'from') };
}

/** Checks the shape of a request; throws BADMSG naming the field. Ranges and regions are checked by the service. */
export function parseBlockRequest(op: string, body: unknown): BlockRequest {
  if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) badMessage(`${op}: body must be a map`);
  const b = (body ?? {}) as Record<string, unknown>;
  switch (op) {
    case 'info':
    case 'stats':
    case 'flush':
    case 'sync':
    case 'txBegin':
      return { op };
    case 'read': {
      const req: BlockRequest = { op, blockIndex: int(b.blockIndex, 'blockIndex'), blockCount: int(b.blockCount, 'blockCount') };
      if (req.blockCount === 0) badMessage('blockCount must be at least 1');
      if (b.into !== undefined) req.into = segments(b.into, 'into');
      return req;
    }
    case 'write':
      return { op, blockIndex: int(b.blockIndex, 'blockIndex'), ...dataOrFrom(b) };
    case 'txWrite':
      return { op, txId: int(b.txId, 'txId'), blockIndex: int(b.blockIndex, 'blockIndex'), ...dataOrFrom(b) };
    case 'txCommit':
    case 'txAbort':
      return { op, txId: int(b.txId, 'txId') };
    case 'commit': {
      if (!Array.isArray(b.writes) || b.writes.length === 0) badMessage('writes must be a non-empty array');
      return {
        op,
        writes: b.writes.map((w: unknown, i: number) => {
          if (!w || typeof w !== 'object') badMessage(`writes[${i}] is not a map`);
          const x = w as Record<string, unknown>;
          return { blockIndex: int(x.blockIndex, `writes[${i}].blockIndex`), data: bytes(x.data, `writes[${i}].data`) };
        }),
      };
    }
    case 'allocate': {
      const blockCount = int(b.blockCount, 'blockCount');
      if (blockCount === 0) badMessage('blockCount must be at least 1');
      if (b.contiguous !== undefined && typeof b.contiguous !== 'boolean') badMessage('contiguous must be a boolean');
      return { op, blockCount, contiguous: b.contiguous === true };
    }
    case 'free':
      return { op, extents: extents(b.extents, 'extents') };
    case 'allocated':
      return {
        op,
        fromBlockIndex: b.fromBlockIndex === undefined ? 0 : int(b.fromBlockIndex, 'fromBlockIndex'),
        extentsMax: b.extentsMax === undefined ? ALLOCATED_EXTENTS_MAX : Math.max(1, int(b.extentsMax, 'extentsMax', ALLOCATED_EXTENTS_MAX)),
      };
    default:
      throw new ServiceError('BADOP', `block has no op '${op}'`);
  }
}

/** Typed client over a ServiceContext whose manifest names the block endpoint. */
export class BlockClient {
  constructor(
    private readonly ctx: ServiceContext,
    readonly endpoint: string = BLOCK_ENDPOINT,
  ) {}

  info(): Promise<BlockInfo> {
    return this.ctx.call<BlockInfo>(this.endpoint, 'info', {});
  }
  stats(): Promise<BlockStats> {
    return this.ctx.call<BlockStats>(this.endpoint, 'stats', {});
  }
  async read(blockIndex: number, blockCount: number): Promise<Uint8Array> {
    return (await this.ctx.call<{ data: Uint8Array }>(this.endpoint, 'read', { blockIndex, blockCount })).data;
  }
  async readInto(blockIndex: number, blockCount: number, into: Segment[]): Promise<void> {
    await this.ctx.call(this.endpoint, 'read', { blockIndex, blockCount, into });
  }
  async write(blockIndex: number, data: Uint8Array): Promise<void> {
    await this.ctx.call(this.endpoint, 'write', { blockIndex, data });
  }
  async writeFrom(blockIndex: number, from: Segment[]): Promise<void> {
    await this.ctx.call(this.endpoint, 'write', { blockIndex, from });
  }
  async flush(): Promise<void> {
    await this.ctx.call(this.endpoint, 'flush', {});
  }
  async sync(): Promise<void> {
    await this.ctx.call(this.endpoint, 'sync', {});
  }
  async txBegin(): Promise<number> {
    return (await this.ctx.call<{ txId: number }>(this.endpoint, 'txBegin', {})).txId;
  }
  async txWrite(txId: number, blockIndex: number, data: Uint8Array): Promise<void> {
    await this.ctx.call(this.endpoint, 'txWrite', { txId, blockIndex, data });
  }
  async txWriteFrom(txId: number, blockIndex: number, from: Segment[]): Promise<void> {
    await this.ctx.call(this.endpoint, 'txWrite', { txId, blockIndex, from });
  }
  /** Resolves with the transaction's journal sequence once it is durable. */
  async txCommit(txId: number): Promise<number> {
    return (await this.ctx.call<{ sequence: number }>(this.endpoint, 'txCommit', { txId })).sequence;
  }
  async txAbort(txId: number): Promise<void> {
    await this.ctx.call(this.endpoint, 'txAbort', { txId });
  }
  /** A whole transaction in one message; resolves once durable. */
  async commit(writes: BlockWriteMsg[]): Promise<number> {
    return (await this.ctx.call<{ sequence: number }>(this.endpoint, 'commit', { writes })).sequence;
  }
  async allocate(blockCount: number, options: { contiguous?: boolean } = {}): Promise<Extent[]> {
    return (await this.ctx.call<{ extents: Extent[] }>(this.endpoint, 'allocate', { blockCount, contiguous: options.contiguous ?? false })).extents;
  }
  async free(extents: Extent[]): Promise<number> {
    return (await this.ctx.call<{ freedBlocks: number }>(this.endpoint, 'free', { extents })).freedBlocks;
  }
  /** Every allocated extent of the data region, as the allocator knows it now (all pages). */
  async allocated(): Promise<Extent[]> {
    const out: Extent[] = [];
    for (let from: number | null = 0; from !== null; ) {
      const page: { extents: Extent[]; nextBlockIndex: number | null } = await this.ctx.call(this.endpoint, 'allocated', { fromBlockIndex: from });
      out.push(...page.extents);
      from = page.nextBlockIndex;
    }
    return out;
  }
}
