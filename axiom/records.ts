/**
 * Record types: the one place where a record type is declared, with its stable code,
 * its payload type and its validator. Later issues add a type by adding a field to
 * `RecordPayloads` and a row to `RECORD_TYPES`; codes are never reused (FORMAT.md).
 *
 * Offers: `prepareRecord(input)` turns a client's record (a typed payload, or raw msgpack
 * bytes) into a validated type code and canonical payload bytes, refusing unknown types,
 * payloads of the wrong shape (BADRECORD, naming the field), malformed msgpack
 * (BADRECORD) and oversized payloads (TOOBIG). `decodeRecordPayload` is its inverse for
 * records read back from the log.
 *
 * Invariants: a payload in the log is always the canonical encoding (kernel/codec.ts) of
 * a value its type's validator accepted; Commit and Checkpoint are written by the engine
 * only (`internal`), never proposed by clients.
 */

import { decode, encode } from '../kernel/codec.ts';
import { axiomError } from './errors.ts';
import { HASH_SIZE_BYTES, NAME_SIZE_BYTES_MAX, PAYLOAD_DEPTH_MAX, RECORD_PAYLOAD_SIZE_BYTES_MAX, TXN_RECORDS_MAX, WRITE_CHUNKS_MAX } from './limits.ts';

export interface ChunkExtent {
  hash: Uint8Array;
  offsetBytes: number;
  lengthBytes: number;
}

/** The payload type of every record type, by name. */
export interface RecordPayloads {
  Commit: { recordCount: number };
  Checkpoint: { image: unknown };
  FileCreate: { parentIno: number; ino: number; name: string; mode: number; timeMs: number };
  Write: { ino: number; offsetBytes: number; lengthBytes: number; chunks: ChunkExtent[] };
  Truncate: { ino: number; sizeBytes: number; timeMs: number };
  Rename: { fromParentIno: number; fromName: string; toParentIno: number; toName: string; timeMs: number };
  Unlink: { parentIno: number; name: string; timeMs: number };
  Mkdir: { parentIno: number; ino: number; name: string; mode: number; timeMs: number };
  Rmdir: { parentIno: number; name: string; timeMs: number };
  SetAttr: { ino: number; mode?: number; uid?: number; gid?: number; atimeMs?: number; mtimeMs?: number };
  ChunkPut: { hash: Uint8Array; blockIndex: number; blockCount: number; sizeBytes: number };
  ChunkRef: { hash: Uint8Array; delta: number };
  /** The content store's gc swept the chunk: its index entry is gone and its blocks may be freed (services/content). */
  ChunkDrop: { hash: Uint8Array };
  SnapshotCreate: { name: string; rootHash: Uint8Array; timeMs: number };
  SnapshotDelete: { name: string };
  // The filesystem's records (services/fs/records.ts says what each one means).
  FsMkdir: { parent: number; name: string; ino: number; mode: number; uid: number; gid: number; t: FsTime };
  FsCreate: { parent: number; name: string; ino: number; mode: number; uid: number; gid: number; t: FsTime };
  FsSymlink: { parent: number; name: string; ino: number; target: string; uid: number; gid: number; t: FsTime };
  FsLink: { ino: number; parent: number; name: string; t: FsTime };
  FsUnlink: { parent: number; name: string; t: FsTime };
  FsRmdir: { parent: number; name: string; t: FsTime };
  FsRename: { parent: number; name: string; newParent: number; newName: string; t: FsTime };
  FsSetAttr: { ino: number; mode?: number; uid?: number; gid?: number; atime?: FsTime; mtime?: FsTime; t: FsTime };
  FsTruncate: { ino: number; sizeBytes: number; t: FsTime };
  FsWrite: { ino: number; pages: FsPageRef[]; sizeBytes: number; t: FsTime };
  FsFree: { ino: number };
  FsSnapshotCreate: { name: string; root: Uint8Array; t: FsTime };
  FsSnapshotDelete: { name: string; t: FsTime };
  FsRestore: { name: string; t: FsTime };
  FsClone: { ino: number; parent: number; name: string; t: FsTime };
}

/** A time as [seconds, nanoseconds] since the Unix epoch. */
export type FsTime = [sec: number, nsec: number];

/** One page of a file: its chunk (null for a hole) and how many of its bytes are valid. */
export interface FsPageRef {
  index: number;
  hash: Uint8Array | null;
  lengthBytes: number;
}

export type RecordTypeName = keyof RecordPayloads;

export interface RecordTypeRow<K extends RecordTypeName = RecordTypeName> {
  readonly code: number;
  readonly name: K;
  /** Written by the engine only; a proposal naming it is refused. */
  readonly internal: boolean;
  /** Returns a fresh payload holding exactly the declared fields, or throws BADRECORD naming the field. */
  readonly validate: (value: unknown) => RecordPayloads[K];
}

// ---- field checks -------------------------------------------------------------------

type Fields = Record<string, unknown>;

function fields(type: string, value: unknown, allowed: readonly string[]): Fields {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
    throw axiomError('BADRECORD', `${type}: payload must be a map`);
  }
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw axiomError('BADRECORD', `${type}: unknown field '${key}'`);
  }
  return value as Fields;
}

function uint(type: string, f: Fields, key: string): number {
  const v = f[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw axiomError('BADRECORD', `${type}.${key} must be an unsigned safe integer`);
  return v;
}

function optUint(type: string, f: Fields, key: string): number | undefined {
  return f[key] === undefined ? undefined : uint(type, f, key);
}

function nonZeroInt(type: string, f: Fields, key: string): number {
  const v = f[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v === 0) throw axiomError('BADRECORD', `${type}.${key} must be a non-zero safe integer`);
  return v;
}

const utf8 = new TextEncoder();

function name(type: string, f: Fields, key: string): string {
  const v = f[key];
  if (typeof v !== 'string') throw axiomError('BADRECORD', `${type}.${key} must be a string`);
  const sizeBytes = utf8.encode(v).length;
  if (sizeBytes < 1 || sizeBytes > NAME_SIZE_BYTES_MAX) throw axiomError('BADRECORD', `${type}.${key} must be 1..${NAME_SIZE_BYTES_MAX} bytes of UTF-8`);
  if (v.includes('/') || v.includes('\0')) throw axiomError('BADRECORD', `${type}.${key} must not contain '/' or NUL`);
  return v;
}

function hash(type: string, f: Fields, key: string): Uint8Array {
  const v = f[key];
  if (!(v instanceof Uint8Array) || v.length !== HASH_SIZE_BYTES) throw axiomError('BADRECORD', `${type}.${key} must be ${HASH_SIZE_BYTES} bytes`);
  return Uint8Array.from(v);
}

function chunks(type: string, f: Fields, key: string): ChunkExtent[] {
  const v = f[key];
  if (!Array.isArray(v) || v.length > WRITE_CHUNKS_MAX) throw axiomError('BADRECORD', `${type}.${key} must be a list of at most ${WRITE_CHUNKS_MAX} chunks`);
  return v.map((c, i) => {
    const where = `${type}.${key}[${i}]`;
    const cf = fields(where, c, ['hash', 'offsetBytes', 'lengthBytes']);
    return { hash: hash(where, cf, 'hash'), offsetBytes: uint(where, cf, 'offsetBytes'), lengthBytes: uint(where, cf, 'lengthBytes') };
  });
}

const FS_PAGES_MAX = 1024;
const FS_PAGE_SIZE_BYTES_MAX = 1 << 20;
const FS_TARGET_SIZE_BYTES_MAX = 4096;

function fsTime(type: string, f: Fields, key: string): FsTime {
  const v = f[key];
  if (!Array.isArray(v) || v.length !== 2) throw axiomError('BADRECORD', `${type}.${key} must be [sec, nsec]`);
  const [sec, nsec] = v as unknown[];
  if (typeof sec !== 'number' || !Number.isSafeInteger(sec) || sec < 0) throw axiomError('BADRECORD', `${type}.${key}[0] must be an unsigned integer`);
  if (typeof nsec !== 'number' || !Number.isInteger(nsec) || nsec < 0 || nsec > 999_999_999) throw axiomError('BADRECORD', `${type}.${key}[1] must be 0..999999999`);
  return [sec, nsec];
}

function optFsTime(type: string, f: Fields, key: string): FsTime | undefined {
  return f[key] === undefined ? undefined : fsTime(type, f, key);
}

function fsPages(type: string, f: Fields, key: string): FsPageRef[] {
  const v = f[key];
  if (!Array.isArray(v) || v.length > FS_PAGES_MAX) throw axiomError('BADRECORD', `${type}.${key} must be a list of at most ${FS_PAGES_MAX} pages`);
  return v.map((p, i) => {
    const where = `${type}.${key}[${i}]`;
    const pf = fields(where, p, ['index', 'hash', 'lengthBytes']);
    const lengthBytes = uint(where, pf, 'lengthBytes');
    if (lengthBytes > FS_PAGE_SIZE_BYTES_MAX) throw axiomError('BADRECORD', `${where}.lengthBytes is over ${FS_PAGE_SIZE_BYTES_MAX}`);
    return { index: uint(where, pf, 'index'), hash: pf.hash === null ? null : hash(where, pf, 'hash'), lengthBytes };
  });
}

function fsTarget(type: string, f: Fields, key: string): string {
  const v = f[key];
  if (typeof v !== 'string' || v.length === 0 || v.includes('\0') || utf8.encode(v).length > FS_TARGET_SIZE_BYTES_MAX) {
    throw axiomError('BADRECORD', `${type}.${key} must be 1..${FS_TARGET_SIZE_BYTES_MAX} bytes without NUL`);
  }
  return v;
}

/** The fields shared by FsMkdir and FsCreate. */
function fsNewInode<K extends 'FsMkdir' | 'FsCreate'>(t: K, v: unknown): RecordPayloads[K] {
  const f = fields(t, v, ['parent', 'name', 'ino', 'mode', 'uid', 'gid', 't']);
  return { parent: uint(t, f, 'parent'), name: name(t, f, 'name'), ino: uint(t, f, 'ino'), mode: uint(t, f, 'mode'), uid: uint(t, f, 'uid'), gid: uint(t, f, 'gid'), t: fsTime(t, f, 't') } as RecordPayloads[K];
}

// ---- the table ----------------------------------------------------------------------

function row<K extends RecordTypeName>(code: number, name: K, validate: (value: unknown) => RecordPayloads[K], internal = false): RecordTypeRow<K> {
  return { code, name, internal, validate };
}

export const RECORD_TYPES: { readonly [K in RecordTypeName]: RecordTypeRow<K> } = {
  Commit: row(1, 'Commit', (v) => {
    const f = fields('Commit', v, ['recordCount']);
    const recordCount = uint('Commit', f, 'recordCount');
    if (recordCount < 1 || recordCount > TXN_RECORDS_MAX) throw axiomError('BADRECORD', `Commit.recordCount must be 1..${TXN_RECORDS_MAX}`);
    return { recordCount };
  }, true),
  Checkpoint: row(2, 'Checkpoint', (v) => {
    const f = fields('Checkpoint', v, ['image']);
    if (!('image' in f)) throw axiomError('BADRECORD', 'Checkpoint.image is missing');
    return { image: f.image };
  }, true),
  FileCreate: row(16, 'FileCreate', (v) => {
    const t = 'FileCreate', f = fields(t, v, ['parentIno', 'ino', 'name', 'mode', 'timeMs']);
    return { parentIno: uint(t, f, 'parentIno'), ino: uint(t, f, 'ino'), name: name(t, f, 'name'), mode: uint(t, f, 'mode'), timeMs: uint(t, f, 'timeMs') };
  }),
  Write: row(17, 'Write', (v) => {
    const t = 'Write', f = fields(t, v, ['ino', 'offsetBytes', 'lengthBytes', 'chunks']);
    return { ino: uint(t, f, 'ino'), offsetBytes: uint(t, f, 'offsetBytes'), lengthBytes: uint(t, f, 'lengthBytes'), chunks: chunks(t, f, 'chunks') };
  }),
  Truncate: row(18, 'Truncate', (v) => {
    const t = 'Truncate', f = fields(t, v, ['ino', 'sizeBytes', 'timeMs']);
    return { ino: uint(t, f, 'ino'), sizeBytes: uint(t, f, 'sizeBytes'), timeMs: uint(t, f, 'timeMs') };
  }),
  Rename: row(19, 'Rename', (v) => {
    const t = 'Rename', f = fields(t, v, ['fromParentIno', 'fromName', 'toParentIno', 'toName', 'timeMs']);
    return {
      fromParentIno: uint(t, f, 'fromParentIno'), fromName: name(t, f, 'fromName'),
      toParentIno: uint(t, f, 'toParentIno'), toName: name(t, f, 'toName'), timeMs: uint(t, f, 'timeMs'),
    };
  }),
  Unlink: row(20, 'Unlink', (v) => {
    const t = 'Unlink', f = fields(t, v, ['parentIno', 'name', 'timeMs']);
    return { parentIno: uint(t, f, 'parentIno'), name: name(t, f, 'name'), timeMs: uint(t, f, 'timeMs') };
  }),
  Mkdir: row(21, 'Mkdir', (v) => {
    const t = 'Mkdir', f = fields(t, v, ['parentIno', 'ino', 'name', 'mode', 'timeMs']);
    return { parentIno: uint(t, f, 'parentIno'), ino: uint(t, f, 'ino'), name: name(t, f, 'name'), mode: uint(t, f, 'mode'), timeMs: uint(t, f, 'timeMs') };
  }),
  Rmdir: row(22, 'Rmdir', (v) => {
    const t = 'Rmdir', f = fields(t, v, ['parentIno', 'name', 'timeMs']);
    return { parentIno: uint(t, f, 'parentIno'), name: name(t, f, 'name'), timeMs: uint(t, f, 'timeMs') };
  }),
  SetAttr: row(23, 'SetAttr', (v) => {
    const t = 'SetAttr', f = fields(t, v, ['ino', 'mode', 'uid', 'gid', 'atimeMs', 'mtimeMs']);
    const out: RecordPayloads['SetAttr'] = { ino: uint(t, f, 'ino') };
    for (const key of ['mode', 'uid', 'gid', 'atimeMs', 'mtimeMs'] as const) {
      const value = optUint(t, f, key);
      if (value !== undefined) out[key] = value;
    }
    return out;
  }),
  ChunkPut: row(32, 'ChunkPut', (v) => {
    const t = 'ChunkPut', f = fields(t, v, ['hash', 'blockIndex', 'blockCount', 'sizeBytes']);
    return { hash: hash(t, f, 'hash'), blockIndex: uint(t, f, 'blockIndex'), blockCount: uint(t, f, 'blockCount'), sizeBytes: uint(t, f, 'sizeBytes') };
  }),
  ChunkRef: row(33, 'ChunkRef', (v) => {
    const t = 'ChunkRef', f = fields(t, v, ['hash', 'delta']);
    return { hash: hash(t, f, 'hash'), delta: nonZeroInt(t, f, 'delta') };
  }),
  ChunkDrop: row(34, 'ChunkDrop', (v) => {
    const t = 'ChunkDrop', f = fields(t, v, ['hash']);
    return { hash: hash(t, f, 'hash') };
  }),
  SnapshotCreate: row(48, 'SnapshotCreate', (v) => {
    const t = 'SnapshotCreate', f = fields(t, v, ['name', 'rootHash', 'timeMs']);
    return { name: name(t, f, 'name'), rootHash: hash(t, f, 'rootHash'), timeMs: uint(t, f, 'timeMs') };
  }),
  SnapshotDelete: row(49, 'SnapshotDelete', (v) => {
    const t = 'SnapshotDelete', f = fields(t, v, ['name']);
    return { name: name(t, f, 'name') };
  }),
  FsMkdir: row(64, 'FsMkdir', (v) => fsNewInode('FsMkdir', v)),
  FsCreate: row(65, 'FsCreate', (v) => fsNewInode('FsCreate', v)),
  FsSymlink: row(66, 'FsSymlink', (v) => {
    const t = 'FsSymlink', f = fields(t, v, ['parent', 'name', 'ino', 'target', 'uid', 'gid', 't']);
    return { parent: uint(t, f, 'parent'), name: name(t, f, 'name'), ino: uint(t, f, 'ino'), target: fsTarget(t, f, 'target'), uid: uint(t, f, 'uid'), gid: uint(t, f, 'gid'), t: fsTime(t, f, 't') };
  }),
  FsLink: row(67, 'FsLink', (v) => {
    const t = 'FsLink', f = fields(t, v, ['ino', 'parent', 'name', 't']);
    return { ino: uint(t, f, 'ino'), parent: uint(t, f, 'parent'), name: name(t, f, 'name'), t: fsTime(t, f, 't') };
  }),
  FsUnlink: row(68, 'FsUnlink', (v) => {
    const t = 'FsUnlink', f = fields(t, v, ['parent', 'name', 't']);
    return { parent: uint(t, f, 'parent'), name: name(t, f, 'name'), t: fsTime(t, f, 't') };
  }),
  FsRmdir: row(69, 'FsRmdir', (v) => {
    const t = 'FsRmdir', f = fields(t, v, ['parent', 'name', 't']);
    return { parent: uint(t, f, 'parent'), name: name(t, f, 'name'), t: fsTime(t, f, 't') };
  }),
  FsRename: row(70, 'FsRename', (v) => {
    const t = 'FsRename', f = fields(t, v, ['parent', 'name', 'newParent', 'newName', 't']);
    return { parent: uint(t, f, 'parent'), name: name(t, f, 'name'), newParent: uint(t, f, 'newParent'), newName: name(t, f, 'newName'), t: fsTime(t, f, 't') };
  }),
  FsSetAttr: row(71, 'FsSetAttr', (v) => {
    const t = 'FsSetAttr', f = fields(t, v, ['ino', 'mode', 'uid', 'gid', 'atime', 'mtime', 't']);
    const out: RecordPayloads['FsSetAttr'] = { ino: uint(t, f, 'ino'), t: fsTime(t, f, 't') };
    for (const key of ['mode', 'uid', 'gid'] as const) {
      const value = optUint(t, f, key);
      if (value !== undefined) out[key] = value;
    }
    const atime = optFsTime(t, f, 'atime');
    if (atime) out.atime = atime;
    const mtime = optFsTime(t, f, 'mtime');
    if (mtime) out.mtime = mtime;
    return out;
  }),
  FsTruncate: row(72, 'FsTruncate', (v) => {
    const t = 'FsTruncate', f = fields(t, v, ['ino', 'sizeBytes', 't']);
    return { ino: uint(t, f, 'ino'), sizeBytes: uint(t, f, 'sizeBytes'), t: fsTime(t, f, 't') };
  }),
  FsWrite: row(73, 'FsWrite', (v) => {
    const t = 'FsWrite', f = fields(t, v, ['ino', 'pages', 'sizeBytes', 't']);
    return { ino: uint(t, f, 'ino'), pages: fsPages(t, f, 'pages'), sizeBytes: uint(t, f, 'sizeBytes'), t: fsTime(t, f, 't') };
  }),
  FsFree: row(74, 'FsFree', (v) => {
    const t = 'FsFree', f = fields(t, v, ['ino']);
    return { ino: uint(t, f, 'ino') };
  }),
  FsSnapshotCreate: row(75, 'FsSnapshotCreate', (v) => {
    const t = 'FsSnapshotCreate', f = fields(t, v, ['name', 'root', 't']);
    return { name: name(t, f, 'name'), root: hash(t, f, 'root'), t: fsTime(t, f, 't') };
  }),
  FsSnapshotDelete: row(76, 'FsSnapshotDelete', (v) => {
    const t = 'FsSnapshotDelete', f = fields(t, v, ['name', 't']);
    return { name: name(t, f, 'name'), t: fsTime(t, f, 't') };
  }),
  FsRestore: row(77, 'FsRestore', (v) => {
    const t = 'FsRestore', f = fields(t, v, ['name', 't']);
    return { name: name(t, f, 'name'), t: fsTime(t, f, 't') };
  }),
  FsClone: row(78, 'FsClone', (v) => {
    const t = 'FsClone', f = fields(t, v, ['ino', 'parent', 'name', 't']);
    return { ino: uint(t, f, 'ino'), parent: uint(t, f, 'parent'), name: name(t, f, 'name'), t: fsTime(t, f, 't') };
  }),
};

const byCode = new Map<number, RecordTypeRow>();
const byName = new Map<string, RecordTypeRow>();
for (const r of Object.values(RECORD_TYPES) as RecordTypeRow[]) {
  if (!Number.isInteger(r.code) || r.code < 1 || r.code > 0xffff || byCode.has(r.code)) throw new Error(`axiom/records.ts: bad or duplicate code ${r.code}`);
  byCode.set(r.code, r);
  byName.set(r.name, r);
}

export const COMMIT_CODE = RECORD_TYPES.Commit.code;
export const CHECKPOINT_CODE = RECORD_TYPES.Checkpoint.code;

export function recordTypeByCode(code: number): RecordTypeRow | undefined {
  return byCode.get(code);
}

export function recordTypeByName(name: string): RecordTypeRow | undefined {
  return byName.get(name);
}

// ---- preparing and decoding ---------------------------------------------------------

/** A record as a client proposes it: a payload value, or its msgpack bytes. */
export interface RecordInput {
  type: string;
  payload?: unknown;
  payloadBytes?: Uint8Array;
}

/** A typed record input (compile-time help for callers inside the project). */
export function rec<K extends RecordTypeName>(type: K, payload: RecordPayloads[K]): RecordInput {
  return { type, payload };
}

export interface PreparedRecord {
  readonly code: number;
  readonly payloadBytes: Uint8Array;
}

/** A committed record as readers see it; `hash` is its chain hash (FORMAT.md). */
export type LogRecord = {
  [K in RecordTypeName]: { seq: number; txid: number; type: K; payload: RecordPayloads[K]; hash: Uint8Array };
}[RecordTypeName];

/** Throws BADRECORD unless `value` is made only of msgpack's plain kinds, at most PAYLOAD_DEPTH_MAX deep. */
export function checkPlainValue(value: unknown, where: string, depth = 0): void {
  if (depth > PAYLOAD_DEPTH_MAX) throw axiomError('BADRECORD', `${where}: nested deeper than ${PAYLOAD_DEPTH_MAX}`);
  if (value === null || typeof value === 'string' || typeof value === 'boolean' || value instanceof Uint8Array) return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw axiomError('BADRECORD', `${where}: numbers must be finite`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkPlainValue(v, `${where}[${i}]`, depth + 1));
    return;
  }
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) throw axiomError('BADRECORD', `${where}: not a plain msgpack value`);
    for (const [k, v] of Object.entries(value)) checkPlainValue(v, `${where}.${k}`, depth + 1);
    return;
  }
  throw axiomError('BADRECORD', `${where}: a ${typeof value} is not a msgpack value`);
}

/** Validates a payload value for `row` and returns its canonical bytes (TOOBIG past `sizeBytesMax`). */
export function encodePayload(row: RecordTypeRow, payload: unknown, sizeBytesMax = RECORD_PAYLOAD_SIZE_BYTES_MAX): Uint8Array {
  checkPlainValue(payload, row.name);
  const value = row.validate(payload);
  const bytes = encode(value);
  if (bytes.length > sizeBytesMax) throw axiomError('TOOBIG', `${row.name}: payload of ${bytes.length} bytes exceeds ${sizeBytesMax}`);
  return bytes;
}

/** Validates a client's record; the result is ready to be framed. */
export function prepareRecord(input: unknown, index = 0): PreparedRecord {
  const where = `record ${index}`;
  if (input === null || typeof input !== 'object') throw axiomError('BADRECORD', `${where}: must be a map {type, payload}`);
  const { type, payload, payloadBytes } = input as RecordInput;
  if (typeof type !== 'string') throw axiomError('BADRECORD', `${where}: type must be a string`);
  const row = recordTypeByName(type);
  if (row === undefined) throw axiomError('BADRECORD', `${where}: unknown record type '${type.slice(0, 64)}'`);
  if (row.internal) throw axiomError('BADRECORD', `${where}: ${type} records are written by Axiom only`);
  if ((payload === undefined) === (payloadBytes === undefined)) throw axiomError('BADRECORD', `${where}: give exactly one of payload and payloadBytes`);
  let value = payload;
  if (payloadBytes !== undefined) {
    if (!(payloadBytes instanceof Uint8Array)) throw axiomError('BADRECORD', `${where}: payloadBytes must be bytes`);
    if (payloadBytes.length > RECORD_PAYLOAD_SIZE_BYTES_MAX) throw axiomError('TOOBIG', `${where}: payload of ${payloadBytes.length} bytes exceeds ${RECORD_PAYLOAD_SIZE_BYTES_MAX}`);
    try {
      value = decode(payloadBytes);
    } catch (e) {
      throw axiomError('BADRECORD', `${where}: malformed msgpack payload (${(e as Error).message})`);
    }
  }
  return { code: row.code, payloadBytes: encodePayload(row, value) };
}

/** Decodes and re-validates a payload read back from the log (a failure is corruption). */
export function decodeRecordPayload(code: number, payloadBytes: Uint8Array, seq: number): { type: RecordTypeName; payload: unknown } {
  const row = recordTypeByCode(code);
  if (row === undefined) throw axiomError('CORRUPT', `record ${seq}: unknown type code ${code}`);
  let value: unknown;
  try {
    value = decode(payloadBytes);
  } catch (e) {
    throw axiomError('CORRUPT', `record ${seq}: payload is not msgpack (${(e as Error).message})`);
  }
  try {
    return { type: row.name, payload: row.validate(value) };
  } catch (e) {
    throw axiomError('CORRUPT', `record ${seq}: ${(e as Error).message}`);
  }
}
