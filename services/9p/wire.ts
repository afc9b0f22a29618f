/**
 * Bounds-checked little-endian reading and writing of 9P's wire types: integers of 1, 2,
 * 4 and 8 bytes, strings (length[2] + UTF-8, no NUL), qids (type[1] version[4] path[8])
 * and counted byte runs. The only code that touches message bytes; codec.ts builds
 * messages from these.
 *
 * Every read checks the bytes are there and every value its range; a failure is a
 * WireError (the server answers it with Rlerror EINVAL/EMSGSIZE), never a read past the
 * end or a silently wrong number. 8-byte integers are numbers and must stay below 2^53
 * (file offsets and sizes; the fs limits files to 2^50 bytes).
 */

export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

export interface Qid {
  /** QTDIR 0x80, QTSYMLINK 0x02, QTFILE 0x00. */
  type: number;
  version: number;
  path: number;
}

export const QID_BYTES = 13;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

export class WireReader {
  private at = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get offset(): number {
    return this.at;
  }
  get remaining(): number {
    return this.bytes.length - this.at;
  }

  private need(n: number, what: string): void {
    if (this.at + n > this.bytes.length) throw new WireError(`message ends inside ${what} (needs ${n} bytes at ${this.at}, has ${this.remaining})`);
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.view.getUint8(this.at++);
  }
  u16(what = 'u16'): number {
    this.need(2, what);
    const v = this.view.getUint16(this.at, true);
    this.at += 2;
    return v;
  }
  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.view.getUint32(this.at, true);
    this.at += 4;
    return v;
  }
  u64(what = 'u64'): number {
    this.need(8, what);
    const lo = this.view.getUint32(this.at, true);
    const hi = this.view.getUint32(this.at + 4, true);
    if (hi > 0x1fffff) throw new WireError(`${what} is 2^53 or more`);
    this.at += 8;
    return hi * 2 ** 32 + lo;
  }
  /** length[2] then that many bytes of UTF-8; at most `maxBytes`, no NUL. */
  str(maxBytes: number, what = 'string'): string {
    const n = this.u16(`${what} length`);
    if (n > maxBytes) throw new WireError(`${what} of ${n} bytes (at most ${maxBytes})`);
    this.need(n, what);
    const raw = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    if (raw.includes(0)) throw new WireError(`${what} contains NUL`);
    try {
      return utf8.decode(raw);
    } catch {
      throw new WireError(`${what} is not UTF-8`);
    }
  }
  qid(what = 'qid'): Qid {
    return { type: this.u8(`${what}.type`), version: this.u32(`${what}.version`), path: this.u64(`${what}.path`) };
  }
  /** `n` raw bytes, as a view (no copy). */
  bytesView(n: number, what = 'data'): Uint8Array {
    this.need(n, what);
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  /** Throws unless every byte was read. */
  end(what: string): void {
    if (this.remaining !== 0) throw new WireError(`${what}: ${this.remaining} bytes after the last field`);
  }
}

export class WireWriter {
  private buf: Uint8Array;
  private view: DataView;
  private at = 0;

  constructor(initialBytes = 256) {
    this.buf = new Uint8Array(initialBytes);
    this.view = new DataView(this.buf.buffer);
  }

  get length(): number {
    return this.at;
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.at + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.at));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  private int(v: number, max: number, what: string): void {
    if (!Number.isSafeInteger(v) || v < 0 || v > max) throw new WireError(`${what} ${v} is out of range [0, ${max}]`);
  }

  u8(v: number, what = 'u8'): this {
    this.int(v, 0xff, what);
    this.room(1);
    this.view.setUint8(this.at++, v);
    return this;
  }
  u16(v: number, what = 'u16'): this {
    this.int(v, 0xffff, what);
    this.room(2);
    this.view.setUint16(this.at, v, true);
    this.at += 2;
    return this;
  }
  u32(v: number, what = 'u32'): this {
    this.int(v, 0xffffffff, what);
    this.room(4);
    this.view.setUint32(this.at, v, true);
    this.at += 4;
    return this;
  }
  u64(v: number, what = 'u64'): this {
    this.int(v, Number.MAX_SAFE_INTEGER, what);
    this.room(8);
    this.view.setUint32(this.at, v % 2 ** 32, true);
    this.view.setUint32(this.at + 4, Math.floor(v / 2 ** 32), true);
    this.at += 8;
    return this;
  }
  str(s: string, what = 'string'): this {
    const b = encoder.encode(s);
    if (b.length > 0xffff) throw new WireError(`${what} of ${b.length} bytes does not fit length[2]`);
    this.u16(b.length, what);
    return this.raw(b);
  }
  qid(q: Qid): this {
    return this.u8(q.type, 'qid.type').u32(q.version >>> 0, 'qid.version').u64(q.path, 'qid.path');
  }
  raw(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
    return this;
  }
  /** Overwrites a u32 written earlier (the size field, a count). */
  patchU32(offset: number, v: number): void {
    this.int(v, 0xffffffff, 'patched u32');
    if (offset + 4 > this.at) throw new WireError(`patch at ${offset} is past the end`);
    this.view.setUint32(offset, v, true);
  }
  /** The bytes written, as a view of the writer's buffer (the writer must not be used after). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.at);
  }
}

/** Bytes of a string on the wire (length[2] + UTF-8). */
export function wireStringBytes(s: string): number {
  return 2 + encoder.encode(s).length;
}
