/**
 * A disk backed by a raw image file: the same bytes `dd`, `hexdump` and `qemu-img info`
 * see. Reads and writes go straight to the file with positioned I/O (node:fs readSync /
 * writeSync); `flush` is fdatasync, so a completed flush is the durability point.
 *
 * Buffers may be views over the machine's SharedArrayBuffer: node:fs reads into and
 * writes from them directly, with no copy.
 *
 * Opening:
 * - `FileBackend.open(path, { create: true, sizeBytes })` makes a NEW sparse image
 *   (ftruncate) and refuses to clobber an existing file (O_EXCL);
 * - `FileBackend.open(path)` opens an existing image, whose size must be whole sectors
 *   (and equal `sizeBytes` if given); `readOnly` opens it O_RDONLY.
 *
 * `discard` writes zeros (no fallocate in node:fs): correct, portable, not space-saving.
 * Host errors map to DiskIoError: ENOSPC/EDQUOT -> 'NOSPC', anything else -> 'IOERR'.
 */

import fs from 'node:fs';
import { FILE_ZERO_CHUNK_BYTES } from '../limits.ts';
import { checkDiskRange, checkDiskSize, checkOpen, DiskIoError } from './backend.ts';
import type { DiskBackend } from './backend.ts';

export interface FileOpenOptions {
  create?: boolean;
  sizeBytes?: number;
  readOnly?: boolean;
}

function hostError(err: unknown, offsetBytes: number, lengthBytes: number, op: string): DiskIoError {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  const kind = code === 'ENOSPC' || code === 'EDQUOT' ? 'NOSPC' : 'IOERR';
  return new DiskIoError(kind, offsetBytes, lengthBytes, `${op}: ${message}`);
}

export class FileBackend implements DiskBackend {
  readonly kind = 'file';
  private closed = false;
  private static zeros: Uint8Array | null = null;

  private constructor(
    readonly path: string,
    private readonly fd: number,
    readonly sizeBytes: number,
    readonly readOnly: boolean,
  ) {}

  static open(path: string, opts: FileOpenOptions = {}): FileBackend {
    const readOnly = opts.readOnly ?? false;
    if (opts.create) {
      if (opts.sizeBytes === undefined) throw new RangeError(`FileBackend.open(${path}): create needs sizeBytes`);
      if (readOnly) throw new RangeError(`FileBackend.open(${path}): cannot create a read-only image`);
      checkDiskSize(opts.sizeBytes, 'FileBackend.open');
      const { O_CREAT, O_EXCL, O_RDWR } = fs.constants;
      const fd = fs.openSync(path, O_CREAT | O_EXCL | O_RDWR, 0o644);
      try {
        fs.ftruncateSync(fd, opts.sizeBytes);
      } catch (err) {
        fs.closeSync(fd);
        throw err;
      }
      return new FileBackend(path, fd, opts.sizeBytes, false);
    }
    const fd = fs.openSync(path, readOnly ? fs.constants.O_RDONLY : fs.constants.O_RDWR);
    try {
      const sizeBytes = fs.fstatSync(fd).size;
      checkDiskSize(sizeBytes, `FileBackend.open(${path})`);
      if (opts.sizeBytes !== undefined && opts.sizeBytes !== sizeBytes) {
        throw new RangeError(`FileBackend.open(${path}): image is ${sizeBytes} bytes, expected ${opts.sizeBytes}`);
      }
      return new FileBackend(path, fd, sizeBytes, readOnly);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  read(offsetBytes: number, dst: Uint8Array): void {
    checkOpen(this.closed, this.kind, 'read');
    checkDiskRange(this.sizeBytes, offsetBytes, dst.length, 'read');
    let doneBytes = 0;
    while (doneBytes < dst.length) {
      let n: number;
      try {
        n = fs.readSync(this.fd, dst, doneBytes, dst.length - doneBytes, offsetBytes + doneBytes);
      } catch (err) {
        throw hostError(err, offsetBytes, dst.length, 'read');
      }
      if (n === 0) throw new DiskIoError('IOERR', offsetBytes, dst.length, `read: unexpected end of ${this.path} (did it shrink?)`);
      doneBytes += n;
    }
  }

  write(offsetBytes: number, src: Uint8Array): void {
    checkOpen(this.closed, this.kind, 'write');
    checkDiskRange(this.sizeBytes, offsetBytes, src.length, 'write');
    if (this.readOnly) throw new DiskIoError('IOERR', offsetBytes, src.length, 'write to a read-only image');
    let doneBytes = 0;
    while (doneBytes < src.length) {
      try {
        doneBytes += fs.writeSync(this.fd, src, doneBytes, src.length - doneBytes, offsetBytes + doneBytes);
      } catch (err) {
        throw hostError(err, offsetBytes, src.length, 'write');
      }
    }
  }

  flush(): void {
    checkOpen(this.closed, this.kind, 'flush');
    if (this.readOnly) return;
    try {
      fs.fdatasyncSync(this.fd);
    } catch (err) {
      throw hostError(err, 0, this.sizeBytes, 'flush');
    }
  }

  discard(offsetBytes: number, lengthBytes: number): void {
    checkOpen(this.closed, this.kind, 'discard');
    checkDiskRange(this.sizeBytes, offsetBytes, lengthBytes, 'discard');
    if (this.readOnly) throw new DiskIoError('IOERR', offsetBytes, lengthBytes, 'discard on a read-only image');
    FileBackend.zeros ??= new Uint8Array(FILE_ZERO_CHUNK_BYTES);
    for (let doneBytes = 0; doneBytes < lengthBytes; ) {
      const chunkBytes = Math.min(FILE_ZERO_CHUNK_BYTES, lengthBytes - doneBytes);
      this.write(offsetBytes + doneBytes, FileBackend.zeros.subarray(0, chunkBytes));
      doneBytes += chunkBytes;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }
}
