/**
 * Open files and their data: Tlopen, Tlcreate, Tread, Twrite, Tfsync, Treaddir, and the
 * POSIX lock messages Tlock/Tgetlock.
 *
 * Open flags are Linux's (the 9P2000.L "dotl" flags are the x86 values): O_ACCMODE
 * picks read/write, O_TRUNC and O_APPEND pass to the fs; the rest (O_CREAT, O_EXCL,
 * O_DIRECTORY, O_NOFOLLOW, O_LARGEFILE, ...) Linux has already acted on before sending.
 * A directory is "opened" without an fs handle: Treaddir reads it by inode.
 *
 * Treaddir offsets: 0 starts the listing; '.' and '..' are made here (the fs lists
 * neither) at offsets 1 and 2, and an fs entry with cookie c is at offset c + 3. Entries
 * are packed into at most min(count, msize - 11) bytes; the fs is asked for no more than
 * could fit, and the loop is bounded by READDIR_ROUNDS_MAX fs calls.
 */
import type { DirEntry, FileType } from '../../fs/protocol.ts';
import { direntBytes, writeDirent, type Dirent } from '../codec.ts';
import { p9Error } from '../errno.ts';
import { qidOf, type Fid } from '../fids.ts';
import { DIRENT_BYTES_MIN, IOUNIT_BYTES, LOCK_CLIENT_ID_BYTES_MAX, READDIR_BATCH_ENTRIES_MAX } from '../limits.ts';
import { LOCK_UNLCK } from '../locks.ts';
import { reply, type HandlerTable, type Session } from '../session.ts';
import { WireWriter } from '../wire.ts';

const O_ACCMODE = 0o3;
const O_WRONLY = 0o1;
const O_RDWR = 0o2;
const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;
const DT_DIR = 4;
const DT_REG = 8;
const DT_LNK = 10;
/** Offsets '.' and '..' occupy before the fs's cookies. */
const READDIR_OFFSET_BIAS = 3;
const READDIR_ROUNDS_MAX = 64;

function openFlags(flags: number): { read: boolean; write: boolean; append: boolean; truncate: boolean } {
  const acc = flags & O_ACCMODE;
  return { read: acc !== O_WRONLY, write: acc === O_WRONLY || acc === O_RDWR, append: (flags & O_APPEND) !== 0, truncate: (flags & O_TRUNC) !== 0 };
}

function dtype(type: FileType): number {
  return type === 'dir' ? DT_DIR : type === 'symlink' ? DT_LNK : DT_REG;
}

function openFile(s: Session, id: number): { fid: Fid; handle: number } {
  const fid = s.fids.get(id);
  if (fid.type === 'dir') throw p9Error('EISDIR', `fid ${id} is a directory`);
  if (fid.open?.handle === undefined) throw p9Error('EBADF', `fid ${id} is not open`);
  return { fid, handle: fid.open.handle };
}

async function readdirInto(s: Session, fid: Fid, offset: number, budgetBytes: number): Promise<Uint8Array> {
  const w = new WireWriter(Math.min(budgetBytes, 64 * 1024));
  let used = 0;
  const put = (d: Dirent): boolean => {
    const n = direntBytes(d.name);
    if (used + n > budgetBytes) return false;
    writeDirent(w, d);
    used += n;
    return true;
  };
  if (offset === 0) {
    const self = await s.fs.getattr(fid.ino);
    if (!put({ qid: qidOf(self), offset: 1, type: DT_DIR, name: '.' })) return w.finish();
  }
  if (offset <= 1) {
    const parent = await s.fs.lookup(fid.ino, '..');
    if (!put({ qid: qidOf(parent), offset: 2, type: DT_DIR, name: '..' })) return w.finish();
  }
  let cookie = Math.max(0, offset - READDIR_OFFSET_BIAS);
  for (let round = 0; round < READDIR_ROUNDS_MAX; round++) {
    const room = Math.floor((budgetBytes - used) / DIRENT_BYTES_MIN);
    if (room < 1) break;
    const { entries, eof } = await s.fs.readdir(fid.ino, cookie, Math.min(READDIR_BATCH_ENTRIES_MAX, room));
    for (const e of entries as DirEntry[]) {
      const d = { qid: qidOf({ ino: e.ino, type: e.type, dataVersion: 0 }), offset: e.cookie + READDIR_OFFSET_BIAS, type: dtype(e.type), name: e.name };
      if (!put(d)) return w.finish();
      cookie = e.cookie;
    }
    if (eof || entries.length === 0) break;
  }
  return w.finish();
}

export const ioHandlers: HandlerTable = {
  async Tlopen(s, b) {
    const fid = s.fids.get(b.fid);
    if (fid.open) throw p9Error('EBADF', `fid ${b.fid} is open already`);
    if (fid.type === 'dir') {
      const attr = await s.fs.getattr(fid.ino);
      fid.open = { flags: b.flags };
      return reply('Rlopen', { qid: qidOf(attr), iounit: IOUNIT_BYTES });
    }
    if (fid.type === 'symlink') throw p9Error('ELOOP', `fid ${b.fid} is a symlink`);
    const { handle, attr } = await s.fs.open(fid.ino, openFlags(b.flags));
    if (fid.open || !s.fids.has(fid.id)) {
      await s.fs.close(handle);
      throw p9Error('EBADF', `fid ${b.fid} changed while it was being opened`);
    }
    fid.open = { handle, flags: b.flags };
    return reply('Rlopen', { qid: qidOf(attr), iounit: IOUNIT_BYTES });
  },

  async Tlcreate(s, b) {
    const dir = s.fidOfType(b.fid, 'dir');
    if (dir.open) throw p9Error('EBADF', `fid ${b.fid} is open`);
    const { attr, handle } = await s.fs.create(dir.ino, b.name, b.mode & 0o7777, openFlags(b.flags), { uid: dir.uid, gid: b.gid });
    if (!s.fids.has(dir.id) || dir.open) {
      await s.fs.close(handle);
      throw p9Error('EBADF', `fid ${b.fid} changed while the file was being created`);
    }
    const parent = dir.ino;
    Object.assign(dir, { ino: attr.ino, type: attr.type, parent, name: b.name, open: { handle, flags: b.flags } });
    return reply('Rlcreate', { qid: qidOf(attr), iounit: IOUNIT_BYTES });
  },

  async Tread(s, b) {
    const { handle } = openFile(s, b.fid);
    const count = Math.min(b.count, s.ioBytesMax);
    const data = count === 0 ? new Uint8Array(0) : await s.fs.read(handle, b.offset, count);
    if (data.length > count) throw new Error(`fs read returned ${data.length} bytes for ${count}`);
    return reply('Rread', { data });
  },

  async Twrite(s, b) {
    const { handle } = openFile(s, b.fid);
    if (b.data.length > s.ioBytesMax) throw p9Error('EMSGSIZE', `write of ${b.data.length} bytes exceeds msize`);
    const count = b.data.length === 0 ? 0 : await s.fs.write(handle, b.offset, b.data);
    return reply('Rwrite', { count });
  },

  async Tfsync(s, b) {
    const fid = s.fids.get(b.fid);
    if (fid.open?.handle !== undefined) await s.fs.fsync(fid.open.handle);
    else await s.fs.sync();
    return reply('Rfsync', {});
  },

  async Treaddir(s, b) {
    const fid = s.fidOfType(b.fid, 'dir');
    const budget = Math.min(b.count, s.ioBytesMax);
    return reply('Rreaddir', { data: await readdirInto(s, fid, b.offset, budget) });
  },

  async Tlock(s, b) {
    const fid = s.fids.get(b.fid);
    if (new TextEncoder().encode(b.clientId).length > LOCK_CLIENT_ID_BYTES_MAX) throw p9Error('EINVAL', 'client_id is too long');
    const status = s.locks.set(fid.ino, { owner: `${b.clientId}\0${b.procId}`, type: b.lockType, start: b.start, length: b.length, procId: b.procId, clientId: b.clientId });
    return reply('Rlock', { status });
  },

  async Tgetlock(s, b) {
    const fid = s.fids.get(b.fid);
    if (new TextEncoder().encode(b.clientId).length > LOCK_CLIENT_ID_BYTES_MAX) throw p9Error('EINVAL', 'client_id is too long');
    const c = s.locks.conflict(fid.ino, `${b.clientId}\0${b.procId}`, b.lockType, b.start, b.length);
    if (!c) return reply('Rgetlock', { lockType: LOCK_UNLCK, start: b.start, length: b.length, procId: b.procId, clientId: b.clientId });
    return reply('Rgetlock', { lockType: c.type, start: c.start, length: c.end === Infinity ? 0 : c.end - c.start, procId: c.procId, clientId: c.clientId });
  },
};
