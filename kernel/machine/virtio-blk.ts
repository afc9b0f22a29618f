/**
 * The virtio block device (virtio 1.x §5.2) over one DiskBackend.
 *
 * Offers VERSION_1, SIZE_MAX, SEG_MAX, BLK_SIZE, FLUSH, DISCARD, WRITE_ZEROES (and RO
 * when the backend is read-only), one request queue, and the config fields of every
 * offered feature (§5.2.4). Requests IN, OUT, FLUSH, GET_ID, DISCARD and WRITE_ZEROES
 * are dispatched from a table of named handlers; any other type answers UNSUPP.
 *
 * Answers (§5.2.6): each chain gets exactly one used element whose length is every
 * device-writable byte of the chain (read data or zeros, then the status byte), and a
 * status: OK; IOERR for a malformed request (wrong data size, a range past capacity,
 * data in a buffer of the wrong direction, a write to an RO device) or a DiskIoError;
 * UNSUPP for an unknown type, an un-negotiated DISCARD/WRITE_ZEROES, or unknown or
 * forbidden segment flags. On any status but OK the device-writable data is zeroed, so
 * the used length never claims bytes the device did not write (§2.7.8.2). A chain
 * without a writable status byte cannot be answered: ChainError -> DEVICE_NEEDS_RESET.
 *
 * Write-cache model — the commit point: with VIRTIO_BLK_F_FLUSH negotiated the device
 * has a volatile write cache, and a write is durable only once a later FLUSH completes
 * (the backend's flush). Without it the device is write-through (§5.2.6.2 case 1): every
 * OUT, DISCARD and WRITE_ZEROES calls backend.flush() before it completes.
 */

import {
  BLK_DISCARD_SECTORS_MAX,
  BLK_DISCARD_SEG_MAX,
  BLK_SEG_MAX,
  BLK_SIZE_MAX_BYTES,
  BLK_WRITE_ZEROES_SECTORS_MAX,
  BLK_WRITE_ZEROES_SEG_MAX,
  SECTOR_SIZE_BYTES,
  VIRTQUEUE_SIZE_MAX,
} from '../limits.ts';
import { parseBlkChain } from './blk-request.ts';
import type { BlkRequest } from './blk-request.ts';
import { DiskIoError } from './disk/backend.ts';
import type { DiskBackend } from './disk/backend.ts';
import { BLK_DISCARD_SECTOR_ALIGNMENT } from './limits.ts';
import type { PhysicalMemory } from './physical-memory.ts';
import { diskToMemory, memoryToDisk } from './sg-list.ts';
import type { VirtioDevice } from './virtio-device.ts';
import type { DeviceVirtqueue } from './virtqueue.ts';
import * as S from './virtio-spec.ts';

export type BlkRequestName = 'in' | 'out' | 'flush' | 'getId' | 'discard' | 'writeZeroes' | 'unsupported';

export interface BlkCounters {
  requests: Record<BlkRequestName, number>;
  bytesRead: number;
  bytesWritten: number;
  bytesDiscarded: number;
  bytesZeroed: number;
  backendFlushes: number;
  /** Chains answered IOERR before their type was looked at (bad framing). */
  malformed: number;
  statusIoErr: number;
  statusUnsupp: number;
}

export interface VirtioBlkOptions {
  /** GET_ID answer: printable ASCII, at most 20 bytes. */
  serial?: string;
}

type Status = typeof S.VIRTIO_BLK_S_OK | typeof S.VIRTIO_BLK_S_IOERR | typeof S.VIRTIO_BLK_S_UNSUPP;

interface Handler {
  readonly name: BlkRequestName;
  run(device: VirtioBlkDevice, request: BlkRequest): Status;
}

/** Raised inside a handler for a request the device refuses; becomes its status. */
class Refusal extends Error {
  constructor(
    readonly status: Status,
    message: string,
  ) {
    super(message);
  }
}
const ioerr = (message: string) => new Refusal(S.VIRTIO_BLK_S_IOERR, message);

export class VirtioBlkDevice implements VirtioDevice {
  readonly deviceId = S.VIRTIO_ID_BLOCK;
  readonly vendorId = S.STRATA_VIRTIO_VENDOR_ID;
  readonly queueCount = 1;
  readonly queueSizeMax = VIRTQUEUE_SIZE_MAX;
  readonly configSizeBytes = S.VIRTIO_BLK_CONFIG_SIZE_BYTES;
  readonly configFields = S.VIRTIO_BLK_CONFIG_FIELDS;
  readonly deviceFeatures: bigint;
  readonly capacitySectors: number;
  readonly serialBytes: Uint8Array;
  readonly counters: BlkCounters = VirtioBlkDevice.zeroCounters();
  /** The last refusal's reason, for tests and traces. */
  lastError: string | null = null;
  private readonly config = new Uint8Array(S.VIRTIO_BLK_CONFIG_SIZE_BYTES);
  private negotiated = 0n;

  constructor(
    readonly backend: DiskBackend,
    private readonly memory: PhysicalMemory,
    opts: VirtioBlkOptions = {},
  ) {
    if (backend.sizeBytes % SECTOR_SIZE_BYTES !== 0) throw new RangeError(`VirtioBlkDevice: disk of ${backend.sizeBytes} bytes is not whole sectors`);
    this.capacitySectors = backend.sizeBytes / SECTOR_SIZE_BYTES;
    this.serialBytes = encodeSerial(opts.serial ?? 'strata-disk');
    const offered = [S.VIRTIO_F_VERSION_1, S.VIRTIO_BLK_F_SIZE_MAX, S.VIRTIO_BLK_F_SEG_MAX, S.VIRTIO_BLK_F_BLK_SIZE,
      S.VIRTIO_BLK_F_FLUSH, S.VIRTIO_BLK_F_DISCARD, S.VIRTIO_BLK_F_WRITE_ZEROES];
    if (backend.readOnly) offered.push(S.VIRTIO_BLK_F_RO);
    this.deviceFeatures = offered.reduce((mask, bit) => mask | S.featureBit(bit), 0n);
    this.fillConfig();
  }

  /** True unless the driver negotiated FLUSH: then every write is made durable before it completes. */
  get writeThrough(): boolean {
    return !S.hasFeature(this.negotiated, S.VIRTIO_BLK_F_FLUSH);
  }

  private fillConfig(): void {
    const view = new DataView(this.config.buffer);
    view.setUint32(S.VIRTIO_BLK_CFG_CAPACITY, this.capacitySectors % 2 ** 32, true);
    view.setUint32(S.VIRTIO_BLK_CFG_CAPACITY + 4, Math.floor(this.capacitySectors / 2 ** 32), true);
    view.setUint32(S.VIRTIO_BLK_CFG_SIZE_MAX, BLK_SIZE_MAX_BYTES, true);
    view.setUint32(S.VIRTIO_BLK_CFG_SEG_MAX, BLK_SEG_MAX, true);
    // blk_size is the logical block size; ours is the 512-byte protocol sector (a guest
    // may still do 4 KiB I/O; nothing in the backends prefers larger).
    view.setUint32(S.VIRTIO_BLK_CFG_BLK_SIZE, SECTOR_SIZE_BYTES, true);
    view.setUint32(S.VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, BLK_DISCARD_SECTORS_MAX, true);
    view.setUint32(S.VIRTIO_BLK_CFG_MAX_DISCARD_SEG, BLK_DISCARD_SEG_MAX, true);
    view.setUint32(S.VIRTIO_BLK_CFG_DISCARD_SECTOR_ALIGNMENT, BLK_DISCARD_SECTOR_ALIGNMENT, true);
    view.setUint32(S.VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS, BLK_WRITE_ZEROES_SECTORS_MAX, true);
    view.setUint32(S.VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG, BLK_WRITE_ZEROES_SEG_MAX, true);
    // 0: no backend deallocates on write-zeroes (they all store zeros), §5.2.6.2.
    view.setUint8(S.VIRTIO_BLK_CFG_WRITE_ZEROES_MAY_UNMAP, 0);
  }

  // ---- VirtioDevice ----------------------------------------------------------------

  configRead(offsetBytes: number, width: 1 | 2 | 4): number {
    if (offsetBytes < 0 || offsetBytes + width > this.config.length) return 0;
    const view = new DataView(this.config.buffer);
    if (width === 1) return view.getUint8(offsetBytes);
    if (width === 2) return view.getUint16(offsetBytes, true);
    return view.getUint32(offsetBytes, true);
  }

  configWrite(): boolean {
    return false; // CONFIG_WCE is not offered, so no field is writable (§5.2.4)
  }

  checkFeatures(): string | null {
    return null; // every subset of what we offer (with VERSION_1) is fine
  }

  featuresAccepted(accepted: bigint): void {
    this.negotiated = accepted;
  }

  reset(): void {
    this.negotiated = 0n;
  }

  process(_queueIndex: number, queue: DeviceVirtqueue, budget: number): void {
    // Requests complete synchronously, so nothing is ever left in flight between runs.
    if (queue.inFlight !== 0) throw new Error(`virtio-blk: ${queue.inFlight} chains in flight at the start of a run`);
    for (let done = 0; done < budget; done++) {
      const head = queue.popAvail();
      if (head === null) return;
      const request = parseBlkChain(this.memory, head, queue.readChain(head));
      const status = this.execute(request);
      if (status !== S.VIRTIO_BLK_S_OK) request.dataIn.fill(0);
      this.memory.write8(request.statusAddr, status);
      queue.pushUsed(head, request.writableBytes);
    }
  }

  // ---- requests --------------------------------------------------------------------

  private execute(request: BlkRequest): Status {
    const handler = request.framingError === null ? HANDLERS.get(request.type) : undefined;
    if (request.framingError !== null) this.counters.malformed++;
    else this.counters.requests[handler?.name ?? 'unsupported']++;
    let status: Status;
    try {
      if (request.framingError !== null) throw ioerr(request.framingError);
      if (handler === undefined) throw new Refusal(S.VIRTIO_BLK_S_UNSUPP, `request type ${request.type} is not supported`);
      status = handler.run(this, request);
    } catch (err) {
      if (err instanceof Refusal) {
        status = err.status;
        this.lastError = err.message;
      } else if (err instanceof DiskIoError) {
        status = S.VIRTIO_BLK_S_IOERR;
        this.lastError = err.message;
      } else {
        throw err;
      }
    }
    if (status === S.VIRTIO_BLK_S_IOERR) this.counters.statusIoErr++;
    if (status === S.VIRTIO_BLK_S_UNSUPP) this.counters.statusUnsupp++;
    return status;
  }

  /** Range check: [sector, sector + sectorCount) inside the disk, else IOERR. */
  checkSectors(sector: number, sectorCount: number): void {
    if (!(sector + sectorCount <= this.capacitySectors)) {
      throw ioerr(`sectors [${sector}, +${sectorCount}) are past capacity ${this.capacitySectors}`);
    }
  }

  /** Whole-sector data length, else IOERR. */
  sectorCountOf(lengthBytes: number): number {
    if (lengthBytes % SECTOR_SIZE_BYTES !== 0) throw ioerr(`data of ${lengthBytes} bytes is not whole 512-byte sectors`);
    return lengthBytes / SECTOR_SIZE_BYTES;
  }

  checkWritable(): void {
    if (this.backend.readOnly) throw ioerr('write to a read-only device (VIRTIO_BLK_F_RO)');
  }

  /** The write-through half of the cache model: durable before completion if FLUSH was not negotiated. */
  afterWrite(): void {
    if (this.writeThrough) this.flushBackend();
  }

  flushBackend(): void {
    this.backend.flush();
    this.counters.backendFlushes++;
  }

  /** The memory the device DMAs to and from (for the handlers). */
  get dma(): PhysicalMemory {
    return this.memory;
  }

  hasNegotiated(bit: number): boolean {
    return S.hasFeature(this.negotiated, bit);
  }

  private static zeroCounters(): BlkCounters {
    return {
      requests: { in: 0, out: 0, flush: 0, getId: 0, discard: 0, writeZeroes: 0, unsupported: 0 },
      bytesRead: 0, bytesWritten: 0, bytesDiscarded: 0, bytesZeroed: 0, backendFlushes: 0, malformed: 0, statusIoErr: 0, statusUnsupp: 0,
    };
  }
}

function encodeSerial(serial: string): Uint8Array {
  if (!/^[\x20-\x7e]*$/.test(serial) || serial.length > S.VIRTIO_BLK_ID_BYTES) {
    throw new RangeError(`serial must be printable ASCII of at most ${S.VIRTIO_BLK_ID_BYTES} bytes, got ${JSON.stringify(serial)}`);
  }
  const bytes = new Uint8Array(S.VIRTIO_BLK_ID_BYTES); // NUL-padded, no NUL when 20 long (§5.2.6)
  for (let i = 0; i < serial.length; i++) bytes[i] = serial.charCodeAt(i);
  return bytes;
}

/** Refuses device-readable data where the device must write, and vice versa. */
function expectNoDataOut(request: BlkRequest): void {
  if (request.dataOut.totalBytes !== 0) throw ioerr(`${request.dataOut.totalBytes} device-readable data bytes where the device must write or expects none`);
}
function expectNoDataIn(request: BlkRequest): void {
  if (request.dataIn.totalBytes !== 0) throw ioerr(`${request.dataIn.totalBytes} device-writable data bytes where the device must read or expects none`);
}

const readHandler: Handler = {
  name: 'in',
  run(device, request) {
    expectNoDataOut(request);
    const sectorCount = device.sectorCountOf(request.dataIn.totalBytes);
    device.checkSectors(request.sector, sectorCount);
    diskToMemory(device.backend, request.sector * SECTOR_SIZE_BYTES, request.dataIn, device.dma);
    device.counters.bytesRead += request.dataIn.totalBytes;
    return S.VIRTIO_BLK_S_OK;
  },
};

const writeHandler: Handler = {
  name: 'out',
  run(device, request) {
    expectNoDataIn(request);
    const sectorCount = device.sectorCountOf(request.dataOut.totalBytes);
    device.checkSectors(request.sector, sectorCount);
    device.checkWritable();
    memoryToDisk(device.backend, request.sector * SECTOR_SIZE_BYTES, request.dataOut, device.dma);
    device.counters.bytesWritten += request.dataOut.totalBytes;
    device.afterWrite();
    return S.VIRTIO_BLK_S_OK;
  },
};

const flushHandler: Handler = {
  name: 'flush',
  run(device, request) {
    expectNoDataOut(request);
    expectNoDataIn(request);
    if (request.sector !== 0) throw ioerr(`FLUSH with sector ${request.sector} (§5.2.6.1: MUST be 0)`);
    if (!device.backend.readOnly) device.flushBackend();
    return S.VIRTIO_BLK_S_OK;
  },
};

const getIdHandler: Handler = {
  name: 'getId',
  run(device, request) {
    expectNoDataOut(request);
    if (request.dataIn.totalBytes !== S.VIRTIO_BLK_ID_BYTES) throw ioerr(`GET_ID data is ${request.dataIn.totalBytes} bytes, not 20 (§5.2.6.1)`);
    request.dataIn.scatter(0, device.serialBytes);
    return S.VIRTIO_BLK_S_OK;
  },
};

/** DISCARD and WRITE_ZEROES: a list of {sector, num_sectors, flags} segments (§5.2.6). */
function segmentHandler(kind: 'discard' | 'writeZeroes'): Handler {
  const isDiscard = kind === 'discard';
  const feature = isDiscard ? S.VIRTIO_BLK_F_DISCARD : S.VIRTIO_BLK_F_WRITE_ZEROES;
  const segMax = isDiscard ? BLK_DISCARD_SEG_MAX : BLK_WRITE_ZEROES_SEG_MAX;
  const sectorsMax = isDiscard ? BLK_DISCARD_SECTORS_MAX : BLK_WRITE_ZEROES_SECTORS_MAX;
  const allowedFlags = isDiscard ? 0 : S.VIRTIO_BLK_DWZ_F_UNMAP; // unmap on DISCARD is UNSUPP (§5.2.6.2)
  return {
    name: kind,
    run(device, request) {
      if (!device.hasNegotiated(feature)) throw new Refusal(S.VIRTIO_BLK_S_UNSUPP, `${kind} was not negotiated`);
      expectNoDataIn(request);
      const lengthBytes = request.dataOut.totalBytes;
      const segmentCount = lengthBytes / S.VIRTIO_BLK_DWZ_SEGMENT_SIZE_BYTES;
      if (!Number.isInteger(segmentCount) || segmentCount < 1 || segmentCount > segMax) {
        throw ioerr(`${kind} data of ${lengthBytes} bytes is not 1..${segMax} segments of 16 bytes`);
      }
      const raw = new Uint8Array(lengthBytes);
      request.dataOut.gather(0, raw);
      const view = new DataView(raw.buffer);
      const ranges: { sector: number; sectorCount: number }[] = [];
      for (let i = 0; i < segmentCount; i++) {
        const at = i * S.VIRTIO_BLK_DWZ_SEGMENT_SIZE_BYTES;
        const high = view.getUint32(at + S.VIRTIO_BLK_DWZ_SECTOR_OFFSET + 4, true);
        const sector = high > 0x1f_ffff ? Infinity : high * 2 ** 32 + view.getUint32(at + S.VIRTIO_BLK_DWZ_SECTOR_OFFSET, true);
        const sectorCount = view.getUint32(at + S.VIRTIO_BLK_DWZ_NUM_SECTORS_OFFSET, true);
        const flags = view.getUint32(at + S.VIRTIO_BLK_DWZ_FLAGS_OFFSET, true);
        if (flags & ~allowedFlags) throw new Refusal(S.VIRTIO_BLK_S_UNSUPP, `${kind} segment flags 0x${flags.toString(16)} (§5.2.6.2)`);
        if (sectorCount > sectorsMax) throw ioerr(`${kind} of ${sectorCount} sectors exceeds ${sectorsMax}`);
        device.checkSectors(sector, sectorCount);
        ranges.push({ sector, sectorCount });
      }
      device.checkWritable();
      for (const { sector, sectorCount } of ranges) {
        device.backend.discard(sector * SECTOR_SIZE_BYTES, sectorCount * SECTOR_SIZE_BYTES);
        if (isDiscard) device.counters.bytesDiscarded += sectorCount * SECTOR_SIZE_BYTES;
        else device.counters.bytesZeroed += sectorCount * SECTOR_SIZE_BYTES;
      }
      device.afterWrite();
      return S.VIRTIO_BLK_S_OK;
    },
  };
}

const HANDLERS: ReadonlyMap<number, Handler> = new Map([
  [S.VIRTIO_BLK_T_IN, readHandler],
  [S.VIRTIO_BLK_T_OUT, writeHandler],
  [S.VIRTIO_BLK_T_FLUSH, flushHandler],
  [S.VIRTIO_BLK_T_GET_ID, getIdHandler],
  [S.VIRTIO_BLK_T_DISCARD, segmentHandler('discard')],
  [S.VIRTIO_BLK_T_WRITE_ZEROES, segmentHandler('writeZeroes')],
]);
