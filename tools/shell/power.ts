/**
 * Power for the shell's `crash` and `reboot`: a disk whose power can be cut, and a
 * socket per boot so a machine that lost power can never touch the disk again.
 *
 * - CrashableDisk: a DiskBackend with crash(mode) (kernel/machine/disk/write-log.ts's
 *   modes). The faulty backend is one already; `crashable(disk)` wraps any other
 *   backend (a raw image file, memory) in a WriteCacheDisk.
 * - WriteCacheDisk: the device's volatile write cache made explicit. Writes and
 *   discards wait in memory, in order, and reads see them; flush() writes them to the
 *   backend in order and flushes it. crash(mode) keeps the survivors the mode chooses
 *   (chooseCrashOutcome, the same rule as the faulty backend), drops the rest, and
 *   flushes. Past WRITE_CACHE_BYTES_MAX or WRITE_CACHE_WRITES_MAX it writes back early
 *   (a real cache may make a write durable before the FLUSH; never later), which keeps
 *   memory bounded. close() writes back (as a host page cache would) and closes.
 * - PowerSupply: hands out one PowerSocket per boot. cut(mode) kills the live socket
 *   first (every later call through it throws IOERR, so the old machine's last
 *   gasps cannot land) and then crashes the disk. A socket's close() only unplugs it;
 *   the supply's close() closes the disk.
 *
 * Invariant: at most one socket is live, and only a live socket reaches the disk.
 */
import { checkDiskRange, checkOpen, DiskIoError, type DiskBackend } from '../../kernel/machine/disk/backend.ts';
import { chooseCrashOutcome, overlayPending, type CrashMode, type CrashOutcome, type PendingWrite } from '../../kernel/machine/disk/write-log.ts';
import { SECTOR_SIZE_BYTES } from '../../kernel/limits.ts';
import { WRITE_CACHE_BYTES_MAX, WRITE_CACHE_WRITES_MAX } from './limits.ts';

export type { CrashMode, CrashOutcome } from '../../kernel/machine/disk/write-log.ts';

export interface CrashableDisk extends DiskBackend {
  crash(mode: CrashMode): CrashOutcome;
  readonly unflushedCount: number;
}

export function isCrashable(disk: DiskBackend): disk is CrashableDisk {
  return typeof (disk as Partial<CrashableDisk>).crash === 'function';
}

/** The disk itself if it can crash, else the disk behind a WriteCacheDisk. */
export function crashable(disk: DiskBackend): CrashableDisk {
  return isCrashable(disk) ? disk : new WriteCacheDisk(disk);
}

export class WriteCacheDisk implements CrashableDisk {
  readonly kind: string;
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  private pending: PendingWrite[] = [];
  private pendingBytes = 0;
  private nextSeq = 1;
  private closed = false;
  /** Write-backs forced by the cache limits (not by a flush). */
  earlyWriteBacks = 0;

  constructor(private readonly inner: DiskBackend) {
    this.kind = inner.kind;
    this.sizeBytes = inner.sizeBytes;
    this.readOnly = inner.readOnly ?? false;
  }

  get unflushedCount(): number {
    return this.pending.length;
  }

  read(offsetBytes: number, dst: Uint8Array): void {
    checkOpen(this.closed, this.kind, 'read');
    checkDiskRange(this.sizeBytes, offsetBytes, dst.length, 'read');
    this.inner.read(offsetBytes, dst);
    overlayPending(dst, offsetBytes, this.pending);
  }

  write(offsetBytes: number, src: Uint8Array): void {
    checkOpen(this.closed, this.kind, 'write');
    checkDiskRange(this.sizeBytes, offsetBytes, src.length, 'write');
    if (this.readOnly) throw new DiskIoError('IOERR', offsetBytes, src.length, 'write to a read-only disk');
    this.add({ seq: this.nextSeq++, offsetBytes, lengthBytes: src.length, data: src.slice() });
  }

  discard(offsetBytes: number, lengthBytes: number): void {
    checkOpen(this.closed, this.kind, 'discard');
    checkDiskRange(this.sizeBytes, offsetBytes, lengthBytes, 'discard');
    if (this.readOnly) throw new DiskIoError('IOERR', offsetBytes, lengthBytes, 'discard on a read-only disk');
    this.add({ seq: this.nextSeq++, offsetBytes, lengthBytes, data: null });
  }

  flush(): void {
    checkOpen(this.closed, this.kind, 'flush');
    this.writeBack(this.pending.length);
    this.inner.flush();
  }

  close(): void {
    if (this.closed) return;
    this.writeBack(this.pending.length);
    this.closed = true;
    this.inner.close();
  }

  crash(mode: CrashMode): CrashOutcome {
    checkOpen(this.closed, this.kind, 'crash');
    const outcome = chooseCrashOutcome(this.pending, mode);
    const kept = new Set(outcome.keptSeqs);
    for (const w of this.pending) {
      if (kept.has(w.seq)) this.apply(w, w.lengthBytes);
      else if (outcome.torn && outcome.torn.seq === w.seq) this.apply(w, outcome.torn.sectorCount * SECTOR_SIZE_BYTES);
    }
    this.pending = [];
    this.pendingBytes = 0;
    this.inner.flush();
    return outcome;
  }

  private add(w: PendingWrite): void {
    this.pending.push(w);
    this.pendingBytes += w.data?.length ?? 0;
    if (this.pendingBytes > WRITE_CACHE_BYTES_MAX || this.pending.length > WRITE_CACHE_WRITES_MAX) {
      this.earlyWriteBacks++;
      this.writeBack(this.pending.length);
    }
  }

  /** Writes the oldest `count` pending writes to the backend, in order (no flush). */
  private writeBack(count: number): void {
    const done = this.pending.splice(0, count);
    for (const w of done) {
      this.apply(w, w.lengthBytes);
      this.pendingBytes -= w.data?.length ?? 0;
    }
  }

  private apply(w: PendingWrite, lengthBytes: number): void {
    if (lengthBytes === 0) return;
    if (w.data === null) this.inner.discard(w.offsetBytes, lengthBytes);
    else this.inner.write(w.offsetBytes, w.data.subarray(0, lengthBytes));
  }
}

/** One boot's connection to the disk; dead once the power is cut or it is closed. */
export class PowerSocket implements DiskBackend {
  readonly kind: string;
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  private live = true;

  constructor(private readonly disk: CrashableDisk) {
    this.kind = disk.kind;
    this.sizeBytes = disk.sizeBytes;
    this.readOnly = disk.readOnly ?? false;
  }

  get isLive(): boolean {
    return this.live;
  }

  /** Power off: every later call fails with IOERR; nothing more reaches the disk. */
  unplug(): void {
    this.live = false;
  }

  private check(offsetBytes: number, lengthBytes: number, op: string): void {
    if (!this.live) throw new DiskIoError('IOERR', offsetBytes, lengthBytes, `${op}: the power is off`);
  }

  read(offsetBytes: number, dst: Uint8Array): void {
    this.check(offsetBytes, dst.length, 'read');
    this.disk.read(offsetBytes, dst);
  }
  write(offsetBytes: number, src: Uint8Array): void {
    this.check(offsetBytes, src.length, 'write');
    this.disk.write(offsetBytes, src);
  }
  flush(): void {
    this.check(0, 0, 'flush');
    this.disk.flush();
  }
  discard(offsetBytes: number, lengthBytes: number): void {
    this.check(offsetBytes, lengthBytes, 'discard');
    this.disk.discard(offsetBytes, lengthBytes);
  }
  /** A clean shutdown ends here: the socket is unplugged, the disk stays open for the next boot. */
  close(): void {
    this.live = false;
  }
}

export interface PowerCutReport {
  mode: CrashMode;
  /** Writes and discards in the volatile cache when the power went. */
  unflushedCount: number;
  keptCount: number;
  /** The write torn at a sector boundary, if any: sectors of it that landed. */
  tornSectors: number | null;
  lostCount: number;
}

export class PowerSupply {
  private socket: PowerSocket | null = null;
  private closed = false;

  constructor(readonly disk: CrashableDisk) {}

  /** A live socket for the next boot; the previous one must be unplugged already. */
  plug(): PowerSocket {
    if (this.closed) throw new Error('PowerSupply: the disk is closed');
    if (this.socket?.isLive) throw new Error('PowerSupply: a machine is still plugged in; shut it down or cut the power first');
    this.socket = new PowerSocket(this.disk);
    return this.socket;
  }

  /** Cuts the power at once: the live socket dies, then the disk loses what `mode` says. */
  cut(mode: CrashMode): PowerCutReport {
    this.socket?.unplug();
    const unflushedCount = this.disk.unflushedCount;
    const outcome = this.disk.crash(mode);
    const tornSectors = outcome.torn ? outcome.torn.sectorCount : null;
    const keptCount = outcome.keptSeqs.length;
    return { mode, unflushedCount, keptCount, tornSectors, lostCount: unflushedCount - keptCount - (outcome.torn ? 1 : 0) };
  }

  close(): void {
    if (this.closed) return;
    this.socket?.unplug();
    this.closed = true;
    this.disk.close();
  }
}
