/**
 * The one interface every disk backend implements: a raw image file, memory, or the
 * fault-injecting disk for tests. The virtio-blk device is the only caller.
 *
 * Synchronous on purpose: the deterministic scheduler runs device work inside one
 * step, so a backend call must finish before the step ends (no promises, no timers).
 *
 * Contract:
 * - `sizeBytes` is a positive multiple of 512 and never changes.
 * - Every offset and length is a multiple of 512 and the range lies inside
 *   [0, sizeBytes); anything else throws DiskIoError('RANGE') before touching data.
 *   `checkDiskRange()` is the one place that rule is written.
 * - `write` makes data visible to later reads at once; it is durable (survives a crash
 *   or power loss) only after a later `flush` returns. `discard` behaves like a write
 *   of zeros with the same durability.
 * - Failures are DiskIoError: 'IOERR' (the medium failed), 'NOSPC' (no room to store a
 *   write, e.g. a full host filesystem), 'RANGE' (caller bug).
 * - After `close`, every call except `close` throws DiskIoError('IOERR').
 */

import { SECTOR_SIZE_BYTES } from '../../limits.ts';

export type DiskIoErrorCode = 'IOERR' | 'NOSPC' | 'RANGE';

export class DiskIoError extends Error {
  constructor(
    readonly code: DiskIoErrorCode,
    readonly offsetBytes: number,
    readonly lengthBytes: number,
    detail: string,
  ) {
    super(`disk ${code} at [${offsetBytes}, +${lengthBytes}): ${detail}`);
    this.name = 'DiskIoError';
  }
}

export interface DiskBackend {
  /** 'file' | 'memory' | 'faulty' */
  readonly kind: string;
  /** Multiple of 512. */
  readonly sizeBytes: number;
  /** True if writes and discards always fail; the device then offers VIRTIO_BLK_F_RO. */
  readonly readOnly?: boolean;
  /** Fills dst with the bytes at [offsetBytes, offsetBytes + dst.length). */
  read(offsetBytes: number, dst: Uint8Array): void;
  /** Stores src at offsetBytes; visible at once, durable after the next flush. */
  write(offsetBytes: number, src: Uint8Array): void;
  /** Makes every completed write and discard durable. */
  flush(): void;
  /** Afterwards [offsetBytes, offsetBytes + lengthBytes) reads as zeros. */
  discard(offsetBytes: number, lengthBytes: number): void;
  close(): void;
}

/** Throws DiskIoError('RANGE') unless the range is sector-aligned and inside the disk. */
export function checkDiskRange(sizeBytes: number, offsetBytes: number, lengthBytes: number, op: string): void {
  const ok =
    Number.isSafeInteger(offsetBytes) &&
    Number.isSafeInteger(lengthBytes) &&
    offsetBytes >= 0 &&
    lengthBytes >= 0 &&
    offsetBytes % SECTOR_SIZE_BYTES === 0 &&
    lengthBytes % SECTOR_SIZE_BYTES === 0 &&
    offsetBytes + lengthBytes <= sizeBytes;
  if (!ok) {
    throw new DiskIoError('RANGE', offsetBytes, lengthBytes, `${op} must be sector-aligned and inside the ${sizeBytes}-byte disk`);
  }
}

/** Throws RangeError unless sizeBytes is a positive whole number of sectors (a constructor argument check). */
export function checkDiskSize(sizeBytes: number, who: string): void {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % SECTOR_SIZE_BYTES !== 0) {
    throw new RangeError(`${who}: sizeBytes must be a positive multiple of ${SECTOR_SIZE_BYTES}, got ${sizeBytes}`);
  }
}

/** Throws DiskIoError('IOERR') if the backend was closed. */
export function checkOpen(closed: boolean, kind: string, op: string): void {
  if (closed) throw new DiskIoError('IOERR', 0, 0, `${op} on a closed ${kind} backend`);
}
