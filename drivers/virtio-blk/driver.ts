/**
 * The virtio-blk driver: a user-space service that owns one virtio-mmio block device.
 *
 * It probes the MMIO window, runs the initialisation sequence of virtio 1.x §3.1.1 step
 * by step, sets up one split virtqueue in memory it owns (§4.2.3.2), and serves the
 * protocol in protocol.ts. Many requests are in flight at once (up to what the
 * descriptors allow); the rest wait in FIFO order and are submitted as completions free
 * descriptors. Completions are taken from the used ring when the device interrupts.
 *
 * Invariants: every request is checked (shape, range, size, read-only) before it reaches
 * the device; every submitted request ends exactly once; a request's memory (grant or
 * bounce buffer) stays valid until its completion is collected. If the device signals
 * DEVICE_NEEDS_RESET, the driver resets and re-initialises it and re-submits what was in
 * flight once; a request that meets a second reset fails with RESET.
 */
import { ServiceError } from '../../kernel/errors.ts';
import type { Region } from '../../kernel/memory.ts';
import type { IncomingRequest, ServiceContext, ServiceDefinition, ServiceHandlers } from '../../kernel/service.ts';
import { BLK_REQUEST_SIZE_BYTES_MAX, SECTOR_SIZE_BYTES } from '../../kernel/limits.ts';
import * as V from '../../kernel/machine/virtio-spec.ts';
import { DriverQueue, queueLayout, type BufferDesc } from './virtqueue.ts';
import { DeviceRegisters, type DeviceConfig } from './registers.ts';
import { parseBlkRequest, segmentsBytes, type BlkInfo, type BlkRequest, type BlkStats, type Segment } from './protocol.ts';

export interface VirtioBlkConfig {
  /** MMIO base of the device (must be in the manifest's mmio list). */
  base: number;
  irqLine: number;
  /** Ask for at most this queue size (the device's QueueNumMax may be smaller). */
  queueSizeMax?: number;
  /** Leave FLUSH un-negotiated (the device is then write-through); for tests. */
  withoutFlush?: boolean;
}

/** The features this driver understands and asks for when offered (§5.2.3). */
const WANTED: [number, string][] = [
  [V.VIRTIO_F_VERSION_1, 'VERSION_1'],
  [V.VIRTIO_BLK_F_SIZE_MAX, 'SIZE_MAX'],
  [V.VIRTIO_BLK_F_SEG_MAX, 'SEG_MAX'],
  [V.VIRTIO_BLK_F_RO, 'RO'],
  [V.VIRTIO_BLK_F_BLK_SIZE, 'BLK_SIZE'],
  [V.VIRTIO_BLK_F_FLUSH, 'FLUSH'],
  [V.VIRTIO_BLK_F_DISCARD, 'DISCARD'],
  [V.VIRTIO_BLK_F_WRITE_ZEROES, 'WRITE_ZEROES'],
];

interface Bounce {
  region: Region;
  lengthBytes: number;
  forRead: boolean;
}

interface Job {
  op: string;
  type: number;
  buffers: BufferDesc[]; // data buffers only; header and status are added at submit
  sector: number;
  resolve: (value: unknown) => void;
  reject: (error: ServiceError) => void;
  bounce?: Bounce;
  slot?: number;
  resubmitted: boolean;
}

export const virtioBlkService: ServiceDefinition<VirtioBlkConfig> = {
  start: (ctx, config) => new VirtioBlkDriver(ctx, config).start(),
};

class VirtioBlkDriver {
  private readonly regs: DeviceRegisters;
  private queue!: DriverQueue;
  private queueRegion!: Region;
  private slotRegion!: Region; // per in-flight request: 16-byte header + 1 status byte
  private slotView!: DataView;
  private readonly freeSlots: number[] = [];
  private readonly waiting: Job[] = [];
  private readonly inFlight = new Map<number, Job>();
  private readonly bouncePool = new Map<number, Region[]>();
  private cfg!: DeviceConfig;
  private negotiated = 0n;
  private id = '';
  private idReady!: Promise<void>;
  private notifyPending = false;
  private readonly stats: BlkStats = {
    inFlight: 0,
    queued: 0,
    inFlightMax: 0,
    completed: {},
    errors: 0,
    bytesRead: 0,
    bytesWritten: 0,
    interrupts: 0,
    notifies: 0,
    resets: 0,
  };

  constructor(
    private readonly ctx: ServiceContext,
    private readonly config: VirtioBlkConfig,
  ) {
    this.regs = new DeviceRegisters(ctx.mmio(config.base));
  }

  start(): ServiceHandlers {
    this.regs.probe(); // throws with a clear message if this is not a virtio-mmio v2 block device
    this.initialise();
    this.ctx.onInterrupt(this.config.irqLine, () => this.onInterrupt());
    this.ctx.log(
      `virtio-blk at 0x${this.config.base.toString(16)} irq ${this.config.irqLine}: ` +
        `${this.cfg.capacitySectors} sectors (${formatBytes(this.cfg.capacitySectors * SECTOR_SIZE_BYTES)}), ` +
        `queue ${this.queue.size}, features ${this.featureNames().join(' ')}`,
    );
    this.idReady = this.submitJob(this.job('getId', V.VIRTIO_BLK_T_GET_ID, 0, this.bounce(V.VIRTIO_BLK_ID_BYTES, true)))
      .then((data) => {
        const bytes = data as Uint8Array;
        const end = bytes.indexOf(0);
        this.id = new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
      })
      .catch((e: ServiceError) => {
        this.id = `(GET_ID failed: ${e.code})`;
      });
    return { handle: (req) => this.handle(req) };
  }

  /** virtio 1.x §3.1.1, numbered as the specification numbers it. */
  private initialise(): void {
    const r = this.regs;
    r.reset(); // 1. reset the device
    r.setStatus(V.VIRTIO_STATUS_ACKNOWLEDGE); // 2. we noticed the device
    r.setStatus(V.VIRTIO_STATUS_DRIVER); // 3. we know how to drive it
    const offered = r.deviceFeatures(); // 4. read features, write the subset we understand
    if (!V.hasFeature(offered, V.VIRTIO_F_VERSION_1)) return this.fail('device does not offer VERSION_1 (legacy devices are not supported)');
    let wanted = 0n;
    for (const [bit] of WANTED) {
      if (bit === V.VIRTIO_BLK_F_FLUSH && this.config.withoutFlush) continue;
      if (V.hasFeature(offered, bit)) wanted |= V.featureBit(bit);
    }
    r.setDriverFeatures(wanted);
    r.setStatus(V.VIRTIO_STATUS_FEATURES_OK); // 5. no more feature bits after this
    if (!(r.status() & V.VIRTIO_STATUS_FEATURES_OK)) return this.fail('device refused our feature subset'); // 6.
    this.negotiated = wanted;
    this.cfg = r.readConfig(wanted); // 7. device-specific setup: config, then the queue
    this.setupQueue();
    r.setStatus(V.VIRTIO_STATUS_DRIVER_OK); // 8. the device is live
  }

  private fail(why: string): never {
    this.regs.setStatus(V.VIRTIO_STATUS_FAILED);
    throw new Error(`virtio-blk at 0x${this.config.base.toString(16)}: ${why}`);
  }

  /** §4.2.3.2 virtqueue configuration. */
  private setupQueue(): void {
    const r = this.regs;
    r.selectQueue(0);
    if (r.queueReady()) this.fail('queue 0 is already live after reset');
    const max = r.queueNumMax();
    if (max === 0) this.fail('queue 0 is not available');
    let size = Math.min(max, this.config.queueSizeMax ?? max);
    size = 2 ** Math.floor(Math.log2(size)); // largest power of two the device allows
    if (!this.queue) {
      const layout = queueLayout(size);
      this.queueRegion = this.ctx.memory.alloc(layout.sizeBytes);
      this.slotRegion = this.ctx.memory.alloc(size * 17);
      const sv = this.ctx.memory.view(this.slotRegion);
      this.slotView = new DataView(sv.buffer, sv.byteOffset, sv.length);
      for (let s = size - 1; s >= 0; s--) this.freeSlots.push(s);
    }
    const phys = this.ctx.memory.physAddr({ regionId: this.queueRegion.regionId }, 0, queueLayout(size).sizeBytes, 'rw');
    this.queue = new DriverQueue(size, this.ctx.memory.view(this.queueRegion), phys);
    r.setQueueNum(size);
    r.setQueueAddresses(this.queue.descPhys, this.queue.availPhys, this.queue.usedPhys);
    r.setQueueReady(1);
  }

  private featureNames(): string[] {
    return WANTED.filter(([bit]) => V.hasFeature(this.negotiated, bit)).map(([, name]) => name);
  }

  private has(bit: number): boolean {
    return V.hasFeature(this.negotiated, bit);
  }

  // ---- requests ---------------------------------------------------------------------

  private async handle(req: IncomingRequest): Promise<unknown> {
    const r = parseBlkRequest(req.op, req.body);
    switch (r.op) {
      case 'info':
        await this.idReady;
        return this.info();
      case 'stats':
        return { ...this.stats, inFlight: this.inFlight.size, queued: this.waiting.length, completed: { ...this.stats.completed } };
      case 'flush':
        // Without a negotiated FLUSH the device is write-through: nothing to do (§5.2.6.2).
        if (!this.has(V.VIRTIO_BLK_F_FLUSH)) return {};
        await this.submitJob(this.job('flush', V.VIRTIO_BLK_T_FLUSH, 0, []));
        return {};
      case 'read':
        return this.read(r);
      case 'write':
        return this.write(r);
      case 'discard':
      case 'writeZeroes':
        return this.discardOrZero(r);
    }
  }

  private checkRange(sector: number, count: number): void {
    if (sector + count > this.cfg.capacitySectors) {
      throw new ServiceError('RANGE', `sectors [${sector}, ${sector + count}) are past the capacity of ${this.cfg.capacitySectors}`);
    }
    if (count * SECTOR_SIZE_BYTES > BLK_REQUEST_SIZE_BYTES_MAX) {
      throw new ServiceError('TOOBIG', `${count} sectors exceed the request limit of ${BLK_REQUEST_SIZE_BYTES_MAX} bytes`);
    }
  }

  private async read(r: Extract<BlkRequest, { op: 'read' }>): Promise<unknown> {
    this.checkRange(r.sector, r.count);
    const lengthBytes = r.count * SECTOR_SIZE_BYTES;
    if (r.into) {
      if (segmentsBytes(r.into) !== lengthBytes) throw new ServiceError('BADMSG', `into holds ${segmentsBytes(r.into)} bytes, count asks ${lengthBytes}`);
      await this.submitJob(this.job('read', V.VIRTIO_BLK_T_IN, r.sector, this.grantBuffers(r.into, true)));
      this.stats.bytesRead += lengthBytes;
      return {};
    }
    const data = await this.submitJob(this.job('read', V.VIRTIO_BLK_T_IN, r.sector, this.bounce(lengthBytes, true)));
    this.stats.bytesRead += lengthBytes;
    return { data };
  }

  private async write(r: Extract<BlkRequest, { op: 'write' }>): Promise<unknown> {
    if (this.has(V.VIRTIO_BLK_F_RO)) throw new ServiceError('RO', 'the device is read-only');
    const lengthBytes = r.data ? r.data.length : segmentsBytes(r.from!);
    this.checkRange(r.sector, lengthBytes / SECTOR_SIZE_BYTES);
    let job: Job;
    if (r.data) {
      const bounce = this.bounce(lengthBytes, false);
      this.ctx.memory.view(bounce.region, 0, lengthBytes).set(r.data);
      job = this.job('write', V.VIRTIO_BLK_T_OUT, r.sector, bounce);
    } else job = this.job('write', V.VIRTIO_BLK_T_OUT, r.sector, this.grantBuffers(r.from!, false));
    await this.submitJob(job);
    this.stats.bytesWritten += lengthBytes;
    return {};
  }

  private async discardOrZero(r: Extract<BlkRequest, { op: 'discard' | 'writeZeroes' }>): Promise<unknown> {
    const discard = r.op === 'discard';
    const bit = discard ? V.VIRTIO_BLK_F_DISCARD : V.VIRTIO_BLK_F_WRITE_ZEROES;
    if (!this.has(bit)) throw new ServiceError('UNSUPP', `the device did not offer ${discard ? 'DISCARD' : 'WRITE_ZEROES'}`);
    if (this.has(V.VIRTIO_BLK_F_RO)) throw new ServiceError('RO', 'the device is read-only');
    if (r.sector + r.count > this.cfg.capacitySectors) throw new ServiceError('RANGE', `sectors past the capacity of ${this.cfg.capacitySectors}`);
    const max = discard ? this.cfg.maxDiscardSectors : this.cfg.maxWriteZeroesSectors;
    if (r.count > max) throw new ServiceError('TOOBIG', `${r.count} sectors exceed the device's limit of ${max}`);
    const seg = this.bounce(V.VIRTIO_BLK_DWZ_SEGMENT_SIZE_BYTES, false);
    const v = this.ctx.memory.view(seg.region, 0, V.VIRTIO_BLK_DWZ_SEGMENT_SIZE_BYTES);
    const dv = new DataView(v.buffer, v.byteOffset, v.length);
    dv.setUint32(V.VIRTIO_BLK_DWZ_SECTOR_OFFSET, r.sector % 2 ** 32, true);
    dv.setUint32(V.VIRTIO_BLK_DWZ_SECTOR_OFFSET + 4, Math.floor(r.sector / 2 ** 32), true);
    dv.setUint32(V.VIRTIO_BLK_DWZ_NUM_SECTORS_OFFSET, r.count, true);
    dv.setUint32(V.VIRTIO_BLK_DWZ_FLAGS_OFFSET, !discard && r.unmap ? V.VIRTIO_BLK_DWZ_F_UNMAP : 0, true);
    await this.submitJob(this.job(r.op, discard ? V.VIRTIO_BLK_T_DISCARD : V.VIRTIO_BLK_T_WRITE_ZEROES, 0, seg));
    return {};
  }

  /** Turns granted segments into device buffers, splitting at size_max; TOOBIG past seg_max. */
  private grantBuffers(segs: Segment[], deviceWrites: boolean): BufferDesc[] {
    const out: BufferDesc[] = [];
    const sizeMax = this.cfg.sizeMaxBytes;
    for (const s of segs) {
      const base = this.ctx.memory.physAddr({ grantId: s.grantId }, s.offsetBytes, s.lengthBytes, deviceWrites ? 'w' : 'r');
      for (let off = 0; off < s.lengthBytes; off += sizeMax) {
        out.push({ addr: base + off, lengthBytes: Math.min(sizeMax, s.lengthBytes - off), deviceWrites });
      }
    }
    if (out.length > this.cfg.segMax) throw new ServiceError('TOOBIG', `${out.length} segments exceed seg_max ${this.cfg.segMax}`);
    return out;
  }

  /** A DMA buffer of the driver's own for inline data; pooled by power-of-two size. */
  private bounce(lengthBytes: number, forRead: boolean): Bounce {
    const cls = 2 ** Math.ceil(Math.log2(Math.max(lengthBytes, 4096)));
    const region = this.bouncePool.get(cls)?.pop() ?? this.ctx.memory.alloc(cls);
    return { region, lengthBytes, forRead };
  }

  /** A job over granted buffers, or over one bounce buffer of the driver's own. */
  private job(op: string, type: number, sector: number, data: BufferDesc[] | Bounce): Job {
    let buffers = data as BufferDesc[];
    let bounce: Bounce | undefined;
    if (!Array.isArray(data)) {
      bounce = data;
      const addr = this.ctx.memory.physAddr({ regionId: data.region.regionId }, 0, data.lengthBytes, 'rw');
      buffers = [{ addr, lengthBytes: data.lengthBytes, deviceWrites: data.forRead }];
    }
    return { op, type, sector, buffers, resolve: () => {}, reject: () => {}, bounce, resubmitted: false };
  }

  private submitJob(job: Job): Promise<unknown> {
    return new Promise((resolve, reject) => {
      job.resolve = resolve;
      job.reject = reject;
      if (job.buffers.length + 2 > this.queue.size) {
        this.release(job);
        return reject(new ServiceError('TOOBIG', `a chain of ${job.buffers.length + 2} descriptors does not fit a queue of ${this.queue.size}`));
      }
      this.waiting.push(job);
      this.kick();
    });
  }

  /** Submits waiting jobs while descriptors and slots last; one notify per step. */
  private kick(): void {
    let submitted = false;
    while (this.waiting.length) {
      const job = this.waiting[0];
      if (this.queue.freeCount < job.buffers.length + 2 || this.freeSlots.length === 0) break;
      this.waiting.shift();
      const slot = this.freeSlots.pop() as number;
      job.slot = slot;
      const hdr = slot * 17;
      this.slotView.setUint32(hdr + V.VIRTIO_BLK_REQ_TYPE_OFFSET, job.type, true);
      this.slotView.setUint32(hdr + V.VIRTIO_BLK_REQ_RESERVED_OFFSET, 0, true);
      this.slotView.setUint32(hdr + V.VIRTIO_BLK_REQ_SECTOR_OFFSET, job.sector % 2 ** 32, true);
      this.slotView.setUint32(hdr + V.VIRTIO_BLK_REQ_SECTOR_OFFSET + 4, Math.floor(job.sector / 2 ** 32), true);
      this.slotView.setUint8(hdr + 16, 0xff); // status: the device must overwrite it
      const slotPhys = this.ctx.memory.physAddr({ regionId: this.slotRegion.regionId }, hdr, 17, 'rw');
      const head = this.queue.submit([
        { addr: slotPhys, lengthBytes: V.VIRTIO_BLK_REQ_HEADER_SIZE_BYTES, deviceWrites: false },
        ...job.buffers,
        { addr: slotPhys + 16, lengthBytes: 1, deviceWrites: true },
      ]);
      if (this.inFlight.has(head)) throw new Error(`virtio-blk: descriptor ${head} is in flight twice`);
      this.inFlight.set(head, job);
      submitted = true;
    }
    this.stats.inFlightMax = Math.max(this.stats.inFlightMax, this.inFlight.size);
    if (submitted && !this.notifyPending) {
      this.notifyPending = true;
      queueMicrotask(() => {
        this.notifyPending = false;
        this.stats.notifies++;
        this.regs.notify(0);
      });
    }
  }

  private onInterrupt(): void {
    this.stats.interrupts++;
    const isr = this.regs.interruptStatus();
    this.regs.ackInterrupt(isr);
    // Completions first: a device that then asks for a reset still finished these.
    for (const { head } of this.queue.collect()) {
      const job = this.inFlight.get(head);
      if (!job) throw new Error(`virtio-blk: device completed descriptor ${head}, which is not in flight`);
      this.inFlight.delete(head);
      this.complete(job, this.slotView.getUint8(job.slot! * 17 + 16));
    }
    if (isr & V.VIRTIO_MMIO_INT_CONFIG && this.regs.status() & V.VIRTIO_STATUS_DEVICE_NEEDS_RESET) return this.recover();
    this.kick();
  }

  private complete(job: Job, status: number): void {
    this.freeSlots.push(job.slot!);
    job.slot = undefined;
    this.stats.completed[job.op] = (this.stats.completed[job.op] ?? 0) + 1;
    if (status === V.VIRTIO_BLK_S_OK) {
      const data = job.bounce?.forRead ? this.ctx.memory.view(job.bounce.region, 0, job.bounce.lengthBytes).slice() : undefined;
      this.release(job);
      return job.resolve(data);
    }
    this.stats.errors++;
    this.release(job);
    if (status === V.VIRTIO_BLK_S_UNSUPP) return job.reject(new ServiceError('UNSUPP', `the device does not support ${job.op}`));
    job.reject(new ServiceError('IOERR', `the device failed ${job.op} at sector ${job.sector} (status ${status})`));
  }

  private release(job: Job): void {
    if (!job.bounce) return;
    const cls = job.bounce.region.sizeBytes;
    const pool = this.bouncePool.get(cls) ?? [];
    pool.push(job.bounce.region);
    this.bouncePool.set(cls, pool);
    job.bounce = undefined;
  }

  /** The device asked for a reset: re-initialise and re-submit what was in flight, once. */
  private recover(): void {
    this.stats.resets++;
    this.ctx.log(`virtio-blk: device needs reset; re-initialising with ${this.inFlight.size} requests in flight`);
    const stranded = [...this.inFlight.values()];
    this.inFlight.clear();
    for (const job of stranded) {
      this.freeSlots.push(job.slot!);
      job.slot = undefined;
    }
    this.initialise();
    const again: Job[] = [];
    for (const job of stranded) {
      if (job.resubmitted) {
        this.stats.errors++;
        this.release(job);
        job.reject(new ServiceError('RESET', `the device was reset twice while ${job.op} at sector ${job.sector} was in flight`));
      } else {
        job.resubmitted = true;
        again.push(job);
      }
    }
    this.waiting.unshift(...again);
    this.kick();
  }

  private info(): BlkInfo {
    return {
      capacitySectors: this.cfg.capacitySectors,
      sectorSizeBytes: SECTOR_SIZE_BYTES,
      blkSizeBytes: this.cfg.blkSizeBytes,
      segMax: this.cfg.segMax,
      sizeMaxBytes: this.cfg.sizeMaxBytes,
      requestSizeBytesMax: Math.min(BLK_REQUEST_SIZE_BYTES_MAX, this.cfg.segMax * this.cfg.sizeMaxBytes),
      queueSize: this.queue.size,
      readOnly: this.has(V.VIRTIO_BLK_F_RO),
      writeCache: this.has(V.VIRTIO_BLK_F_FLUSH),
      maxDiscardSectors: this.cfg.maxDiscardSectors,
      maxWriteZeroesSectors: this.cfg.maxWriteZeroesSectors,
      features: this.featureNames(),
      id: this.id,
    };
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${Number.isInteger(n) ? n : n.toFixed(1)} ${units[i]}`;
}
