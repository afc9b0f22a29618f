/**
 * The I/O scheduler: the block service's only path to the driver. Implements BlockDevice.
 *
 * - Keeps up to `queueDepth` device requests in flight; the rest wait here.
 * - Orders waiting requests by block (C-LOOK: ascending from where the last dispatch
 *   ended, then wrapping to the lowest), within a lookahead window of the oldest
 *   LOOKAHEAD requests so nothing starves.
 * - Merges adjacent requests of the same kind into one device request with one segment
 *   per original request, up to the driver's seg_max and request size.
 * - Ordering rules, in arrival order (the guarantees the journal and cache rely on):
 *   a FLUSH is issued only after every earlier write has completed (virtio's FLUSH covers
 *   completed writes only); no write is issued before an earlier FLUSH has completed;
 *   no request is issued while an earlier one overlapping it (a write and anything) is
 *   waiting or in flight. Reads may pass FLUSHes and non-overlapping writes.
 *
 * Invariants (asserted): in-flight count never exceeds queueDepth; every request ends
 * exactly once; staging buffers are freed exactly once.
 */
import { assert, blockError } from './errors.ts';
import type { BlockDevice } from './device.ts';
import { Staging, type StagingBuffer } from './staging.ts';
import { BLOCK_SIZE_BYTES, MERGED_REQUEST_BYTES_MAX, PENDING_REQUESTS_MAX, QUEUE_DEPTH_MAX, SECTORS_PER_BLOCK } from './limits.ts';
import type { Segment } from '../../drivers/virtio-blk/protocol.ts';

/** What the scheduler needs from the driver: sector-addressed I/O on segments of the staging grant. */
export interface DriverPort {
  readInto(sector: number, count: number, into: Segment[]): Promise<void>;
  writeFrom(sector: number, from: Segment[]): Promise<void>;
  flush(): Promise<void>;
}

export interface SchedulerLimits {
  queueDepth: number;
  segMax: number;
  requestSizeBytesMax: number;
}

export interface SchedulerStats {
  queued: number;
  inFlight: number;
  inFlightMax: number;
  deviceRequests: number;
  /** Requests that rode in another's device request. */
  merged: number;
  flushes: number;
  blocksRead: number;
  blocksWritten: number;
}

type Kind = 'read' | 'write' | 'flush';
interface Req {
  kind: Kind;
  blockIndex: number;
  blockCount: number;
  data?: Uint8Array;
  buf?: StagingBuffer;
  resolve: (v: Uint8Array | undefined) => void;
  reject: (e: unknown) => void;
  dispatched: boolean;
}

const LOOKAHEAD = 128;

export class IoScheduler implements BlockDevice {
  private readonly waiting: Req[] = [];
  private readonly inFlight = new Set<Req>();
  private inFlightGroups = 0;
  private headBlock = 0;
  private readonly maxRequestBlocks: number;
  private readonly limits: SchedulerLimits;
  private readonly counters = { inFlightMax: 0, deviceRequests: 0, merged: 0, flushes: 0, blocksRead: 0, blocksWritten: 0 };

  constructor(
    private readonly port: DriverPort,
    private readonly staging: Staging,
    readonly blockCount: number,
    limits: SchedulerLimits,
  ) {
    this.limits = { ...limits, queueDepth: Math.max(1, Math.min(QUEUE_DEPTH_MAX, limits.queueDepth)), segMax: Math.max(1, limits.segMax) };
    this.maxRequestBlocks = Math.max(1, Math.floor(Math.min(MERGED_REQUEST_BYTES_MAX, limits.requestSizeBytesMax) / BLOCK_SIZE_BYTES));
    assert(this.maxRequestBlocks <= staging.capacityBlocks, 'the largest request fits the staging area');
  }

  stats(): SchedulerStats {
    return { queued: this.waiting.length, inFlight: this.inFlightGroups, ...this.counters };
  }

  async readBlocks(blockIndex: number, blockCount: number): Promise<Uint8Array> {
    this.checkRange(blockIndex, blockCount);
    const out = new Uint8Array(blockCount * BLOCK_SIZE_BYTES);
    const parts: Promise<void>[] = [];
    for (let done = 0; done < blockCount; done += this.maxRequestBlocks) {
      const n = Math.min(this.maxRequestBlocks, blockCount - done);
      parts.push(this.submit('read', blockIndex + done, n).then((bytes) => out.set(bytes!, done * BLOCK_SIZE_BYTES)));
    }
    await Promise.all(parts);
    return out;
  }

  async writeBlocks(blockIndex: number, data: Uint8Array): Promise<void> {
    assert(data.length > 0 && data.length % BLOCK_SIZE_BYTES === 0, `write of ${data.length} bytes`);
    const blockCount = data.length / BLOCK_SIZE_BYTES;
    this.checkRange(blockIndex, blockCount);
    const parts: Promise<unknown>[] = [];
    for (let done = 0; done < blockCount; done += this.maxRequestBlocks) {
      const n = Math.min(this.maxRequestBlocks, blockCount - done);
      parts.push(this.submit('write', blockIndex + done, n, data.subarray(done * BLOCK_SIZE_BYTES, (done + n) * BLOCK_SIZE_BYTES)));
    }
    await Promise.all(parts);
  }

  async flush(): Promise<void> {
    await this.submit('flush', 0, 0);
  }

  // ---- internals ---------------------------------------------------------------------

  private checkRange(blockIndex: number, blockCount: number): void {
    if (!Number.isSafeInteger(blockIndex) || !Number.isSafeInteger(blockCount) || blockIndex < 0 || blockCount < 1 || blockIndex + blockCount > this.blockCount) {
      throw blockError('RANGE', `blocks [${blockIndex}, +${blockCount}) outside the ${this.blockCount}-block device`);
    }
  }

  private submit(kind: Kind, blockIndex: number, blockCount: number, data?: Uint8Array): Promise<Uint8Array | undefined> {
    if (this.waiting.length >= PENDING_REQUESTS_MAX) return Promise.reject(blockError('IOERR', `more than ${PENDING_REQUESTS_MAX} requests waiting`));
    return new Promise((resolve, reject) => {
      this.waiting.push({ kind, blockIndex, blockCount, data, resolve, reject, dispatched: false });
      this.pump();
    });
  }

  /** Which waiting requests may go now (the ordering rules in the header), in one pass over the window. */
  private eligible(): Req[] {
    const out: Req[] = [];
    let flushBefore = false;
    let writeBefore = false;
    const writes: Req[] = [];
    const others: Req[] = [];
    for (const r of this.inFlight) {
      if (r.kind === 'flush') flushBefore = true;
      else if (r.kind === 'write') {
        writeBefore = true;
        writes.push(r);
      } else others.push(r);
    }
    const overlaps = (list: Req[], r: Req) => list.some((o) => o.blockIndex < r.blockIndex + r.blockCount && r.blockIndex < o.blockIndex + o.blockCount);
    const window = Math.min(this.waiting.length, LOOKAHEAD);
    for (let i = 0; i < window; i++) {
      const r = this.waiting[i];
      let ok: boolean;
      if (r.kind === 'flush') ok = !writeBefore && !flushBefore;
      else if (r.kind === 'write') ok = !flushBefore && !overlaps(writes, r) && !overlaps(others, r);
      else ok = !overlaps(writes, r);
      if (ok) out.push(r);
      if (r.kind === 'flush') flushBefore = true;
      else if (r.kind === 'write') {
        writeBefore = true;
        writes.push(r);
      } else others.push(r);
    }
    return out;
  }

  private pump(): void {
    while (this.inFlightGroups < this.limits.queueDepth && this.waiting.length) {
      const ready = this.eligible();
      if (ready.length === 0) return;
      const flush = ready.find((r) => r.kind === 'flush');
      if (flush) {
        this.dispatch([flush]);
        continue;
      }
      ready.sort((a, b) => a.blockIndex - b.blockIndex);
      // C-LOOK: the first at or after the head, else wrap to the lowest.
      let at = ready.findIndex((r) => r.blockIndex >= this.headBlock);
      if (at < 0) at = 0;
      const group = [ready[at]];
      let blocks = ready[at].blockCount;
      for (let j = at + 1; j < ready.length && group.length < this.limits.segMax; j++) {
        const prev = group[group.length - 1];
        const r = ready[j];
        if (r.kind !== prev.kind || r.blockIndex !== prev.blockIndex + prev.blockCount || blocks + r.blockCount > this.maxRequestBlocks) break;
        group.push(r);
        blocks += r.blockCount;
      }
      if (!this.stage(group)) return; // staging full: wait for completions
      this.dispatch(group);
    }
  }

  /** Gives the group's requests staging buffers (copying write data in), truncating the group to those that fit; false if none does. */
  private stage(group: Req[]): boolean {
    let fitting = 0;
    for (; fitting < group.length; fitting++) {
      const buf = this.staging.alloc(group[fitting].blockCount);
      if (!buf) break;
      group[fitting].buf = buf;
    }
    if (fitting === 0) return false;
    group.length = fitting; // a prefix of a contiguous run is contiguous
    for (const r of group) if (r.kind === 'write') this.staging.view(r.buf!).set(r.data!);
    return true;
  }

  private dispatch(group: Req[]): void {
    for (const r of group) {
      const i = this.waiting.indexOf(r);
      assert(i >= 0 && !r.dispatched, 'dispatching a waiting request once');
      this.waiting.splice(i, 1);
      r.dispatched = true;
      this.inFlight.add(r);
    }
    this.inFlightGroups++;
    assert(this.inFlightGroups <= this.limits.queueDepth, 'in-flight within queue depth');
    this.counters.inFlightMax = Math.max(this.counters.inFlightMax, this.inFlightGroups);
    this.counters.deviceRequests++;
    this.counters.merged += group.length - 1;
    const first = group[0];
    let io: Promise<void>;
    if (first.kind === 'flush') {
      this.counters.flushes++;
      io = this.port.flush();
    } else {
      const last = group[group.length - 1];
      this.headBlock = last.blockIndex + last.blockCount;
      const segments: Segment[] = group.map((r) => ({ grantId: this.staging.grantId, offsetBytes: r.buf!.offsetBytes, lengthBytes: r.buf!.lengthBytes }));
      const blocks = group.reduce((n, r) => n + r.blockCount, 0);
      const sector = first.blockIndex * SECTORS_PER_BLOCK;
      if (first.kind === 'read') {
        this.counters.blocksRead += blocks;
        io = this.port.readInto(sector, blocks * SECTORS_PER_BLOCK, segments);
      } else {
        this.counters.blocksWritten += blocks;
        io = this.port.writeFrom(sector, segments);
      }
    }
    io.then(
      () => this.complete(group, undefined),
      (e: unknown) => this.complete(group, e),
    );
  }

  private complete(group: Req[], error: unknown): void {
    this.inFlightGroups--;
    for (const r of group) {
      assert(this.inFlight.delete(r), 'completing an in-flight request once');
      let result: Uint8Array | undefined;
      if (r.buf) {
        if (r.kind === 'read' && error === undefined) result = this.staging.view(r.buf).slice();
        this.staging.free(r.buf);
        r.buf = undefined;
      }
      if (error === undefined) r.resolve(result);
      else r.reject(error);
    }
    this.pump();
  }
}
