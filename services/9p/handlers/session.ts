/**
 * Connection handlers: Tversion (msize and protocol), Tauth (not needed: refused),
 * Tattach (a fid on the root, or on a path named by aname), Tflush (answered once the
 * request it names has been answered, which is all 9P asks), Tclunk and Tremove (which
 * end a fid whether or not the rest succeeds, as 9P requires).
 */
import { ROOT_INO } from '../../fs/protocol.ts';
import { NOFID } from '../codec.ts';
import { p9Error } from '../errno.ts';
import { qidOf } from '../fids.ts';
import { MSIZE_BYTES_MAX, MSIZE_BYTES_MIN } from '../limits.ts';
import { reply, type HandlerTable } from '../session.ts';

export const VERSION_9P2000L = '9P2000.L';
const NONUNAME = 0xffffffff;

export const sessionHandlers: HandlerTable = {
  async Tversion(s, b) {
    await s.reset();
    if (!b.version.startsWith(VERSION_9P2000L)) {
      s.versioned = false;
      return reply('Rversion', { msize: Math.min(b.msize, MSIZE_BYTES_MAX), version: 'unknown' });
    }
    if (b.msize < MSIZE_BYTES_MIN) throw p9Error('EINVAL', `msize ${b.msize} is below ${MSIZE_BYTES_MIN}`);
    s.msizeBytes = Math.min(b.msize, MSIZE_BYTES_MAX);
    s.versioned = true;
    return reply('Rversion', { msize: s.msizeBytes, version: VERSION_9P2000L });
  },

  async Tauth() {
    throw p9Error('EOPNOTSUPP', 'no authentication is needed');
  },

  async Tattach(s, b) {
    if (b.afid !== NOFID) throw p9Error('EINVAL', 'no authentication fids exist');
    if (s.fids.has(b.fid)) throw p9Error('EBADF', `fid ${b.fid} is in use`);
    const attr = b.aname === '' || b.aname === '/' ? await s.fs.getattr(ROOT_INO) : await s.fs.resolve(b.aname);
    if (attr.type !== 'dir') throw p9Error('ENOTDIR', `attach point '${b.aname}' is not a directory`);
    s.fids.add({ id: b.fid, ino: attr.ino, type: 'dir', uid: b.nUname === NONUNAME ? 0 : b.nUname });
    return reply('Rattach', { qid: qidOf(attr) });
  },

  async Tflush(s, b, tag) {
    const pending = b.oldtag === tag ? undefined : s.inFlight.get(b.oldtag);
    if (pending) await pending.catch(() => {});
    return reply('Rflush', {});
  },

  async Tclunk(s, b) {
    const fid = s.fids.take(b.fid);
    await s.release(fid);
    return reply('Rclunk', {});
  },

  async Tremove(s, b) {
    const fid = s.fids.take(b.fid);
    await s.release(fid);
    if (fid.parent === undefined || fid.name === undefined) throw p9Error('EINVAL', `fid ${b.fid}: its directory is not known (use unlinkat)`);
    if (fid.type === 'dir') await s.fs.rmdir(fid.parent, fid.name);
    else await s.fs.unlink(fid.parent, fid.name);
    return reply('Rremove', {});
  },
};
