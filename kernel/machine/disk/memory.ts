/**
 * A disk held in memory: one Uint8Array. Every write is durable at once (there is no
 * power to lose), so `flush` only checks the backend is open.
 *
 * Use it for tests and for images built in memory; `bytes` is the live image (no copy)
 * so a test can inspect or hand it to another backend.
 */

import { checkDiskRange, checkDiskSize, checkOpen, DiskIoError } from './backend.ts';
import type { DiskBackend } from './backend.ts';

export class MemoryBackend implements DiskBackend {
  readonly kind = 'memory';
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  /** The live image. */
  readonly bytes: Uint8Array;
  private closed = false;

  /** A zeroed disk of sizeBytes, or a disk over `image` (not copied). */
  constructor(sizeOrImage: number | Uint8Array, opts: { readOnly?: boolean } = {}) {
    this.bytes = typeof sizeOrImage === 'number' ? new Uint8Array(sizeOrImage) : sizeOrImage;
    checkDiskSize(this.bytes.length, 'MemoryBackend');
    this.sizeBytes = this.bytes.length;
    this.readOnly = opts.readOnly ?? false;
  }

  read(offsetBytes: number, dst: Uint8Array): void {
    checkOpen(this.closed, this.kind, 'read');
    checkDiskRange(this.sizeBytes, offsetBytes, dst.length, 'read');
    dst.set(this.bytes.subarray(offsetBytes, offsetBytes + dst.length));
  }

  write(offsetBytes: number, src: Uint8Array): void {
    checkOpen(this.closed, this.kind, 'write');
    checkDiskRange(this.sizeBytes, offsetBytes, src.length, 'write');
    if (this.readOnly) throw new DiskIoError('IOERR', offsetBytes, src.length, 'write to a read-only disk');
    this.bytes.set(src, offsetBytes);
  }

  flush(): void {
    checkOpen(this.closed, this.kind, 'flush');
  }

  discard(offsetBytes: number, lengthBytes: number): void {
    checkOpen(this.closed, this.kind, 'discard');
    checkDiskRange(this.sizeBytes, offsetBytes, lengthBytes, 'discard');
    if (this.readOnly) throw new DiskIoError('IOERR', offsetBytes, lengthBytes, 'discard on a read-only disk');
    this.bytes.fill(0, offsetBytes, offsetBytes + lengthBytes);
  }

  close(): void {
    this.closed = true;
  }
}
