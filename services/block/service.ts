/**
 * The block service: serves protocol.ts on the `block` endpoint over a BlockStore
 * mounted on the virtio-blk driver through the I/O scheduler.
 *
 * Start = mount (superblock or spare, journal replay, bitmap verified); a mount failure
 * fails the start with the reason, so the supervisor and the boot log show it. Every
 * request is parsed by parseBlockRequest first: a bad message is a BADMSG reply, never a
 * crash. Open transactions live here (txBegin/txWrite/txCommit), bounded in number and
 * size, and are aborted after OPEN_TRANSACTION_IDLE_MS_MAX without use. A timer
 * checkpoints the journal and writes back the cache every CHECKPOINT_INTERVAL_MS.
 *
 * Commit points are the store's (store.ts); this file adds none.
 */
import { ServiceError } from '../../kernel/errors.ts';
import type { IncomingRequest, Manifest, ServiceContext, ServiceDefinition, ServiceHandlers } from '../../kernel/service.ts';
import { VIRTIO_BLK_ENDPOINT, type Segment } from '../../drivers/virtio-blk/protocol.ts';
import { blockError } from './errors.ts';
import { BLOCK_ENDPOINT, parseBlockRequest, type BlockInfo, type BlockRequest, type BlockStats } from './protocol.ts';
import { BlockStore } from './store.ts';
import { openDriver } from './transport.ts';
import { formatUuid } from './format/bytes.ts';
import { FORMAT_VERSION } from './format/superblock.ts';
import type { IoScheduler } from './scheduler.ts';
import {
  ALLOCATE_BLOCKS_MAX,
  BLOCK_SIZE_BYTES,
  CACHE_SIZE_BYTES_DEFAULT,
  CACHE_SIZE_BYTES_MAX,
  CACHE_SIZE_BYTES_MIN,
  CHECKPOINT_INTERVAL_MS,
  EXTENTS_PER_REQUEST_MAX,
  IO_BLOCKS_MAX,
  OPEN_TRANSACTIONS_MAX,
  OPEN_TRANSACTION_IDLE_MS_MAX,
  TX_BLOCKS_MAX,
} from './limits.ts';

export interface BlockServiceConfig {
  driverEndpoint: string;
  cacheSizeBytes: number;
  /** Run the periodic checkpoint / write-back timer and the journal's half-full checkpoint (off: checkpoint only when space is needed, for tests and the full-journal benchmark). */
  background: boolean;
}

export function blockManifest(options: { driverEndpoint?: string; name?: string; endpoint?: string; cacheSizeBytes?: number; background?: boolean } = {}): Manifest<BlockServiceConfig> {
  const driverEndpoint = options.driverEndpoint ?? VIRTIO_BLK_ENDPOINT;
  return {
    name: options.name ?? 'block',
    provides: [options.endpoint ?? BLOCK_ENDPOINT],
    calls: [driverEndpoint],
    config: { driverEndpoint, cacheSizeBytes: options.cacheSizeBytes ?? CACHE_SIZE_BYTES_DEFAULT, background: options.background ?? true },
    service: blockService,
  };
}

interface OpenTx {
  owner: string;
  writes: Map<number, Uint8Array>;
  lastUsedMs: number;
}

export const blockService: ServiceDefinition<BlockServiceConfig> = {
  start(ctx: ServiceContext, config: BlockServiceConfig): ServiceHandlers {
    // The kernel delivers no replies to a service still in start(), so mounting (which
    // calls the driver) runs after start returns; requests wait for it.
    const server = new BlockServer(ctx, config);
    return {
      handle: (req) => server.handle(req),
      stop: () => server.stop(),
    };
  },
};

class BlockServer {
  private readonly txs = new Map<number, OpenTx>();
  private nextTxId = 1;
  private timerId?: number;
  private stopped = false;
  private store!: BlockStore;
  private scheduler!: IoScheduler;
  private readonly ready: Promise<void>;
  private mountError?: ServiceError;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly config: BlockServiceConfig,
  ) {
    this.ready = this.mount();
  }

  private async mount(): Promise<void> {
    try {
      const cacheSizeBytes = Math.min(CACHE_SIZE_BYTES_MAX, Math.max(CACHE_SIZE_BYTES_MIN, this.config.cacheSizeBytes));
      const { scheduler } = await openDriver(this.ctx, this.config.driverEndpoint);
      this.scheduler = scheduler;
      this.store = await BlockStore.mount(scheduler, { cacheSizeBytes, autoCheckpoint: this.config.background });
    } catch (e) {
      const code = e instanceof ServiceError ? e.code : 'NOTMOUNTED';
      this.mountError = new ServiceError(code, `mount failed: ${(e as Error).message}`);
      this.ctx.log(this.mountError.message);
      return;
    }
    const m = this.store.mountReport;
    this.ctx.log(
      `mounted ${formatUuid(this.store.uuid)} from the ${m.superblockSource} superblock; replayed ${m.replay.transactions} transactions (${m.replay.blocks} blocks)` +
        (m.problems.length ? `; problems: ${m.problems.join('; ')}` : '') +
        (m.repaired.length ? `; repaired: ${m.repaired.join('; ')}` : ''),
    );
    if (this.config.background && !this.stopped) this.startTimer();
  }

  startTimer(): void {
    const tick = () => {
      if (this.stopped) return;
      this.background().finally(() => {
        if (!this.stopped) this.timerId = this.ctx.timers.setTimeout(tick, CHECKPOINT_INTERVAL_MS);
      });
    };
    this.timerId = this.ctx.timers.setTimeout(tick, CHECKPOINT_INTERVAL_MS);
  }

  private async background(): Promise<void> {
    const now = this.ctx.clock.nowMs();
    for (const [id, tx] of this.txs) if (now - tx.lastUsedMs > OPEN_TRANSACTION_IDLE_MS_MAX) this.txs.delete(id);
    try {
      if (!this.store.journal.failed && this.store.journal.stats().liveTransactions > 0) await this.store.journal.checkpoint();
      if (!this.store.journal.failed && this.store.cache.stats().dirtyBlocks > 0) await this.store.cache.writeBackAll();
    } catch (e) {
      this.ctx.log(`background checkpoint/write-back failed: ${(e as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timerId !== undefined) this.ctx.timers.clearTimeout(this.timerId);
    await this.ready;
    if (!this.mountError) await this.store.unmount();
  }

  async handle(req: IncomingRequest): Promise<unknown> {
    const r = parseBlockRequest(req.op, req.body);
    await this.ready;
    if (this.mountError) throw this.mountError;
    return this.dispatch(req.from, r);
  }

  private async dispatch(from: string, r: BlockRequest): Promise<unknown> {
    switch (r.op) {
      case 'info':
        return this.info();
      case 'stats':
        return this.stats();
      case 'read': {
        const data = await this.store.read(r.blockIndex, r.blockCount);
        if (!r.into) return { data };
        this.copyToSegments(r.into, data);
        return {};
      }
      case 'write':
        await this.store.write(r.blockIndex, r.data ?? this.copyFromSegments(r.from!));
        return {};
      case 'flush':
        await this.store.flush();
        return {};
      case 'sync':
        await this.store.sync();
        return {};
      case 'txBegin': {
        if (this.txs.size >= OPEN_TRANSACTIONS_MAX) throw blockError('TOOBIG', `${OPEN_TRANSACTIONS_MAX} transactions are open already`);
        const txId = this.nextTxId++;
        this.txs.set(txId, { owner: from, writes: new Map(), lastUsedMs: this.ctx.clock.nowMs() });
        return { txId };
      }
      case 'txWrite': {
        const tx = this.tx(from, r.txId);
        const data = r.data ?? this.copyFromSegments(r.from!);
        const blockCount = data.length / BLOCK_SIZE_BYTES;
        const added = [...Array(blockCount).keys()].filter((i) => !tx.writes.has(r.blockIndex + i)).length;
        if (tx.writes.size + added > TX_BLOCKS_MAX) throw blockError('TOOBIG', `a transaction writes at most ${TX_BLOCKS_MAX} blocks`);
        if (r.blockIndex + blockCount > this.store.layout.blockCount) throw blockError('RANGE', `blocks [${r.blockIndex}, +${blockCount}) are past the image`);
        for (let i = 0; i < blockCount; i++) tx.writes.set(r.blockIndex + i, data.slice(i * BLOCK_SIZE_BYTES, (i + 1) * BLOCK_SIZE_BYTES));
        return {};
      }
      case 'txCommit': {
        const tx = this.tx(from, r.txId);
        this.txs.delete(r.txId);
        if (tx.writes.size === 0) throw blockError('BADMSG', `transaction ${r.txId} wrote nothing`);
        const sequence = await this.store.commit([...tx.writes].map(([blockIndex, data]) => ({ blockIndex, data })));
        return { sequence };
      }
      case 'txAbort':
        this.tx(from, r.txId);
        this.txs.delete(r.txId);
        return {};
      case 'commit': {
        const writes = r.writes.flatMap((w) =>
          [...Array(w.data.length / BLOCK_SIZE_BYTES).keys()].map((i) => ({ blockIndex: w.blockIndex + i, data: w.data.subarray(i * BLOCK_SIZE_BYTES, (i + 1) * BLOCK_SIZE_BYTES) })),
        );
        return { sequence: await this.store.commit(writes) };
      }
      case 'allocate':
        return { extents: await this.store.allocate(r.blockCount, { contiguous: r.contiguous }) };
      case 'free':
        return { freedBlocks: await this.store.free(r.extents) };
      case 'allocated':
        return this.store.allocator.allocatedExtents(r.fromBlockIndex, r.extentsMax);
    }
  }

  private tx(from: string, txId: number): OpenTx {
    const tx = this.txs.get(txId);
    if (!tx || tx.owner !== from) throw blockError('NOTX', `no open transaction ${txId} of ${from}`);
    tx.lastUsedMs = this.ctx.clock.nowMs();
    return tx;
  }

  private copyFromSegments(from: Segment[]): Uint8Array {
    const total = from.reduce((n, s) => n + s.lengthBytes, 0);
    if (total > IO_BLOCKS_MAX * BLOCK_SIZE_BYTES) throw blockError('TOOBIG', `${total} bytes exceeds ${IO_BLOCKS_MAX} blocks`);
    const out = new Uint8Array(total);
    let at = 0;
    for (const s of from) {
      out.set(this.ctx.memory.grantView(s.grantId, 'r', s.offsetBytes, s.lengthBytes), at);
      at += s.lengthBytes;
    }
    return out;
  }

  private copyToSegments(into: Segment[], data: Uint8Array): void {
    const total = into.reduce((n, s) => n + s.lengthBytes, 0);
    if (total !== data.length) throw blockError('BADMSG', `into holds ${total} bytes, the read returns ${data.length}`);
    let at = 0;
    for (const s of into) {
      this.ctx.memory.grantView(s.grantId, 'w', s.offsetBytes, s.lengthBytes).set(data.subarray(at, at + s.lengthBytes));
      at += s.lengthBytes;
    }
  }

  private info(): BlockInfo {
    const l = this.store.layout;
    const m = this.store.mountReport;
    return {
      blockSizeBytes: BLOCK_SIZE_BYTES,
      blockCount: l.blockCount,
      uuid: formatUuid(this.store.uuid),
      formatVersion: FORMAT_VERSION,
      regions: { superblock: l.superblock, journal: l.journal, bitmap: l.bitmap, axiom: l.axiom, data: l.data, spare: l.spare },
      limits: { ioBlocksMax: IO_BLOCKS_MAX, txBlocksMax: TX_BLOCKS_MAX, allocateBlocksMax: ALLOCATE_BLOCKS_MAX, extentsPerRequestMax: EXTENTS_PER_REQUEST_MAX },
      mount: {
        superblockSource: m.superblockSource,
        problems: m.problems,
        replayedTransactions: m.replay.transactions,
        replayedBlocks: m.replay.blocks,
        replayStop: `${m.replay.stop.reason}: ${m.replay.stop.detail}`,
      },
    };
  }

  private stats(): BlockStats {
    const s = this.store.stats();
    const q = this.scheduler.stats();
    return {
      freeBlocks: s.freeBlocks,
      dataBlocks: s.dataBlocks,
      cache: s.cache,
      journal: {
        capacityBlocks: s.journal.capacityBlocks,
        usedBlocks: s.journal.usedBlocks,
        liveTransactions: s.journal.liveTransactions,
        commits: s.journal.commits,
        batches: s.journal.batches,
        checkpoints: s.journal.checkpoints,
        nextSequence: s.journal.nextSequence,
      },
      queue: { queued: q.queued, inFlight: q.inFlight, inFlightMax: q.inFlightMax, deviceRequests: q.deviceRequests, merged: q.merged, flushes: q.flushes },
      openTransactions: this.txs.size,
      failed: s.failed,
    };
  }
}

