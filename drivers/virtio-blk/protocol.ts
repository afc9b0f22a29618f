/**
 * The virtio-blk driver's protocol: message shapes, their validation, and a typed client.
 * This file is all another service may import from drivers/virtio-blk.
 *
 * Addressing is in 512-byte sectors (virtio's unit, whatever the device's blk_size).
 * Data moves one of two ways:
 *  - by grant (the fast path): the caller lends pages of its memory to the driver and
 *    names them as segments; the device DMAs straight into or out of them, no copy;
 *  - inline (convenience for small requests): `data` in the message, copied twice.
 * Requests past capacity, of zero or misaligned length, or larger than
 * BLK_REQUEST_SIZE_BYTES_MAX are refused before they reach the device.
 *
 * Error codes carried in replies: RANGE (past capacity), BADMSG (shape or alignment),
 * TOOBIG (over the request limit or seg_max), RO (write to a read-only device), UNSUPP
 * (the device did not offer the feature), IOERR (the device failed the request),
 * RESET (the device was reset while the request was in flight).
 */
import { ServiceError, badMessage } from '../../kernel/errors.ts';
import type { ServiceContext } from '../../kernel/service.ts';

export const VIRTIO_BLK_ENDPOINT = 'virtio-blk';

/** A piece of granted memory: `lengthBytes` at `offsetBytes` inside grant `grantId`. */
export interface Segment {
  grantId: number;
  offsetBytes: number;
  lengthBytes: number;
}

export type BlkRequest =
  | { op: 'read'; sector: number; count: number; into?: Segment[] }
  | { op: 'write'; sector: number; data?: Uint8Array; from?: Segment[] }
  | { op: 'flush' }
  | { op: 'discard'; sector: number; count: number }
  | { op: 'writeZeroes'; sector: number; count: number; unmap?: boolean }
  | { op: 'info' }
  | { op: 'stats' };

export interface BlkInfo {
  capacitySectors: number;
  sectorSizeBytes: number;
  blkSizeBytes: number;
  segMax: number;
  sizeMaxBytes: number;
  requestSizeBytesMax: number;
  queueSize: number;
  readOnly: boolean;
  /** True when FLUSH was negotiated: writes are volatile until a flush completes. */
  writeCache: boolean;
  maxDiscardSectors: number;
  maxWriteZeroesSectors: number;
  /** Names of the negotiated features. */
  features: string[];
  /** The device's GET_ID string. */
  id: string;
}

export interface BlkStats {
  inFlight: number;
  queued: number;
  inFlightMax: number;
  completed: Record<string, number>;
  errors: number;
  bytesRead: number;
  bytesWritten: number;
  interrupts: number;
  notifies: number;
  resets: number;
}

const SECTOR = 512;

function int(v: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) badMessage(`${what} must be an integer in [0, ${max}], got ${String(v)}`);
  return v;
}

function segments(v: unknown, what: string): Segment[] {
  if (!Array.isArray(v) || v.length === 0) badMessage(`${what} must be a non-empty array of segments`);
  return v.map((s, i) => {
    if (!s || typeof s !== 'object') badMessage(`${what}[${i}] is not a segment`);
    const seg = s as Record<string, unknown>;
    const lengthBytes = int(seg.lengthBytes, `${what}[${i}].lengthBytes`);
    if (lengthBytes === 0 || lengthBytes % SECTOR !== 0) badMessage(`${what}[${i}].lengthBytes ${lengthBytes} is not a positive multiple of ${SECTOR}`);
    return { grantId: int(seg.grantId, `${what}[${i}].grantId`), offsetBytes: int(seg.offsetBytes, `${what}[${i}].offsetBytes`), lengthBytes };
  });
}

/** Checks the shape of a request; throws BADMSG naming the field. Range checks need capacity and happen in the driver. */
export function parseBlkRequest(op: string, body: unknown): BlkRequest {
  const b = (body ?? {}) as Record<string, unknown>;
  if (typeof b !== 'object') badMessage(`${op}: body must be a map`);
  switch (op) {
    case 'read': {
      const req: BlkRequest = { op, sector: int(b.sector, 'sector'), count: int(b.count, 'count') };
      if (req.count === 0) badMessage('count must be at least 1');
      if (b.into !== undefined) req.into = segments(b.into, 'into');
      return req;
    }
    case 'write': {
      const req: BlkRequest = { op, sector: int(b.sector, 'sector') };
      if ((b.data === undefined) === (b.from === undefined)) badMessage('write takes exactly one of data or from');
      if (b.data !== undefined) {
        if (!(b.data instanceof Uint8Array)) badMessage('data must be bytes');
        if (b.data.length === 0 || b.data.length % SECTOR !== 0) badMessage(`data length ${b.data.length} is not a positive multiple of ${SECTOR}`);
        req.data = b.data;
      } else req.from = segments(b.from, 'from');
      return req;
    }
    case 'flush':
    case 'info':
    case 'stats':
      return { op };
    case 'discard':
    case 'writeZeroes': {
      const count = int(b.count, 'count');
      if (count === 0) badMessage('count must be at least 1');
      if (op === 'discard') return { op, sector: int(b.sector, 'sector'), count };
      if (b.unmap !== undefined && typeof b.unmap !== 'boolean') badMessage('unmap must be a boolean');
      return { op, sector: int(b.sector, 'sector'), count, unmap: b.unmap === true };
    }
    default:
      throw new ServiceError('BADOP', `virtio-blk has no op '${op}'`);
  }
}

export function segmentsBytes(segs: Segment[]): number {
  return segs.reduce((n, s) => n + s.lengthBytes, 0);
}

/** Typed client over a ServiceContext whose manifest names the driver's endpoint. */
export class VirtioBlkClient {
  constructor(
    private readonly ctx: ServiceContext,
    readonly endpoint: string = VIRTIO_BLK_ENDPOINT,
  ) {}

  async read(sector: number, count: number): Promise<Uint8Array> {
    const r = await this.ctx.call<{ data: Uint8Array }>(this.endpoint, 'read', { sector, count });
    return r.data;
  }
  async readInto(sector: number, count: number, into: Segment[]): Promise<void> {
    await this.ctx.call(this.endpoint, 'read', { sector, count, into });
  }
  async write(sector: number, data: Uint8Array): Promise<void> {
    await this.ctx.call(this.endpoint, 'write', { sector, data });
  }
  async writeFrom(sector: number, from: Segment[]): Promise<void> {
    await this.ctx.call(this.endpoint, 'write', { sector, from });
  }
  async flush(): Promise<void> {
    await this.ctx.call(this.endpoint, 'flush', {});
  }
  async discard(sector: number, count: number): Promise<void> {
    await this.ctx.call(this.endpoint, 'discard', { sector, count });
  }
  async writeZeroes(sector: number, count: number, unmap = false): Promise<void> {
    await this.ctx.call(this.endpoint, 'writeZeroes', { sector, count, unmap });
  }
  info(): Promise<BlkInfo> {
    return this.ctx.call<BlkInfo>(this.endpoint, 'info', {});
  }
  stats(): Promise<BlkStats> {
    return this.ctx.call<BlkStats>(this.endpoint, 'stats', {});
  }
}
