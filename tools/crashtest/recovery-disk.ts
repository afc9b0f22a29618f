/**
 * The disk a crash state is recovered on: a cheap write-back disk over one crash image
 * (an OverlayImage: the run's base plus the pages that differ, overlay.ts).
 *
 * - DURABLE is the image it was given (owned, not copied: building a state already made
 *   a fresh one); writes stay in a pending list (what reads see on top of DURABLE) until
 *   a flush lands them, in order.
 * - powerOff() is the harness's second power cut: pending writes are dropped, and every
 *   later write, discard and flush is ignored, so the stack's clean stop afterwards
 *   cannot change what the next recovery sees. `durable` is then the image to recover
 *   from again.
 *
 * Unlike FaultyBackend it keeps no log and makes no copy of the disk: a state costs what
 * its recovery writes, not the disk's size.
 */
import { checkDiskRange, checkOpen, type DiskBackend } from '../../kernel/machine/disk/backend.ts';
import { overlayPending } from '../../kernel/machine/disk/write-log.ts';
import type { OverlayImage } from './overlay.ts';

interface Pending {
  offsetBytes: number;
  /** null: a discard (zeros). */
  data: Uint8Array | null;
  lengthBytes: number;
}

export class RecoveryDisk implements DiskBackend {
  readonly kind = 'crash-recovery';
  readonly readOnly = false;
  readonly sizeBytes: number;
  private pending: Pending[] = [];
  private off = false;
  private closed = false;

  constructor(readonly durable: OverlayImage) {
    this.sizeBytes = durable.sizeBytes;
  }

  read(offsetBytes: number, dst: Uint8Array): void {
    checkOpen(this.closed, this.kind, 'read');
    checkDiskRange(this.sizeBytes, offsetBytes, dst.length, 'read');
    this.durable.read(offsetBytes, dst);
    overlayPending(dst, offsetBytes, this.pending);
  }

  write(offsetBytes: number, src: Uint8Array): void {
    checkOpen(this.closed, this.kind, 'write');
    checkDiskRange(this.sizeBytes, offsetBytes, src.length, 'write');
    if (!this.off) this.pending.push({ offsetBytes, data: src.slice(), lengthBytes: src.length });
  }

  discard(offsetBytes: number, lengthBytes: number): void {
    checkOpen(this.closed, this.kind, 'discard');
    checkDiskRange(this.sizeBytes, offsetBytes, lengthBytes, 'discard');
    if (!this.off) this.pending.push({ offsetBytes, data: null, lengthBytes });
  }

  flush(): void {
    checkOpen(this.closed, this.kind, 'flush');
    for (const p of this.pending) this.durable.write(p.offsetBytes, p.data, p.lengthBytes);
    this.pending = [];
  }

  /** Cuts the power for good: unflushed writes are lost and nothing later lands. */
  powerOff(): void {
    this.pending = [];
    this.off = true;
  }

  close(): void {
    this.closed = true;
  }
}
