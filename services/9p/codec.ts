/**
 * The 9P2000.L wire codec: every message the server handles, T and R, described once as
 * a field list (MESSAGES) from which both directions are derived, so marshal and
 * unmarshal cannot disagree. Field layouts follow diod's protocol.md and Linux's
 * net/9p/protocol.c; numbers are little-endian, strings length[2]-prefixed.
 *
 * Frame: size[4] type[1] tag[2] body. `decodeMessage` checks the size field against the
 * buffer and MESSAGE_BYTES_MAX, the type against the table, every field's bounds, and
 * that no byte is left over (the one exception: Tfsync's trailing datasync[4], which
 * older clients omit). Failures are WireError or UnknownMessageError with the tag when
 * one could be read, so the server can still answer Rlerror.
 *
 * Directory entries inside Rreaddir's data are qid[13] offset[8] type[1] name[s]; see
 * writeDirent / decodeDirents.
 */
import { MESSAGE_BYTES_MAX, HEADER_BYTES, STRING_BYTES_MAX, WALK_NAMES_MAX_9P } from './limits.ts';
import { QID_BYTES, WireError, WireReader, WireWriter, wireStringBytes, type Qid } from './wire.ts';

export { WireError, type Qid } from './wire.ts';

type Kind = 'u8' | 'u16' | 'u32' | 'u64' | 'str' | 'qid' | 'strs' | 'qids' | 'data' | 'u32opt';

interface KindTypes {
  u8: number;
  u16: number;
  u32: number;
  u64: number;
  str: string;
  qid: Qid;
  strs: string[];
  qids: Qid[];
  data: Uint8Array;
  u32opt: number | undefined;
}

type Spec = readonly (readonly [string, Kind])[];

const ATTR_TIMES = [
  ['atimeSec', 'u64'], ['atimeNsec', 'u64'], ['mtimeSec', 'u64'], ['mtimeNsec', 'u64'],
] as const;

/** Every message: its type number and its fields in wire order (after size, type, tag). */
export const MESSAGES = {
  Rlerror: { type: 7, fields: [['ecode', 'u32']] },
  Tstatfs: { type: 8, fields: [['fid', 'u32']] },
  Rstatfs: {
    type: 9,
    fields: [['fsType', 'u32'], ['bsize', 'u32'], ['blocks', 'u64'], ['bfree', 'u64'], ['bavail', 'u64'], ['files', 'u64'], ['ffree', 'u64'], ['fsid', 'u64'], ['namelen', 'u32']],
  },
  Tlopen: { type: 12, fields: [['fid', 'u32'], ['flags', 'u32']] },
  Rlopen: { type: 13, fields: [['qid', 'qid'], ['iounit', 'u32']] },
  Tlcreate: { type: 14, fields: [['fid', 'u32'], ['name', 'str'], ['flags', 'u32'], ['mode', 'u32'], ['gid', 'u32']] },
  Rlcreate: { type: 15, fields: [['qid', 'qid'], ['iounit', 'u32']] },
  Tsymlink: { type: 16, fields: [['fid', 'u32'], ['name', 'str'], ['symtgt', 'str'], ['gid', 'u32']] },
  Rsymlink: { type: 17, fields: [['qid', 'qid']] },
  Tmknod: { type: 18, fields: [['dfid', 'u32'], ['name', 'str'], ['mode', 'u32'], ['major', 'u32'], ['minor', 'u32'], ['gid', 'u32']] },
  Rmknod: { type: 19, fields: [['qid', 'qid']] },
  Trename: { type: 20, fields: [['fid', 'u32'], ['dfid', 'u32'], ['name', 'str']] },
  Rrename: { type: 21, fields: [] },
  Treadlink: { type: 22, fields: [['fid', 'u32']] },
  Rreadlink: { type: 23, fields: [['target', 'str']] },
  Tgetattr: { type: 24, fields: [['fid', 'u32'], ['requestMask', 'u64']] },
  Rgetattr: {
    type: 25,
    fields: [
      ['valid', 'u64'], ['qid', 'qid'], ['mode', 'u32'], ['uid', 'u32'], ['gid', 'u32'], ['nlink', 'u64'], ['rdev', 'u64'],
      ['size', 'u64'], ['blksize', 'u64'], ['blocks', 'u64'], ...ATTR_TIMES, ['ctimeSec', 'u64'], ['ctimeNsec', 'u64'],
      ['btimeSec', 'u64'], ['btimeNsec', 'u64'], ['gen', 'u64'], ['dataVersion', 'u64'],
    ],
  },
  Tsetattr: { type: 26, fields: [['fid', 'u32'], ['valid', 'u32'], ['mode', 'u32'], ['uid', 'u32'], ['gid', 'u32'], ['size', 'u64'], ...ATTR_TIMES] },
  Rsetattr: { type: 27, fields: [] },
  Txattrwalk: { type: 30, fields: [['fid', 'u32'], ['newfid', 'u32'], ['name', 'str']] },
  Rxattrwalk: { type: 31, fields: [['size', 'u64']] },
  Txattrcreate: { type: 32, fields: [['fid', 'u32'], ['name', 'str'], ['attrSize', 'u64'], ['flags', 'u32']] },
  Rxattrcreate: { type: 33, fields: [] },
  Treaddir: { type: 40, fields: [['fid', 'u32'], ['offset', 'u64'], ['count', 'u32']] },
  Rreaddir: { type: 41, fields: [['data', 'data']] },
  Tfsync: { type: 50, fields: [['fid', 'u32'], ['datasync', 'u32opt']] },
  Rfsync: { type: 51, fields: [] },
  Tlock: { type: 52, fields: [['fid', 'u32'], ['lockType', 'u8'], ['flags', 'u32'], ['start', 'u64'], ['length', 'u64'], ['procId', 'u32'], ['clientId', 'str']] },
  Rlock: { type: 53, fields: [['status', 'u8']] },
  Tgetlock: { type: 54, fields: [['fid', 'u32'], ['lockType', 'u8'], ['start', 'u64'], ['length', 'u64'], ['procId', 'u32'], ['clientId', 'str']] },
  Rgetlock: { type: 55, fields: [['lockType', 'u8'], ['start', 'u64'], ['length', 'u64'], ['procId', 'u32'], ['clientId', 'str']] },
  Tlink: { type: 70, fields: [['dfid', 'u32'], ['fid', 'u32'], ['name', 'str']] },
  Rlink: { type: 71, fields: [] },
  Tmkdir: { type: 72, fields: [['dfid', 'u32'], ['name', 'str'], ['mode', 'u32'], ['gid', 'u32']] },
  Rmkdir: { type: 73, fields: [['qid', 'qid']] },
  Trenameat: { type: 74, fields: [['olddirfid', 'u32'], ['oldname', 'str'], ['newdirfid', 'u32'], ['newname', 'str']] },
  Rrenameat: { type: 75, fields: [] },
  Tunlinkat: { type: 76, fields: [['dirfid', 'u32'], ['name', 'str'], ['flags', 'u32']] },
  Runlinkat: { type: 77, fields: [] },
  Tversion: { type: 100, fields: [['msize', 'u32'], ['version', 'str']] },
  Rversion: { type: 101, fields: [['msize', 'u32'], ['version', 'str']] },
  Tauth: { type: 102, fields: [['afid', 'u32'], ['uname', 'str'], ['aname', 'str'], ['nUname', 'u32']] },
  Rauth: { type: 103, fields: [['aqid', 'qid']] },
  Tattach: { type: 104, fields: [['fid', 'u32'], ['afid', 'u32'], ['uname', 'str'], ['aname', 'str'], ['nUname', 'u32']] },
  Rattach: { type: 105, fields: [['qid', 'qid']] },
  Tflush: { type: 108, fields: [['oldtag', 'u16']] },
  Rflush: { type: 109, fields: [] },
  Twalk: { type: 110, fields: [['fid', 'u32'], ['newfid', 'u32'], ['wnames', 'strs']] },
  Rwalk: { type: 111, fields: [['wqids', 'qids']] },
  Tread: { type: 116, fields: [['fid', 'u32'], ['offset', 'u64'], ['count', 'u32']] },
  Rread: { type: 117, fields: [['data', 'data']] },
  Twrite: { type: 118, fields: [['fid', 'u32'], ['offset', 'u64'], ['data', 'data']] },
  Rwrite: { type: 119, fields: [['count', 'u32']] },
  Tclunk: { type: 120, fields: [['fid', 'u32']] },
  Rclunk: { type: 121, fields: [] },
  Tremove: { type: 122, fields: [['fid', 'u32']] },
  Rremove: { type: 123, fields: [] },
} as const satisfies Record<string, { type: number; fields: Spec }>;

export type MessageName = keyof typeof MESSAGES;
export type TName = Extract<MessageName, `T${string}`>;
export type RName = Extract<MessageName, `R${string}`>;
type FieldsOf<N extends MessageName> = (typeof MESSAGES)[N]['fields'][number];
/** The decoded fields of message N, keyed by field name. */
export type Body<N extends MessageName> = { [F in FieldsOf<N> as F[0]]: KindTypes[F[1]] };
/** A decoded message: name, tag and body, discriminated by name. */
export type Message = { [N in MessageName]: { name: N; tag: number; body: Body<N> } }[MessageName];
export type TMessage = Extract<Message, { name: TName }>;

export const NOTAG = 0xffff;
export const NOFID = 0xffffffff;

const NAME_BY_TYPE = new Map<number, MessageName>();
for (const [name, m] of Object.entries(MESSAGES) as [MessageName, { type: number }][]) {
  if (NAME_BY_TYPE.has(m.type)) throw new Error(`codec: type ${m.type} twice`);
  NAME_BY_TYPE.set(m.type, name);
}

/** A message whose type is not in MESSAGES; the server answers EOPNOTSUPP. */
export class UnknownMessageError extends Error {
  constructor(
    readonly type: number,
    readonly tag: number,
  ) {
    super(`no 9P2000.L message of type ${type}`);
  }
}

/** The tag of a message, when its header is there to read (for replying to a bad one). */
export function peekTag(bytes: Uint8Array): number | undefined {
  return bytes.length >= HEADER_BYTES ? bytes[5] | (bytes[6] << 8) : undefined;
}

function readField(r: WireReader, kind: Kind, what: string): KindTypes[Kind] {
  switch (kind) {
    case 'u8': return r.u8(what);
    case 'u16': return r.u16(what);
    case 'u32': return r.u32(what);
    case 'u64': return r.u64(what);
    case 'str': return r.str(STRING_BYTES_MAX, what);
    case 'qid': return r.qid(what);
    case 'u32opt': return r.remaining >= 4 ? r.u32(what) : undefined;
    case 'data': return r.bytesView(r.u32(`${what} count`), what);
    case 'strs': {
      const n = r.u16(`${what} count`);
      if (n > WALK_NAMES_MAX_9P) throw new WireError(`${what}: ${n} names (at most ${WALK_NAMES_MAX_9P})`);
      return Array.from({ length: n }, (_, i) => r.str(STRING_BYTES_MAX, `${what}[${i}]`));
    }
    case 'qids': {
      const n = r.u16(`${what} count`);
      if (n > WALK_NAMES_MAX_9P) throw new WireError(`${what}: ${n} qids (at most ${WALK_NAMES_MAX_9P})`);
      return Array.from({ length: n }, (_, i) => r.qid(`${what}[${i}]`));
    }
  }
}

function writeField(w: WireWriter, kind: Kind, value: unknown, what: string): void {
  switch (kind) {
    case 'u8': w.u8(value as number, what); return;
    case 'u16': w.u16(value as number, what); return;
    case 'u32': w.u32(value as number, what); return;
    case 'u64': w.u64(value as number, what); return;
    case 'str': w.str(value as string, what); return;
    case 'qid': w.qid(value as Qid); return;
    case 'u32opt': if (value !== undefined) w.u32(value as number, what); return;
    case 'data': w.u32((value as Uint8Array).length, `${what} count`).raw(value as Uint8Array); return;
    case 'strs': {
      const list = value as string[];
      w.u16(list.length, `${what} count`);
      for (const s of list) w.str(s, what);
      return;
    }
    case 'qids': {
      const list = value as Qid[];
      w.u16(list.length, `${what} count`);
      for (const q of list) w.qid(q);
      return;
    }
  }
}

/** Marshals one message, size field included. */
export function encodeMessage<N extends MessageName>(name: N, tag: number, body: Body<N>): Uint8Array {
  const spec = MESSAGES[name] as { type: number; fields: Spec };
  // Size the buffer for the payload up front: an Rread of 512 KiB is then one copy.
  const payload = (body as { data?: Uint8Array }).data;
  const w = new WireWriter(256 + (payload instanceof Uint8Array ? payload.length : 0));
  w.u32(0, 'size').u8(spec.type, 'type').u16(tag, 'tag');
  const fields = body as Record<string, unknown>;
  for (const [field, kind] of spec.fields) writeField(w, kind, fields[field], `${name}.${field}`);
  w.patchU32(0, w.length);
  return w.finish();
}

/** Unmarshals one whole message; throws WireError or UnknownMessageError. */
export function decodeMessage(bytes: Uint8Array): Message {
  if (bytes.length < HEADER_BYTES) throw new WireError(`message of ${bytes.length} bytes is shorter than a header`);
  const head = new WireReader(bytes);
  const size = head.u32('size');
  const type = head.u8('type');
  const tag = head.u16('tag');
  if (size < HEADER_BYTES || size > bytes.length) throw new WireError(`size field ${size} does not match the ${bytes.length} bytes received`);
  if (size > MESSAGE_BYTES_MAX) throw new WireError(`message of ${size} bytes (at most ${MESSAGE_BYTES_MAX})`);
  const name = NAME_BY_TYPE.get(type);
  if (!name) throw new UnknownMessageError(type, tag);
  const r = new WireReader(bytes.subarray(HEADER_BYTES, size));
  const body: Record<string, unknown> = {};
  for (const [field, kind] of (MESSAGES[name] as { fields: Spec }).fields) body[field] = readField(r, kind, `${name}.${field}`);
  r.end(name);
  return { name, tag, body } as Message;
}

export interface Dirent {
  qid: Qid;
  /** Offset to pass in the next Treaddir to continue after this entry. */
  offset: number;
  /** DT_* type (DT_DIR 4, DT_REG 8, DT_LNK 10). */
  type: number;
  name: string;
}

/** Bytes a directory entry takes inside Rreaddir's data. */
export function direntBytes(name: string): number {
  return QID_BYTES + 8 + 1 + wireStringBytes(name);
}

export function writeDirent(w: WireWriter, d: Dirent): void {
  w.qid(d.qid).u64(d.offset, 'dirent.offset').u8(d.type, 'dirent.type').str(d.name, 'dirent.name');
}

/** Parses Rreaddir's data (for tests and tools; the server only writes it). */
export function decodeDirents(data: Uint8Array): Dirent[] {
  const r = new WireReader(data);
  const out: Dirent[] = [];
  while (r.remaining > 0) out.push({ qid: r.qid('dirent.qid'), offset: r.u64('dirent.offset'), type: r.u8('dirent.type'), name: r.str(STRING_BYTES_MAX, 'dirent.name') });
  return out;
}
