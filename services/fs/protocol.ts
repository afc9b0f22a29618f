/**
 * The filesystem service's protocol: message shapes, validation, and a typed client.
 * This file is all another service (the 9P server, the shell, tools) may import from
 * services/fs.
 *
 * Designed to map one to one onto 9P2000.L: walk/lookup (Twalk), getattr/setattr,
 * open (Tlopen) and create (Tlcreate) returning a handle, read/write at an offset on a
 * handle, readdir with cookies (Treaddir offsets), mkdir, symlink, readlink, link,
 * rename (Trenameat), unlink/rmdir (Tunlinkat), fsync, statfs, close (Tclunk).
 * Inode numbers are qid paths; `dataVersion` is the qid version.
 *
 * Errors are values with POSIX errno names as codes (ENOENT, EEXIST, ENOTDIR, EISDIR,
 * ENOTEMPTY, ENOSPC, EINVAL, ENAMETOOLONG, EXDEV, ELOOP, EBADF, EIO, ESTALE, EPERM,
 * EFBIG, EROFS), so the 9P server can hand them to Linux unchanged.
 *
 * Names: 1..NAME_LENGTH_BYTES_MAX bytes of UTF-8, no '/', no NUL, not '.' or '..'
 * (which walk and lookup resolve instead). Times are {sec, nsec} since the Unix epoch.
 *
 * Replies: getattr, setattr, lookup, resolve, mkdir, link, symlink, truncate -> Attr;
 * walk -> WalkResult; create -> {attr, handle}; open -> {handle, attr};
 * read -> {data}; write -> {countBytes}; readdir -> {entries, eof} (no '.' or '..');
 * readInto -> {countBytes}; writeFrom -> {countBytes};
 * readlink -> {target}; statfs -> StatFs; close, fsync, rmdir, unlink, rename, sync -> {}.
 *
 * By grant (bulk data without copies in messages): writeFrom {handle, offsetBytes, from}
 * writes the bytes of `from`, segments of memory the caller lent the fs endpoint (at least
 * 'r'), read in order as one stream; readInto {handle, offsetBytes, lengthBytes, into}
 * fills `into` (lent with 'w', at least lengthBytes in all) in order with what read would
 * reply, and replies with the count (short at the end of the file). Both take at most
 * GRANT_SEGMENTS_MAX segments and IO_SIZE_BYTES_MAX bytes; the caller must leave the
 * segments alone until the reply. A grant the fs does not hold, with too few rights, or a
 * segment past its bounds is refused with the kernel's GRANT error (the kernel counts the
 * fault). FsClient.read / write go by grant on their own from GRANT_IO_BYTES_MIN up,
 * through staging the client allocates once and reuses, when its context can lend memory.
 *
 * Admin ops (not for the 9P server): checkpoint -> {} (commits buffered data, then records
 * a checkpoint: mount replays only what follows it); stats -> the engine's counters;
 * mountReport -> what the last mount replayed; liveChunks -> {hashes} the live tree and
 * every snapshot reach; gc -> the content store's GcReport, marked from those roots.
 *
 * Snapshots (services/fs/snapshots.ts; names as entry names: no '/', EINVAL):
 *   snapshotCreate {name} -> SnapshotInfo   buffered data committed, the tree materialised,
 *                                           EEXIST if the name is taken
 *   snapshotList -> {snapshots: SnapshotInfo[]}  oldest first
 *   snapshotDelete {name} -> {}             ENOENT if unknown; GC may then reclaim what only it held
 *   snapshotRestore {name} -> {saved}       the live tree becomes the snapshot's, atomically; the
 *                                           tree it replaced is kept as snapshot `saved`
 *                                           ('pre-restore-N'); paths it leaves unchanged keep
 *                                           their inodes and handles, the others get new inodes
 *                                           (a handle on a removed or replaced file: ESTALE)
 *   snapshotDiff {from, to?} -> {entries: DiffEntry[], truncated}  `to` absent: the live tree
 *   clone {ino, parent, name} -> Attr       a copy of a file or directory tree sharing its chunks
 *
 * Semantics (POSIX, Linux flavour where POSIX leaves a choice): unlink of a directory is
 * EISDIR; link to a directory is EPERM; rename replaces a file with a file and an empty
 * directory with a directory, refuses a directory into its own subtree (EINVAL), and is a
 * no-op when both names are links to one inode; an unlinked file stays readable and
 * writable through open handles until the last one closes, while a removed directory is
 * gone at once (later calls naming its inode, through a handle or not, get ESTALE).
 */
import { ServiceError } from '../../kernel/errors.ts';
import type { ServiceContext } from '../../kernel/service.ts';
import type { Region } from '../../kernel/memory.ts';
import type { Segment } from '../content/protocol.ts';
import { CLIENT_STAGING_SLOTS_MAX, FILE_SIZE_BYTES_MAX, GRANT_IO_BYTES_MIN, GRANT_SEGMENTS_MAX, IO_SIZE_BYTES_MAX } from './limits.ts';

export { FILE_SIZE_BYTES_MAX, IO_SIZE_BYTES_MAX, GRANT_IO_BYTES_MIN, GRANT_SEGMENTS_MAX } from './limits.ts';
export type { Segment } from '../content/protocol.ts';

export const FS_ENDPOINT = 'fs';

export const NAME_LENGTH_BYTES_MAX = 255;
export const PATH_LENGTH_BYTES_MAX = 4096;
export const SYMLINK_FOLLOW_MAX = 40;
export const READDIR_ENTRIES_MAX = 4096;
export const WALK_NAMES_MAX = 16; // as 9P's MAXWELEM

export type Errno =
  | 'ENOENT'
  | 'EEXIST'
  | 'ENOTDIR'
  | 'EISDIR'
  | 'ENOTEMPTY'
  | 'ENOSPC'
  | 'EINVAL'
  | 'ENAMETOOLONG'
  | 'EXDEV'
  | 'ELOOP'
  | 'EBADF'
  | 'EIO'
  | 'ESTALE'
  | 'EPERM'
  | 'EFBIG'
  | 'EROFS'
  | 'EMFILE';

export function fsError(code: Errno, message: string): ServiceError {
  return new ServiceError(code, message);
}

export type FileType = 'file' | 'dir' | 'symlink';

export interface Timespec {
  sec: number;
  nsec: number;
}

export interface Attr {
  ino: number;
  type: FileType;
  /** Permission bits (0o7777); the type is in `type`. */
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  sizeBytes: number;
  /** Space used, in 512-byte units (as stat's st_blocks). */
  blockCount: number;
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
  /** Bumps on every change of content (the 9P qid version). */
  dataVersion: number;
}

export interface DirEntry {
  name: string;
  ino: number;
  type: FileType;
  /** Pass back as `cookie` to continue after this entry. */
  cookie: number;
}

export interface OpenFlags {
  read?: boolean;
  write?: boolean;
  append?: boolean;
  truncate?: boolean;
}

export interface SetAttr {
  mode?: number;
  uid?: number;
  gid?: number;
  sizeBytes?: number;
  atime?: Timespec | 'now';
  mtime?: Timespec | 'now';
}

export interface StatFs {
  blockSizeBytes: number;
  blockCount: number;
  blocksFree: number;
  fileCount: number;
  filesFree: number;
  nameLengthMax: number;
}

export interface WalkResult {
  /** Attributes of each name walked, in order; shorter than `names` if a step failed. */
  attrs: Attr[];
  /** Why the walk stopped early (absent when every name was walked). */
  error?: { code: Errno; message: string };
}

/** Every request, tagged by op. `ino` values come from earlier replies; ROOT_INO is the root. */
export type FsRequest =
  | { op: 'getattr'; ino: number }
  | { op: 'setattr'; ino: number; set: SetAttr }
  | { op: 'lookup'; parent: number; name: string }
  | { op: 'walk'; ino: number; names: string[] }
  | { op: 'resolve'; path: string; followLast?: boolean }
  | { op: 'create'; parent: number; name: string; mode: number; uid?: number; gid?: number; flags?: OpenFlags }
  | { op: 'open'; ino: number; flags: OpenFlags }
  | { op: 'close'; handle: number }
  | { op: 'read'; handle: number; offsetBytes: number; lengthBytes: number }
  | { op: 'write'; handle: number; offsetBytes: number; data: Uint8Array }
  | { op: 'readInto'; handle: number; offsetBytes: number; lengthBytes: number; into: Segment[] }
  | { op: 'writeFrom'; handle: number; offsetBytes: number; from: Segment[] }
  | { op: 'truncate'; ino: number; sizeBytes: number }
  | { op: 'fsync'; handle: number }
  | { op: 'mkdir'; parent: number; name: string; mode: number; uid?: number; gid?: number }
  | { op: 'rmdir'; parent: number; name: string }
  | { op: 'unlink'; parent: number; name: string }
  | { op: 'readdir'; ino: number; cookie: number; limit: number }
  | { op: 'rename'; parent: number; name: string; newParent: number; newName: string }
  | { op: 'link'; ino: number; parent: number; name: string }
  | { op: 'symlink'; parent: number; name: string; target: string; uid?: number; gid?: number }
  | { op: 'readlink'; ino: number }
  | { op: 'statfs' }
  | { op: 'sync' }
  | { op: 'snapshotCreate'; name: string }
  | { op: 'snapshotList' }
  | { op: 'snapshotDelete'; name: string }
  | { op: 'snapshotRestore'; name: string }
  | { op: 'snapshotDiff'; from: string; to?: string }
  | { op: 'clone'; ino: number; parent: number; name: string };

/** A snapshot as snapshotCreate and snapshotList describe it. */
export interface SnapshotInfo {
  name: string;
  /** BLAKE3 of the root directory's tree object, hex. */
  rootHash: string;
  time: Timespec;
  /** Axiom sequence number of its FsSnapshotCreate record (absent only for a snapshot a checkpoint image recorded before images carried it). */
  seq?: number;
  fileCount: number;
  dirCount: number;
  /** Logical bytes of its files. */
  sizeBytes: number;
  /** Bytes of page chunks that neither the live tree nor another snapshot reaches (snapshotList only; 0 in snapshotCreate's reply, which must not cost the tree). */
  exclusiveBytes: number;
}

export interface DiffEntry {
  /** For 'renamed', the new path. */
  path: string;
  /** 'renamed': a removed path and an added one whose objects are alike, times aside (snapshot-diff.ts). */
  change: 'added' | 'removed' | 'modified' | 'type' | 'renamed';
  /** 'renamed' only: the old path. */
  from?: string;
  type: FileType;
  sizeBytesBefore?: number;
  sizeBytesAfter?: number;
  what?: ('content' | 'size' | 'mode' | 'owner' | 'target')[];
}

export type FsOp = FsRequest['op'];

export const ROOT_INO = 1;

// ---- validation ------------------------------------------------------------------------

function bad(what: string): never {
  throw new ServiceError('EINVAL', what);
}

function uint(v: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) bad(`${what} must be an integer in [0, ${max}]`);
  return v;
}

function bool(v: unknown, what: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') bad(`${what} must be a boolean`);
  return v;
}

const encoder = new TextEncoder();

/** Checks a directory entry name; EINVAL or ENAMETOOLONG naming the problem. */
export function checkName(v: unknown, what = 'name'): string {
  if (typeof v !== 'string') bad(`${what} must be a string`);
  if (v.length === 0) bad(`${what} is empty`);
  if (v === '.' || v === '..') bad(`${what} may not be '.' or '..'`);
  if (v.includes('/')) bad(`${what} contains '/'`);
  if (v.includes('\0')) bad(`${what} contains NUL`);
  if (encoder.encode(v).length > NAME_LENGTH_BYTES_MAX) throw new ServiceError('ENAMETOOLONG', `${what} is longer than ${NAME_LENGTH_BYTES_MAX} bytes`);
  return v;
}

/** Like checkName, but '.' and '..' are allowed (walk and lookup resolve them). */
function walkName(v: unknown, what: string): string {
  if (v === '.' || v === '..') return v;
  return checkName(v, what);
}

function time(v: unknown, what: string): Timespec | 'now' | undefined {
  if (v === undefined || v === 'now') return v;
  const t = v as Timespec;
  if (!t || typeof t !== 'object') bad(`${what} must be {sec, nsec} or 'now'`);
  return { sec: uint(t.sec, `${what}.sec`), nsec: uint(t.nsec, `${what}.nsec`, 999_999_999) };
}

function flags(v: unknown): OpenFlags {
  const f = (v ?? {}) as Record<string, unknown>;
  if (typeof f !== 'object') bad('flags must be a map');
  return { read: bool(f.read, 'flags.read'), write: bool(f.write, 'flags.write'), append: bool(f.append, 'flags.append'), truncate: bool(f.truncate, 'flags.truncate') };
}

function owner(b: Record<string, unknown>): { uid?: number; gid?: number } {
  return { uid: b.uid === undefined ? undefined : uint(b.uid, 'uid', 0xffffffff), gid: b.gid === undefined ? undefined : uint(b.gid, 'gid', 0xffffffff) };
}

/** Checks a segment list: 1..GRANT_SEGMENTS_MAX segments of at least one byte, IO_SIZE_BYTES_MAX in all; returns it and its total. */
function segments(v: unknown, what: string): { list: Segment[]; totalBytes: number } {
  if (!Array.isArray(v) || v.length === 0 || v.length > GRANT_SEGMENTS_MAX) bad(`${what} must be a list of 1..${GRANT_SEGMENTS_MAX} segments`);
  let totalBytes = 0;
  const list = v.map((x: unknown, i: number) => {
    const seg = x as Record<string, unknown>;
    if (!seg || typeof seg !== 'object' || Array.isArray(seg)) bad(`${what}[${i}] must be {grantId, offsetBytes, lengthBytes}`);
    const lengthBytes = uint(seg.lengthBytes, `${what}[${i}].lengthBytes`, IO_SIZE_BYTES_MAX);
    if (lengthBytes === 0) bad(`${what}[${i}].lengthBytes must be at least 1`);
    totalBytes += lengthBytes;
    return { grantId: uint(seg.grantId, `${what}[${i}].grantId`), offsetBytes: uint(seg.offsetBytes, `${what}[${i}].offsetBytes`), lengthBytes };
  });
  if (totalBytes > IO_SIZE_BYTES_MAX) bad(`${what} holds ${totalBytes} bytes, more than ${IO_SIZE_BYTES_MAX}`);
  return { list, totalBytes };
}

/** Validates a request body for `op`; throws EINVAL (or ENAMETOOLONG) naming the field. */
export function parseFsRequest(op: string, body: unknown): FsRequest {
  const b = (body ?? {}) as Record<string, unknown>;
  if (typeof b !== 'object' || Array.isArray(b)) bad(`${op}: body must be a map`);
  switch (op) {
    case 'getattr':
    case 'readlink':
      return { op, ino: uint(b.ino, 'ino') };
    case 'setattr': {
      const s = (b.set ?? {}) as Record<string, unknown>;
      if (typeof s !== 'object') bad('set must be a map');
      const set: SetAttr = {};
      if (s.mode !== undefined) set.mode = uint(s.mode, 'set.mode', 0o7777);
      if (s.uid !== undefined) set.uid = uint(s.uid, 'set.uid', 0xffffffff);
      if (s.gid !== undefined) set.gid = uint(s.gid, 'set.gid', 0xffffffff);
      if (s.sizeBytes !== undefined) set.sizeBytes = uint(s.sizeBytes, 'set.sizeBytes');
      if (s.atime !== undefined) set.atime = time(s.atime, 'set.atime');
      if (s.mtime !== undefined) set.mtime = time(s.mtime, 'set.mtime');
      return { op, ino: uint(b.ino, 'ino'), set };
    }
    case 'lookup':
      return { op, parent: uint(b.parent, 'parent'), name: walkName(b.name, 'name') };
    case 'walk': {
      if (!Array.isArray(b.names) || b.names.length > WALK_NAMES_MAX) bad(`names must be an array of at most ${WALK_NAMES_MAX}`);
      return { op, ino: uint(b.ino, 'ino'), names: b.names.map((n, i) => walkName(n, `names[${i}]`)) };
    }
    case 'resolve': {
      if (typeof b.path !== 'string' || b.path.length === 0) bad('path must be a non-empty string');
      if (encoder.encode(b.path).length > PATH_LENGTH_BYTES_MAX) throw new ServiceError('ENAMETOOLONG', `path is longer than ${PATH_LENGTH_BYTES_MAX} bytes`);
      if (b.path.includes('\0')) bad('path contains NUL');
      return { op, path: b.path, followLast: bool(b.followLast, 'followLast') };
    }
    case 'create':
      // Without flags a create opens for reading and writing, as creat(2) opens for writing.
      return { op, parent: uint(b.parent, 'parent'), name: checkName(b.name), mode: uint(b.mode, 'mode', 0o7777), ...owner(b), flags: b.flags === undefined ? { read: true, write: true } : flags(b.flags) };
    case 'open':
      return { op, ino: uint(b.ino, 'ino'), flags: flags(b.flags) };
    case 'close':
    case 'fsync':
      return { op, handle: uint(b.handle, 'handle') };
    case 'read':
      return { op, handle: uint(b.handle, 'handle'), offsetBytes: uint(b.offsetBytes, 'offsetBytes'), lengthBytes: uint(b.lengthBytes, 'lengthBytes', IO_SIZE_BYTES_MAX) };
    case 'write': {
      if (!(b.data instanceof Uint8Array)) bad('data must be bytes');
      if (b.data.length > IO_SIZE_BYTES_MAX) bad(`data is larger than ${IO_SIZE_BYTES_MAX} bytes`);
      return { op, handle: uint(b.handle, 'handle'), offsetBytes: uint(b.offsetBytes, 'offsetBytes'), data: b.data };
    }
    case 'readInto': {
      const lengthBytes = uint(b.lengthBytes, 'lengthBytes', IO_SIZE_BYTES_MAX);
      const into = segments(b.into, 'into');
      if (into.totalBytes < lengthBytes) bad(`into holds ${into.totalBytes} bytes, less than lengthBytes ${lengthBytes}`);
      return { op, handle: uint(b.handle, 'handle'), offsetBytes: uint(b.offsetBytes, 'offsetBytes'), lengthBytes, into: into.list };
    }
    case 'writeFrom':
      return { op, handle: uint(b.handle, 'handle'), offsetBytes: uint(b.offsetBytes, 'offsetBytes'), from: segments(b.from, 'from').list };
    case 'truncate':
      return { op, ino: uint(b.ino, 'ino'), sizeBytes: uint(b.sizeBytes, 'sizeBytes') };
    case 'mkdir':
      return { op, parent: uint(b.parent, 'parent'), name: checkName(b.name), mode: uint(b.mode, 'mode', 0o7777), ...owner(b) };
    case 'rmdir':
    case 'unlink':
      return { op, parent: uint(b.parent, 'parent'), name: checkName(b.name) };
    case 'readdir':
      return { op, ino: uint(b.ino, 'ino'), cookie: uint(b.cookie, 'cookie'), limit: uint(b.limit, 'limit', READDIR_ENTRIES_MAX) };
    case 'rename':
      return { op, parent: uint(b.parent, 'parent'), name: checkName(b.name), newParent: uint(b.newParent, 'newParent'), newName: checkName(b.newName, 'newName') };
    case 'link':
      return { op, ino: uint(b.ino, 'ino'), parent: uint(b.parent, 'parent'), name: checkName(b.name) };
    case 'symlink': {
      if (typeof b.target !== 'string' || b.target.length === 0) bad('target must be a non-empty string');
      if (b.target.includes('\0')) bad('target contains NUL');
      if (encoder.encode(b.target).length > PATH_LENGTH_BYTES_MAX) throw new ServiceError('ENAMETOOLONG', 'target is too long');
      return { op, parent: uint(b.parent, 'parent'), name: checkName(b.name), target: b.target, ...owner(b) };
    }
    case 'statfs':
    case 'sync':
    case 'snapshotList':
      return { op };
    case 'snapshotCreate':
    case 'snapshotDelete':
    case 'snapshotRestore':
      return { op, name: checkName(b.name) };
    case 'snapshotDiff':
      return { op, from: checkName(b.from, 'from'), to: b.to === undefined ? undefined : checkName(b.to, 'to') };
    case 'clone':
      return { op, ino: uint(b.ino, 'ino'), parent: uint(b.parent, 'parent'), name: checkName(b.name) };
    default:
      throw new ServiceError('BADOP', `fs has no op '${op}'`);
  }
}

// ---- client ----------------------------------------------------------------------------

/** What the client needs of its context: calls, and memory to lend for the by-grant paths (without it every read and write is inline). */
export type FsCaller = Pick<ServiceContext, 'call'> & Partial<Pick<ServiceContext, 'memory'>>;

interface StagingSlot {
  region: Region;
  /** The whole slot, IO_SIZE_BYTES_MAX bytes, lent 'rw' to the fs endpoint as `grantId`. */
  view: Uint8Array;
  grantId: number;
}

/**
 * The client's staging: up to CLIENT_STAGING_SLOTS_MAX slots of IO_SIZE_BYTES_MAX bytes,
 * each a region allocated and lent to the fs endpoint the first time a call needs it and
 * reused after. A slot serves one call at a time; a call that finds none free (all busy at
 * the limit, or memory not to be had) goes inline. After an allocation or grant fails the
 * client allocates no more slots; once the server shows it does not serve data by grant
 * (BADOP) it uses none.
 */
class ClientStaging {
  private readonly idle: StagingSlot[] = [];
  private slotCount = 0;
  /** No more slots will be allocated (an allocation or grant failed); idle ones are still used. */
  private cannotGrow = false;
  /** The server does not take data by grant: no slot is used again. */
  private disabled = false;

  constructor(
    private readonly memory: NonNullable<FsCaller['memory']>,
    private readonly endpoint: string,
  ) {}

  take(): StagingSlot | undefined {
    if (this.disabled) return undefined;
    const idle = this.idle.pop();
    if (idle) return idle;
    if (this.cannotGrow || this.slotCount >= CLIENT_STAGING_SLOTS_MAX) return undefined;
    let region: Region | undefined;
    try {
      region = this.memory.alloc(IO_SIZE_BYTES_MAX);
      const grantId = this.memory.grant(region, this.endpoint, 'rw');
      this.slotCount++;
      return { region, view: this.memory.view(region, 0, IO_SIZE_BYTES_MAX), grantId };
    } catch (e) {
      if (!(e instanceof ServiceError)) throw e;
      if (region) this.memory.free(region);
      this.cannotGrow = true; // NOMEM, NOCAP, a kernel without grants: no more slots
      return undefined;
    }
  }

  give(slot: StagingSlot): void {
    if (slot.view.length !== IO_SIZE_BYTES_MAX) throw new Error('fs client: a staging slot came back resized');
    if (this.disabled) this.discard(slot);
    else this.idle.push(slot);
  }

  /** A slot whose grant the fs no longer holds (it restarted: the kernel dropped its grants): freed, not reused. */
  discard(slot: StagingSlot): void {
    this.slotCount--;
    try {
      this.memory.free(slot.region);
    } catch (e) {
      if (!(e instanceof ServiceError)) throw e;
    }
  }

  /** Frees the idle slots and lends no more: the server does not take data by grant. */
  disable(): void {
    this.disabled = true;
    this.release();
  }

  /** Frees the idle slots (busy ones come back to the pool and are reused). */
  release(): void {
    for (const slot of this.idle.splice(0)) this.discard(slot);
  }
}

/**
 * Typed client over a context whose manifest names the fs endpoint. Errors throw
 * ServiceError with an errno code (GRANT for a bad grant given to writeFrom / readInto).
 *
 * read and write of GRANT_IO_BYTES_MIN bytes or more go by grant through the client's
 * staging (ClientStaging) when the context can lend memory: one copy into or out of the
 * staging slot instead of the message copies. Should the fs no longer hold the slot's
 * grant (it restarted), the call is made again inline and the slot is dropped; a server
 * that does not serve the by-grant ops (BADOP, or a reply without a count: an fs model)
 * gets that call, and every later one, inline.
 */
export class FsClient {
  private stagingPool?: ClientStaging;

  constructor(
    private readonly ctx: FsCaller,
    readonly endpoint: string = FS_ENDPOINT,
  ) {}

  private staging(): ClientStaging | undefined {
    if (!this.stagingPool && this.ctx.memory) this.stagingPool = new ClientStaging(this.ctx.memory, this.endpoint);
    return this.stagingPool;
  }

  /** Runs `viaGrant` with a staging slot when one is free; inline otherwise, or if the fs refuses the slot's grant. */
  private async staged<T>(viaGrant: (slot: StagingSlot) => Promise<T>, inline: () => Promise<T>): Promise<T> {
    const pool = this.staging();
    const slot = pool?.take();
    if (!pool || !slot) return inline();
    let keep = true;
    try {
      return await viaGrant(slot);
    } catch (e) {
      if (!(e instanceof ServiceError) || (e.code !== 'GRANT' && e.code !== 'BADOP')) throw e;
      // GRANT: the fs no longer holds the slot's grant (it restarted). BADOP: the server does
      // not serve data by grant at all, so this client stays inline. Either way the fs took
      // no bytes (the grant is checked before any move), so the call is made again inline.
      keep = false;
      pool.discard(slot);
      if (e.code === 'BADOP') pool.disable();
      return inline();
    } finally {
      if (keep) pool.give(slot);
    }
  }

  /** Frees the staging memory the client holds while idle (it is allocated again if needed). */
  releaseStaging(): void {
    this.stagingPool?.release();
  }

  private call<T>(op: FsOp, body: Record<string, unknown>): Promise<T> {
    return this.ctx.call<T>(this.endpoint, op, body);
  }

  getattr(ino: number): Promise<Attr> {
    return this.call('getattr', { ino });
  }
  setattr(ino: number, set: SetAttr): Promise<Attr> {
    return this.call('setattr', { ino, set });
  }
  lookup(parent: number, name: string): Promise<Attr> {
    return this.call('lookup', { parent, name });
  }
  walk(ino: number, names: string[]): Promise<WalkResult> {
    return this.call('walk', { ino, names });
  }
  /** Absolute path from the root; symlinks are followed except, with followLast false, the last. */
  resolve(path: string, followLast = true): Promise<Attr> {
    return this.call('resolve', { path, followLast });
  }
  create(parent: number, name: string, mode: number, flags: OpenFlags = { read: true, write: true }, owner: { uid?: number; gid?: number } = {}): Promise<{ attr: Attr; handle: number }> {
    return this.call('create', { parent, name, mode, flags, ...owner });
  }
  open(ino: number, flags: OpenFlags): Promise<{ handle: number; attr: Attr }> {
    return this.call('open', { ino, flags });
  }
  async close(handle: number): Promise<void> {
    await this.call('close', { handle });
  }
  async read(handle: number, offsetBytes: number, lengthBytes: number): Promise<Uint8Array> {
    // Small reads (the common case) make no closure: under a QD1 load that cost showed in profiles.
    if (lengthBytes < GRANT_IO_BYTES_MIN || lengthBytes > IO_SIZE_BYTES_MAX) return this.readInline(handle, offsetBytes, lengthBytes);
    return this.staged(
      async (slot) => {
        const countBytes = await this.readInto(handle, offsetBytes, lengthBytes, [{ grantId: slot.grantId, offsetBytes: 0, lengthBytes }]);
        return slot.view.slice(0, countBytes);
      },
      () => this.readInline(handle, offsetBytes, lengthBytes),
    );
  }
  private async readInline(handle: number, offsetBytes: number, lengthBytes: number): Promise<Uint8Array> {
    return (await this.call<{ data: Uint8Array }>('read', { handle, offsetBytes, lengthBytes })).data;
  }
  async write(handle: number, offsetBytes: number, data: Uint8Array): Promise<number> {
    if (data.length < GRANT_IO_BYTES_MIN || data.length > IO_SIZE_BYTES_MAX) return this.writeInline(handle, offsetBytes, data);
    return this.staged(
      (slot) => {
        slot.view.set(data);
        return this.writeFrom(handle, offsetBytes, [{ grantId: slot.grantId, offsetBytes: 0, lengthBytes: data.length }]);
      },
      () => this.writeInline(handle, offsetBytes, data),
    );
  }
  private async writeInline(handle: number, offsetBytes: number, data: Uint8Array): Promise<number> {
    return (await this.call<{ countBytes: number }>('write', { handle, offsetBytes, data })).countBytes;
  }
  /** Writes the bytes of `from` (memory the caller lent the fs endpoint with 'r'), in order, at offsetBytes; resolves with the count. */
  async writeFrom(handle: number, offsetBytes: number, from: Segment[]): Promise<number> {
    return this.countOf('writeFrom', await this.call<unknown>('writeFrom', { handle, offsetBytes, from }));
  }
  /** Reads up to lengthBytes at offsetBytes into `into` (memory lent with 'w'), in order; resolves with the count (short at the end of the file). */
  async readInto(handle: number, offsetBytes: number, lengthBytes: number, into: Segment[]): Promise<number> {
    return this.countOf('readInto', await this.call<unknown>('readInto', { handle, offsetBytes, lengthBytes, into }));
  }
  /** The count of a by-grant reply; BADOP if the server answered without one (it does not serve the op: an fs model, an older fs). */
  private countOf(op: FsOp, reply: unknown): number {
    const countBytes = (reply as { countBytes?: unknown } | undefined)?.countBytes;
    if (typeof countBytes !== 'number' || !Number.isSafeInteger(countBytes) || countBytes < 0) throw new ServiceError('BADOP', `${this.endpoint} answered ${op} without a count: it does not serve data by grant`);
    return countBytes;
  }
  truncate(ino: number, sizeBytes: number): Promise<Attr> {
    return this.call('truncate', { ino, sizeBytes });
  }
  async fsync(handle: number): Promise<void> {
    await this.call('fsync', { handle });
  }
  mkdir(parent: number, name: string, mode = 0o755, owner: { uid?: number; gid?: number } = {}): Promise<Attr> {
    return this.call('mkdir', { parent, name, mode, ...owner });
  }
  async rmdir(parent: number, name: string): Promise<void> {
    await this.call('rmdir', { parent, name });
  }
  async unlink(parent: number, name: string): Promise<void> {
    await this.call('unlink', { parent, name });
  }
  readdir(ino: number, cookie = 0, limit = 256): Promise<{ entries: DirEntry[]; eof: boolean }> {
    return this.call('readdir', { ino, cookie, limit });
  }
  async rename(parent: number, name: string, newParent: number, newName: string): Promise<void> {
    await this.call('rename', { parent, name, newParent, newName });
  }
  link(ino: number, parent: number, name: string): Promise<Attr> {
    return this.call('link', { ino, parent, name });
  }
  symlink(parent: number, name: string, target: string, owner: { uid?: number; gid?: number } = {}): Promise<Attr> {
    return this.call('symlink', { parent, name, target, ...owner });
  }
  async readlink(ino: number): Promise<string> {
    return (await this.call<{ target: string }>('readlink', { ino })).target;
  }
  statfs(): Promise<StatFs> {
    return this.call('statfs', {});
  }
  async sync(): Promise<void> {
    await this.call('sync', {});
  }
  /** Admin: commit buffered data and record a checkpoint. */
  async checkpoint(): Promise<void> {
    await this.ctx.call(this.endpoint, 'checkpoint', {}, { timeoutMs: 10 * 60_000 });
  }
  snapshotCreate(name: string): Promise<SnapshotInfo> {
    return this.call('snapshotCreate', { name });
  }
  async snapshotList(): Promise<SnapshotInfo[]> {
    return (await this.call<{ snapshots: SnapshotInfo[] }>('snapshotList', {})).snapshots;
  }
  async snapshotDelete(name: string): Promise<void> {
    await this.call('snapshotDelete', { name });
  }
  /** Returns the name of the automatic snapshot holding the tree it replaced. */
  async snapshotRestore(name: string): Promise<string> {
    return (await this.call<{ saved: string }>('snapshotRestore', { name })).saved;
  }
  /** Changes from snapshot `from` to snapshot `to`, or to the live tree. */
  snapshotDiff(from: string, to?: string): Promise<{ entries: DiffEntry[]; truncated: boolean }> {
    return this.call('snapshotDiff', to === undefined ? { from } : { from, to });
  }
  /** A copy of `ino` (file or directory tree) as `name` in `parent`, sharing every chunk. */
  clone(ino: number, parent: number, name: string): Promise<Attr> {
    return this.call('clone', { ino, parent, name });
  }
  /** Admin: content-store GC marked from the live tree and every snapshot. */
  gc(): Promise<{ sweptChunks: number; sweptBytes: number; freedBlocks: number; keptByRoots: number; missingRoots: number; liveChunks: number }> {
    return this.ctx.call(this.endpoint, 'gc', {}, { timeoutMs: 10 * 60_000 });
  }
  /** Admin: what the last mount did. */
  mountReport(): Promise<{ replayedRecords: number; orphansFreed: number; inodes: number; mountMs: number }> {
    return this.ctx.call(this.endpoint, 'mountReport', {});
  }
}
