/**
 * The fault-injecting disk for tests and the crash harness (after TigerBeetle's
 * src/testing/storage.zig and Linux dm-log-writes).
 *
 * Fault model
 * -----------
 * - Two images: DURABLE (what survives power loss) and VOLATILE (what reads see:
 *   durable plus every write and discard since the last flush, in order).
 * - A write or discard lands in VOLATILE at once and becomes durable only when a
 *   later flush() returns. flush() makes every earlier completed write durable.
 * - crash(mode) is a power cycle: the unflushed writes are lost, kept, kept in a seeded
 *   subset, or torn at a 512-byte sector boundary (see write-log.ts); then VOLATILE is
 *   reset to DURABLE and the disk keeps working. Sectors are atomic: a torn sector
 *   never holds a mix of old and new bytes.
 * - Read corruption: flipBitOnRead(sector, bitIndex) flips one bit in what a read
 *   returns for that sector (the stored bytes stay right), every time or once.
 * - Medium errors: failSectors(set) makes reads and/or writes touching those sectors
 *   throw DiskIoError('IOERR') before any byte moves. Faults survive crashes (they are
 *   properties of the medium) until clearFaults().
 * - Space: limitWrittenBytes(n) lets the disk accept n more bytes of writes, then
 *   every write throws DiskIoError('NOSPC') without landing (a full thin-provisioned
 *   disk). Discards never consume space.
 * - A refused operation (IOERR, NOSPC, RANGE) leaves no trace in either image or log.
 *
 * Log: every accepted write, discard, flush, mark(label) and crash is appended with a
 * sequence number (data copied). `imageAt(logBase(), log, { entryCount, mode })`
 * rebuilds any crash state afterwards. The log's data is bounded by
 * FAULTY_LOG_DATA_BYTES_MAX; past it the backend throws a plain Error (the test is too
 * big for its harness), never a DiskIoError.
 */

import { SECTOR_SIZE_BYTES } from '../../limits.ts';
import { FAULTY_LOG_DATA_BYTES_MAX } from '../limits.ts';
import { checkDiskRange, checkDiskSize, checkOpen, DiskIoError } from './backend.ts';
import type { DiskBackend } from './backend.ts';
import { chooseCrashOutcome, ImageReplayer } from './write-log.ts';
import type { CrashMode, CrashOutcome, DiskLogEntry } from './write-log.ts';

export type { CrashMode, CrashOutcome, DiskLogEntry } from './write-log.ts';
export { imageAt } from './write-log.ts';

export interface FaultyStats {
  reads: number;
  writes: number;
  flushes: number;
  discards: number;
  crashes: number;
  bytesRead: number;
  bytesWritten: number;
  injectedErrors: number;
  bitFlips: number;
}

interface BitFlip {
  readonly bitIndex: number;
  readonly once: boolean;
}

export class FaultyBackend implements DiskBackend {
  readonly kind = 'faulty';
  readonly readOnly = false;
  readonly sizeBytes: number;
  readonly stats: FaultyStats = {
    reads: 0, writes: 0, flushes: 0, discards: 0, crashes: 0,
    bytesRead: 0, bytesWritten: 0, injectedErrors: 0, bitFlips: 0,
  };

  private readonly replayer: ImageReplayer;
  private volatile: Uint8Array;
  private base: Uint8Array;
  private entries: DiskLogEntry[] = [];
  private nextSeq = 0;
  private logDataBytes = 0;
  private closed = false;
  private readonly flips = new Map<number, BitFlip[]>();
  private readonly failedReads = new Set<number>();
  private readonly failedWrites = new Set<number>();
  private writeBudgetBytes: number | null = null;

  /** A zeroed disk of sizeBytes, or one whose durable image starts as a copy of `image`. */
  constructor(sizeOrImage: number | Uint8Array, private readonly opts: { recordLog?: boolean } = {}) {
    const image = typeof sizeOrImage === 'number' ? new Uint8Array(sizeOrImage) : sizeOrImage.slice();
    checkDiskSize(image.length, 'FaultyBackend');
    this.sizeBytes = image.length;
    this.replayer = new ImageReplayer(image);
    this.volatile = image.slice();
    this.base = image.slice();
  }

  // ---- DiskBackend -----------------------------------------------------------------

  read(offsetBytes: number, dst: Uint8Array): void {
    checkOpen(this.closed, this.kind, 'read');
    checkDiskRange(this.sizeBytes, offsetBytes, dst.length, 'read');
    this.checkFailed(this.failedReads, offsetBytes, dst.length, 'read');
    dst.set(this.volatile.subarray(offsetBytes, offsetBytes + dst.length));
    this.applyFlips(offsetBytes, dst);
    this.stats.reads++;
    this.stats.bytesRead += dst.length;
  }

  write(offsetBytes: number, src: Uint8Array): void {
    checkOpen(this.closed, this.kind, 'write');
    checkDiskRange(this.sizeBytes, offsetBytes, src.length, 'write');
    this.checkFailed(this.failedWrites, offsetBytes, src.length, 'write');
    if (this.writeBudgetBytes !== null && src.length > this.writeBudgetBytes) {
      this.stats.injectedErrors++;
      throw new DiskIoError('NOSPC', offsetBytes, src.length, `write of ${src.length} bytes with ${this.writeBudgetBytes} bytes of space left`);
    }
    const data = src.slice();
    const seq = this.record((s) => ({ seq: s, kind: 'write', offsetBytes, data }), data.length);
    if (this.writeBudgetBytes !== null) this.writeBudgetBytes -= data.length;
    this.replayer.addPending({ seq, offsetBytes, lengthBytes: data.length, data });
    this.volatile.set(data, offsetBytes);
    this.stats.writes++;
    this.stats.bytesWritten += data.length;
  }

  flush(): void {
    checkOpen(this.closed, this.kind, 'flush');
    this.record((seq) => ({ seq, kind: 'flush' }), 0);
    this.replayer.flush();
    this.stats.flushes++;
  }

  discard(offsetBytes: number, lengthBytes: number): void {
    checkOpen(this.closed, this.kind, 'discard');
    checkDiskRange(this.sizeBytes, offsetBytes, lengthBytes, 'discard');
    this.checkFailed(this.failedWrites, offsetBytes, lengthBytes, 'discard');
    const seq = this.record((s) => ({ seq: s, kind: 'discard', offsetBytes, lengthBytes }), 0);
    this.replayer.addPending({ seq, offsetBytes, lengthBytes, data: null });
    this.volatile.fill(0, offsetBytes, offsetBytes + lengthBytes);
    this.stats.discards++;
  }

  close(): void {
    this.closed = true;
  }

  // ---- power ---------------------------------------------------------------------

  /** Loses power: keeps the unflushed writes `mode` chooses, then powers back on. */
  crash(mode: CrashMode): CrashOutcome {
    const outcome = chooseCrashOutcome(this.replayer.pending, mode);
    this.record((seq) => ({ seq, kind: 'crash', outcome }), 0);
    this.replayer.crash(outcome);
    this.volatile = this.replayer.durable.slice();
    this.closed = false;
    this.stats.crashes++;
    return outcome;
  }

  /** Writes and discards not yet flushed. */
  get unflushedCount(): number {
    return this.replayer.pending.length;
  }

  /** A copy of what would survive `crash('lose-all')` now. */
  snapshotDurable(): Uint8Array {
    return this.replayer.durable.slice();
  }

  /** A copy of what reads see now (no faults applied). */
  snapshotVolatile(): Uint8Array {
    return this.volatile.slice();
  }

  // ---- log -------------------------------------------------------------------------

  get log(): readonly DiskLogEntry[] {
    return this.entries;
  }

  /** A copy of the durable image the log starts from. */
  logBase(): Uint8Array {
    return this.base.slice();
  }

  /** Puts a labelled mark in the log (like dm-log-writes' marks); returns its seq. */
  mark(label: string): number {
    return this.record((seq) => ({ seq, kind: 'mark', label }), 0);
  }

  /** Starts a fresh log from the current durable image; only allowed with nothing unflushed. */
  resetLog(): void {
    if (this.replayer.pending.length !== 0) {
      throw new Error(`FaultyBackend.resetLog: ${this.replayer.pending.length} unflushed writes would be lost from the history; flush first`);
    }
    this.entries = [];
    this.logDataBytes = 0;
    this.base = this.replayer.durable.slice();
  }

  // ---- injected faults -------------------------------------------------------------

  /** Flips bit `bitIndex` (0 .. 4095) of `sector` in what reads return; `once` removes it after one read. */
  flipBitOnRead(sector: number, bitIndex: number, opts: { once?: boolean } = {}): void {
    this.checkSector(sector, 'flipBitOnRead');
    if (!Number.isInteger(bitIndex) || bitIndex < 0 || bitIndex >= SECTOR_SIZE_BYTES * 8) {
      throw new RangeError(`flipBitOnRead: bitIndex must be in [0, ${SECTOR_SIZE_BYTES * 8}), got ${bitIndex}`);
    }
    const list = this.flips.get(sector) ?? [];
    list.push({ bitIndex, once: opts.once ?? false });
    this.flips.set(sector, list);
  }

  /** I/O touching any of `sectors` throws IOERR (reads and writes unless narrowed). */
  failSectors(sectors: Iterable<number>, opts: { reads?: boolean; writes?: boolean } = {}): void {
    const reads = opts.reads ?? true;
    const writes = opts.writes ?? true;
    for (const sector of sectors) {
      this.checkSector(sector, 'failSectors');
      if (reads) this.failedReads.add(sector);
      if (writes) this.failedWrites.add(sector);
    }
  }

  /** Accepts `bytes` more bytes of writes, then NOSPC; null removes the limit. */
  limitWrittenBytes(bytes: number | null): void {
    if (bytes !== null && (!Number.isSafeInteger(bytes) || bytes < 0)) throw new RangeError(`limitWrittenBytes: ${bytes}`);
    this.writeBudgetBytes = bytes;
  }

  clearFaults(): void {
    this.flips.clear();
    this.failedReads.clear();
    this.failedWrites.clear();
    this.writeBudgetBytes = null;
  }

  // ---- internals -------------------------------------------------------------------

  /** Gives the operation its sequence number and appends it to the log (if recording). */
  private record(make: (seq: number) => DiskLogEntry, dataBytes: number): number {
    const recording = this.opts.recordLog !== false;
    if (recording && this.logDataBytes + dataBytes > FAULTY_LOG_DATA_BYTES_MAX) {
      throw new Error(`FaultyBackend: log would exceed ${FAULTY_LOG_DATA_BYTES_MAX} bytes of data; resetLog() or recordLog: false`);
    }
    const seq = this.nextSeq++;
    if (recording) {
      this.logDataBytes += dataBytes;
      this.entries.push(make(seq));
    }
    return seq;
  }

  private checkSector(sector: number, who: string): void {
    if (!Number.isSafeInteger(sector) || sector < 0 || sector >= this.sizeBytes / SECTOR_SIZE_BYTES) {
      throw new RangeError(`${who}: sector ${sector} is outside the disk`);
    }
  }

  private checkFailed(failed: Set<number>, offsetBytes: number, lengthBytes: number, op: string): void {
    if (failed.size === 0) return;
    const first = offsetBytes / SECTOR_SIZE_BYTES;
    const end = first + lengthBytes / SECTOR_SIZE_BYTES;
    for (let sector = first; sector < end; sector++) {
      if (failed.has(sector)) {
        this.stats.injectedErrors++;
        throw new DiskIoError('IOERR', offsetBytes, lengthBytes, `${op}: injected medium error at sector ${sector}`);
      }
    }
  }

  private applyFlips(offsetBytes: number, dst: Uint8Array): void {
    if (this.flips.size === 0) return;
    const first = offsetBytes / SECTOR_SIZE_BYTES;
    const end = first + dst.length / SECTOR_SIZE_BYTES;
    for (const [sector, list] of this.flips) {
      if (sector < first || sector >= end) continue;
      const sectorStart = (sector - first) * SECTOR_SIZE_BYTES;
      for (const flip of list) {
        dst[sectorStart + (flip.bitIndex >> 3)] ^= 1 << (flip.bitIndex & 7);
        this.stats.bitFlips++;
      }
      const kept = list.filter((flip) => !flip.once);
      if (kept.length === 0) this.flips.delete(sector);
      else this.flips.set(sector, kept);
    }
  }
}
