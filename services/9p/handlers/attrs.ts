/**
 * Naming and attributes: Twalk (one fs walk of up to 16 names), Tgetattr, Tsetattr,
 * Tstatfs, Treadlink, and the extended-attribute messages, which are answered
 * EOPNOTSUPP (Strata keeps no xattrs; Linux then reports "not supported" to getfattr
 * and carries on for ls and cp).
 *
 * Walk semantics (walk(5)): zero names clones the fid; if the first name fails the
 * reply is that error; if a later one fails the reply lists the qids walked so far and
 * newfid is not created; only a complete walk creates (or, when newfid == fid, moves)
 * the fid.
 */
import type { Attr, SetAttr, Timespec } from '../../fs/protocol.ts';
import { p9Error } from '../errno.ts';
import { qidOf, type Fid } from '../fids.ts';
import { BLOCK_SIZE_BYTES_REPORTED } from '../limits.ts';
import { reply, type HandlerTable } from '../session.ts';

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
const GETATTR_BASIC = 0x7ff;
const SETATTR = { MODE: 0x1, UID: 0x2, GID: 0x4, SIZE: 0x8, ATIME: 0x10, MTIME: 0x20, ATIME_SET: 0x80, MTIME_SET: 0x100 } as const;
/** V9FS_MAGIC, what statfs(2) reports for a 9p mount. */
const V9FS_MAGIC = 0x01021997;

export function modeBits(attr: Pick<Attr, 'type' | 'mode'>): number {
  const type = attr.type === 'dir' ? S_IFDIR : attr.type === 'symlink' ? S_IFLNK : S_IFREG;
  return type | (attr.mode & 0o7777);
}

function time(sec: number, nsec: number, what: string): Timespec {
  if (nsec > 999_999_999) throw p9Error('EINVAL', `${what} nanoseconds ${nsec}`);
  return { sec, nsec };
}

export const attrHandlers: HandlerTable = {
  async Twalk(s, b) {
    const from = s.fids.get(b.fid);
    if (b.newfid !== b.fid && s.fids.has(b.newfid)) throw p9Error('EBADF', `newfid ${b.newfid} is in use`);
    if (b.wnames.length === 0) {
      const clone: Fid = { id: b.newfid, ino: from.ino, type: from.type, uid: from.uid, parent: from.parent, name: from.name };
      if (b.newfid === b.fid) return reply('Rwalk', { wqids: [] });
      s.fids.add(clone);
      return reply('Rwalk', { wqids: [] });
    }
    const walked = await s.fs.walk(from.ino, b.wnames);
    if (walked.attrs.length === 0) throw p9Error(walked.error?.code ?? 'ENOENT', walked.error?.message ?? 'walk failed');
    const wqids = walked.attrs.map(qidOf);
    if (walked.attrs.length === b.wnames.length) {
      const last = walked.attrs[walked.attrs.length - 1];
      const lastName = b.wnames[b.wnames.length - 1];
      const parentIno = walked.attrs.length >= 2 ? walked.attrs[walked.attrs.length - 2].ino : from.ino;
      const fid: Fid = { id: b.newfid, ino: last.ino, type: last.type, uid: from.uid };
      if (lastName === '.') {
        if (walked.attrs.length === 1) Object.assign(fid, { parent: from.parent, name: from.name });
      } else if (lastName !== '..') Object.assign(fid, { parent: parentIno, name: lastName });
      if (b.newfid === b.fid) {
        if (from.open) throw p9Error('EBADF', `fid ${b.fid} is open and cannot move`);
        s.fids.replace(fid);
      } else s.fids.add(fid);
    }
    return reply('Rwalk', { wqids });
  },

  async Tgetattr(s, b) {
    const a = await s.fs.getattr(s.fids.get(b.fid).ino);
    return reply('Rgetattr', {
      valid: GETATTR_BASIC,
      qid: qidOf(a),
      mode: modeBits(a),
      uid: a.uid,
      gid: a.gid,
      nlink: a.nlink,
      rdev: 0,
      size: a.sizeBytes,
      blksize: BLOCK_SIZE_BYTES_REPORTED,
      blocks: a.blockCount,
      atimeSec: a.atime.sec,
      atimeNsec: a.atime.nsec,
      mtimeSec: a.mtime.sec,
      mtimeNsec: a.mtime.nsec,
      ctimeSec: a.ctime.sec,
      ctimeNsec: a.ctime.nsec,
      btimeSec: 0,
      btimeNsec: 0,
      gen: 0,
      dataVersion: a.dataVersion,
    });
  },

  async Tsetattr(s, b) {
    const fid = s.fids.get(b.fid);
    const set: SetAttr = {};
    if (b.valid & SETATTR.MODE) set.mode = b.mode & 0o7777;
    if (b.valid & SETATTR.UID) set.uid = b.uid;
    if (b.valid & SETATTR.GID) set.gid = b.gid;
    if (b.valid & SETATTR.SIZE) {
      if (fid.type === 'dir') throw p9Error('EISDIR', 'cannot truncate a directory');
      set.sizeBytes = b.size;
    }
    if (b.valid & SETATTR.ATIME) set.atime = b.valid & SETATTR.ATIME_SET ? time(b.atimeSec, b.atimeNsec, 'atime') : 'now';
    if (b.valid & SETATTR.MTIME) set.mtime = b.valid & SETATTR.MTIME_SET ? time(b.mtimeSec, b.mtimeNsec, 'mtime') : 'now';
    // CTIME alone (Linux sends it with every change) has nothing to set: the fs keeps ctime.
    if (Object.keys(set).length) await s.fs.setattr(fid.ino, set);
    return reply('Rsetattr', {});
  },

  async Tstatfs(s, b) {
    s.fids.get(b.fid);
    const st = await s.fs.statfs();
    return reply('Rstatfs', {
      fsType: V9FS_MAGIC,
      bsize: st.blockSizeBytes,
      blocks: st.blockCount,
      bfree: st.blocksFree,
      bavail: st.blocksFree,
      files: st.fileCount,
      ffree: st.filesFree,
      fsid: 0,
      namelen: st.nameLengthMax,
    });
  },

  async Treadlink(s, b) {
    const fid = s.fidOfType(b.fid, 'symlink');
    return reply('Rreadlink', { target: await s.fs.readlink(fid.ino) });
  },

  async Txattrwalk(s, b) {
    s.fids.get(b.fid);
    throw p9Error('EOPNOTSUPP', 'extended attributes are not supported');
  },

  async Txattrcreate(s, b) {
    s.fids.get(b.fid);
    throw p9Error('EOPNOTSUPP', 'extended attributes are not supported');
  },
};
