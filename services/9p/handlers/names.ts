/**
 * Changes to the namespace: Tmkdir, Tsymlink, Tlink, Trenameat, Tunlinkat, the older
 * Trename (by fid; Linux falls back to it only when Trenameat is refused), and Tmknod,
 * which is refused with EPERM: Strata stores no device nodes, FIFOs or sockets.
 *
 * New objects belong to the fid's user (Tattach's n_uname) and the gid Linux sends.
 */
import { p9Error } from '../errno.ts';
import { qidOf } from '../fids.ts';
import { reply, type HandlerTable } from '../session.ts';

const AT_REMOVEDIR = 0x200;

export const nameHandlers: HandlerTable = {
  async Tmkdir(s, b) {
    const dir = s.fidOfType(b.dfid, 'dir');
    const attr = await s.fs.mkdir(dir.ino, b.name, b.mode & 0o7777, { uid: dir.uid, gid: b.gid });
    return reply('Rmkdir', { qid: qidOf(attr) });
  },

  async Tsymlink(s, b) {
    const dir = s.fidOfType(b.fid, 'dir');
    const attr = await s.fs.symlink(dir.ino, b.name, b.symtgt, { uid: dir.uid, gid: b.gid });
    return reply('Rsymlink', { qid: qidOf(attr) });
  },

  async Tmknod(s, b) {
    s.fidOfType(b.dfid, 'dir');
    throw p9Error('EPERM', 'device nodes, FIFOs and sockets are not supported');
  },

  async Tlink(s, b) {
    const dir = s.fidOfType(b.dfid, 'dir');
    const target = s.fids.get(b.fid);
    if (target.type === 'dir') throw p9Error('EPERM', 'hard links to directories are not allowed');
    await s.fs.link(target.ino, dir.ino, b.name);
    return reply('Rlink', {});
  },

  async Trename(s, b) {
    const fid = s.fids.get(b.fid);
    const dir = s.fidOfType(b.dfid, 'dir');
    if (fid.parent === undefined || fid.name === undefined) throw p9Error('EINVAL', `fid ${b.fid}: its directory is not known (use renameat)`);
    await s.fs.rename(fid.parent, fid.name, dir.ino, b.name);
    fid.parent = dir.ino;
    fid.name = b.name;
    return reply('Rrename', {});
  },

  async Trenameat(s, b) {
    const from = s.fidOfType(b.olddirfid, 'dir');
    const to = s.fidOfType(b.newdirfid, 'dir');
    await s.fs.rename(from.ino, b.oldname, to.ino, b.newname);
    return reply('Rrenameat', {});
  },

  async Tunlinkat(s, b) {
    const dir = s.fidOfType(b.dirfid, 'dir');
    if (b.flags & ~AT_REMOVEDIR) throw p9Error('EINVAL', `unlinkat flags 0x${b.flags.toString(16)}`);
    if (b.flags & AT_REMOVEDIR) await s.fs.rmdir(dir.ino, b.name);
    else await s.fs.unlink(dir.ino, b.name);
    return reply('Runlinkat', {});
  },
};
