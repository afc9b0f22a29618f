/**
 * The message codec: every payload crosses a service boundary as msgpackr bytes.
 *
 * Encoding at the boundary is what guarantees that no two services share a mutable
 * object. The packer is stateless (no shared record structures), so the same value
 * always encodes to the same bytes and a trace replays byte for byte. Binary fields
 * (Uint8Array) travel as msgpack bin; bulk data should use memory grants instead.
 *
 * Fast path. msgpackr's fixed cost per call (~150 ns to pack or unpack one small integer,
 * ~400 ns for a read request) was a large part of a small call's cost, so the common
 * shapes - plain objects and arrays of numbers, ASCII strings, booleans, null and
 * Uint8Arrays - are encoded and decoded here, byte for byte and value for value as
 * msgpackr does with these options (test/kernel/codec.test.ts checks both against it).
 * Anything else (undefined, non-ASCII strings, Maps, Dates, other typed arrays, bigints,
 * 64-bit and float32 wire types, extensions, malformed bytes) goes to msgpackr whole.
 * Encoded bytes are Buffers, as msgpackr's are, so decoded bin fields stay Buffers.
 */
import { Packr } from 'msgpackr';

const packr = new Packr({ useRecords: false, moreTypes: false, variableMapSize: true });

/** Bytes of each encode slab; a message larger than this gets a slab of its own. */
const SLAB_SIZE_BYTES = 64 * 1024;
/** Nesting the fast path follows before leaving the value to msgpackr. */
const FAST_DEPTH_MAX = 64;

let slab = Buffer.allocUnsafeSlow(SLAB_SIZE_BYTES);
let slabUsed = 0;
let out: Buffer = slab;
let at = 0;

export function encode(value: unknown): Uint8Array {
  for (;;) {
    out = slab;
    at = slabUsed;
    try {
      write(value, 0);
    } catch (e) {
      if (e === NOT_COVERED) return packr.pack(value);
      if (e !== NO_ROOM) throw e;
      // A fresh slab with room for twice what this message had asked for when it ran out.
      slab = Buffer.allocUnsafeSlow(Math.max(SLAB_SIZE_BYTES, 2 * wantedBytes));
      slabUsed = 0;
      continue;
    }
    const bytes = slab.subarray(slabUsed, at);
    slabUsed = at;
    return bytes;
  }
}

/** Decodes one message body; throws on malformed bytes (the kernel turns that into BADMSG). */
export function decode(bytes: Uint8Array): unknown {
  src = bytes;
  pos = 0;
  const value = read(0);
  const ok = pos === bytes.length;
  src = EMPTY;
  return ok ? value : packr.unpack(bytes);
}

// ---- encode ---------------------------------------------------------------------------

/** Thrown inside write: the value is not one the fast path covers (msgpackr encodes it). */
const NOT_COVERED = new Error('codec: not covered by the fast path');
/** Thrown inside write: the slab is full (encode starts again on a new one). */
const NO_ROOM = new Error('codec: slab full');

/** Bytes the message being encoded needed when the slab ran out. */
let wantedBytes = 0;

function room(n: number): void {
  if (at + n <= out.length) return;
  wantedBytes = at + n - slabUsed;
  throw NO_ROOM;
}

/** Writes `value` at `at` in `out`, or throws NOT_COVERED or NO_ROOM. */
function write(value: unknown, depth: number): void {
  switch (typeof value) {
    case 'number':
      return writeNumber(value);
    case 'boolean':
      room(1);
      out[at++] = value ? 0xc3 : 0xc2;
      return;
    case 'string':
      return writeString(value);
    case 'object': {
      if (value === null) {
        room(1);
        out[at++] = 0xc0;
        return;
      }
      if (depth >= FAST_DEPTH_MAX) throw NOT_COVERED;
      const ctor = (value as object).constructor;
      if (ctor === Object) {
        const keys = Object.keys(value as object);
        writeHeader(keys.length, 0x80, 0xde);
        for (let i = 0; i < keys.length; i++) {
          writeString(keys[i]);
          write((value as Record<string, unknown>)[keys[i]], depth + 1);
        }
      } else if (ctor === Array) {
        const list = value as unknown[];
        writeHeader(list.length, 0x90, 0xdc);
        for (let i = 0; i < list.length; i++) write(list[i], depth + 1);
      } else if (ctor === Uint8Array || ctor === Buffer) {
        const bytes = value as Uint8Array;
        const len = bytes.byteLength;
        room(len + 5);
        if (len < 0x100) {
          out[at++] = 0xc4;
          out[at++] = len;
        } else if (len < 0x10000) {
          out[at++] = 0xc5;
          out[at++] = len >> 8;
          out[at++] = len & 0xff;
        } else {
          out[at++] = 0xc6;
          writeUint32(len);
        }
        out.set(bytes, at);
        at += len;
      } else throw NOT_COVERED;
      return;
    }
    default:
      throw NOT_COVERED;
  }
}

/** fix header (fixBase | count) below 16, else 16-bit (long16) or 32-bit (long16 + 1). */
function writeHeader(count: number, fixBase: number, long16: number): void {
  room(5);
  if (count < 0x10) out[at++] = fixBase | count;
  else if (count < 0x10000) {
    out[at++] = long16;
    out[at++] = count >> 8;
    out[at++] = count & 0xff;
  } else {
    out[at++] = long16 + 1;
    writeUint32(count);
  }
}

function writeUint32(v: number): void {
  out[at++] = v >>> 24;
  out[at++] = (v >>> 16) & 0xff;
  out[at++] = (v >>> 8) & 0xff;
  out[at++] = v & 0xff;
}

function writeNumber(v: number): void {
  room(9);
  if (v >>> 0 === v) {
    if (v < 0x80) out[at++] = v;
    else if (v < 0x100) {
      out[at++] = 0xcc;
      out[at++] = v;
    } else if (v < 0x10000) {
      out[at++] = 0xcd;
      out[at++] = v >> 8;
      out[at++] = v & 0xff;
    } else {
      out[at++] = 0xce;
      writeUint32(v);
    }
  } else if (v >> 0 === v) {
    if (v >= -0x20) out[at++] = 0x100 + v;
    else if (v >= -0x80) {
      out[at++] = 0xd0;
      out[at++] = v + 0x100;
    } else if (v >= -0x8000) {
      out[at++] = 0xd1;
      out[at++] = (v >> 8) & 0xff;
      out[at++] = v & 0xff;
    } else {
      out[at++] = 0xd2;
      writeUint32(v >>> 0);
    }
  } else {
    out[at++] = 0xcb;
    out.writeDoubleBE(v, at);
    at += 8;
  }
}

function writeString(s: string): void {
  const len = s.length;
  room(len + 5);
  if (len <= 64) {
    for (let i = 0; i < len; i++) if (s.charCodeAt(i) > 0x7f) throw NOT_COVERED;
  } else if (!ASCII.test(s)) throw NOT_COVERED; // msgpackr's UTF-8 handling is its own
  if (len < 0x20) out[at++] = 0xa0 | len;
  else if (len < 0x100) {
    out[at++] = 0xd9;
    out[at++] = len;
  } else if (len < 0x10000) {
    out[at++] = 0xda;
    out[at++] = len >> 8;
    out[at++] = len & 0xff;
  } else {
    out[at++] = 0xdb;
    writeUint32(len);
  }
  if (len > 64) {
    at += out.write(s, at, len, "latin1");
    return;
  }
  for (let i = 0; i < len; i++) out[at++] = s.charCodeAt(i);
}

// ---- decode ---------------------------------------------------------------------------

const ASCII = /^[\x00-\x7f]*$/;
const EMPTY = new Uint8Array(0);
let src: Uint8Array = EMPTY;
let pos = 0;
/** Returned by `read` for anything the fast path leaves to msgpackr (then pos is set past the end). */
const GIVE_UP = Symbol('msgpackr');

function giveUp(): typeof GIVE_UP {
  pos = Infinity;
  return GIVE_UP;
}

function read(depth: number): unknown {
  if (pos >= src.length || depth > FAST_DEPTH_MAX) return giveUp();
  const t = src[pos++];
  if (t < 0x80) return t;
  if (t < 0x90) return readMap(t & 0x0f, depth);
  if (t < 0xa0) return readArray(t & 0x0f, depth);
  if (t < 0xc0) return readString(t & 0x1f);
  if (t >= 0xe0) return t - 0x100;
  switch (t) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4:
      return readBin(readUint(1));
    case 0xc5:
      return readBin(readUint(2));
    case 0xc6:
      return readBin(readUint(4));
    case 0xcb: {
      if (pos + 8 > src.length) return giveUp();
      const v = new DataView(src.buffer, src.byteOffset + pos, 8).getFloat64(0);
      pos += 8;
      return v;
    }
    case 0xcc:
      return readUint(1);
    case 0xcd:
      return readUint(2);
    case 0xce:
      return readUint(4);
    case 0xd0: {
      const v = readUint(1);
      return v > 0x7f ? v - 0x100 : v;
    }
    case 0xd1: {
      const v = readUint(2);
      return v > 0x7fff ? v - 0x10000 : v;
    }
    case 0xd2:
      return readUint(4) | 0;
    case 0xd9:
      return readString(readUint(1));
    case 0xda:
      return readString(readUint(2));
    case 0xdb:
      return readString(readUint(4));
    case 0xdc:
      return readArray(readUint(2), depth);
    case 0xdd:
      return readArray(readUint(4), depth);
    case 0xde:
      return readMap(readUint(2), depth);
    case 0xdf:
      return readMap(readUint(4), depth);
    default:
      return giveUp(); // float32, 64-bit integers, extensions, 0xc1
  }
}

/** A big-endian unsigned integer of `n` bytes (past the end: sets pos past the end too). */
function readUint(n: number): number {
  if (pos + n > src.length) {
    pos = Infinity;
    return 0;
  }
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 256 + src[pos++];
  return v;
}

function readBin(len: number): unknown {
  if (pos + len > src.length) return giveUp();
  const bytes = src.subarray(pos, pos + len);
  pos += len;
  return bytes;
}

/** Short strings (map keys, op names) seen lately, by a hash of their bytes: decoding one again makes no new string. */
const SHORT_STRING_BYTES_MAX = 24;
const SHORT_STRING_SLOTS = 4096;
const shortStrings: (string | undefined)[] = new Array<string | undefined>(SHORT_STRING_SLOTS).fill(undefined);

function readShortString(len: number): unknown {
  let h = len;
  for (let i = 0; i < len; i++) {
    const c = src[pos + i];
    if (c > 0x7f) return giveUp();
    h = (Math.imul(h, 31) + c) | 0;
  }
  const slot = h & (SHORT_STRING_SLOTS - 1);
  const cached = shortStrings[slot];
  if (cached !== undefined && cached.length === len) {
    let same = true;
    for (let i = 0; i < len && same; i++) same = cached.charCodeAt(i) === src[pos + i];
    if (same) {
      pos += len;
      return cached;
    }
  }
  let s = '';
  for (let i = 0; i < len; i++) s += String.fromCharCode(src[pos + i]);
  pos += len;
  shortStrings[slot] = s;
  return s;
}

function readShortOrLong(len: number): unknown {
  return len <= SHORT_STRING_BYTES_MAX ? readShortString(len) : readString(len);
}

function readString(len: number): unknown {
  if (pos + len > src.length) return giveUp();
  if (len <= SHORT_STRING_BYTES_MAX) return readShortString(len);
  let s = '';
  if (len <= 64) {
    for (let i = 0; i < len; i++) {
      const c = src[pos + i];
      if (c > 0x7f) return giveUp();
      s += String.fromCharCode(c);
    }
  } else {
    for (let i = 0; i < len; i++) if (src[pos + i] > 0x7f) return giveUp();
    s = Buffer.from(src.buffer, src.byteOffset + pos, len).toString('latin1');
  }
  pos += len;
  return s;
}

function readArray(count: number, depth: number): unknown {
  if (count > src.length - pos) return giveUp(); // every element takes a byte at least
  const list: unknown[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const v = read(depth + 1);
    if (v === GIVE_UP) return v;
    list[i] = v;
  }
  return list;
}

function readMap(count: number, depth: number): unknown {
  if (2 * count > src.length - pos) return giveUp();
  const object: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) {
    const t = src[pos];
    const key = t >= 0xa0 && t < 0xc0 && pos + 1 + (t & 0x1f) <= src.length ? (pos++, readShortOrLong(t & 0x1f)) : read(depth + 1);
    if (typeof key !== 'string' || key === '__proto__') return giveUp(); // msgpackr's own rules for those
    const v = read(depth + 1);
    if (v === GIVE_UP) return v;
    object[key] = v;
  }
  return object;
}
