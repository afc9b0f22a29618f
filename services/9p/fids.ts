/**
 * The fid table of one 9P session, and qids from filesystem attributes.
 *
 * A fid names a filesystem object by inode number (the qid path): the fs protocol is
 * inode-based, so a fid stays valid across renames of its file. A fid also remembers
 * the directory and name it was walked to through, because Tremove and Trename name
 * their object only by fid while the fs protocol unlinks and renames by (parent, name);
 * walking '..' or attaching leaves that unknown, and those two requests then fail with
 * EINVAL (Linux uses Tunlinkat and Trenameat, which name the parent, instead).
 *
 * Invariants: at most FIDS_MAX fids; a fid id is in the table at most once (a Twalk or
 * Tattach onto a fid in use is EBADF, except a walk of a fid onto itself); NOFID is
 * never a fid; an open fid holds exactly one fs handle (files) or none (directories),
 * which is closed when the fid is clunked, removed, or the session is reset.
 */
import type { Attr, FileType } from '../fs/protocol.ts';
import { NOFID, type Qid } from './codec.ts';
import { p9Error } from './errno.ts';
import { FIDS_MAX } from './limits.ts';

export const QT_DIR = 0x80;
export const QT_SYMLINK = 0x02;
export const QT_FILE = 0x00;

export interface OpenState {
  /** The fs handle of an open file; directories are read by inode and have none. */
  handle?: number;
  /** The Linux open flags it was opened with. */
  flags: number;
}

export interface Fid {
  readonly id: number;
  ino: number;
  type: FileType;
  /** The user the fid acts for (Tattach's n_uname). */
  uid: number;
  /** The directory and name this fid was reached through, when known. */
  parent?: number;
  name?: string;
  open?: OpenState;
}

export function qidOf(attr: Pick<Attr, 'ino' | 'type' | 'dataVersion'>): Qid {
  const type = attr.type === 'dir' ? QT_DIR : attr.type === 'symlink' ? QT_SYMLINK : QT_FILE;
  return { type, version: attr.dataVersion >>> 0, path: attr.ino };
}

export class FidTable {
  private readonly fids = new Map<number, Fid>();

  get size(): number {
    return this.fids.size;
  }

  /** The fid, or EBADF. */
  get(id: number): Fid {
    const fid = this.fids.get(id);
    if (!fid) throw p9Error('EBADF', `no fid ${id}`);
    return fid;
  }

  has(id: number): boolean {
    return this.fids.has(id);
  }

  /** Adds a fid; EBADF if the id is NOFID or in use, EMFILE if the table is full. */
  add(fid: Fid): Fid {
    if (fid.id === NOFID) throw p9Error('EBADF', 'NOFID is not a fid');
    if (this.fids.has(fid.id)) throw p9Error('EBADF', `fid ${fid.id} is in use`);
    if (this.fids.size >= FIDS_MAX) throw p9Error('EMFILE', `${FIDS_MAX} fids in use`);
    this.fids.set(fid.id, fid);
    return fid;
  }

  /** Replaces an existing fid's entry (a walk of a fid onto itself). */
  replace(fid: Fid): void {
    if (!this.fids.has(fid.id)) throw p9Error('EBADF', `no fid ${fid.id}`);
    this.fids.set(fid.id, fid);
  }

  /** Removes and returns a fid (its handle, if any, is the caller's to close). */
  take(id: number): Fid {
    const fid = this.get(id);
    this.fids.delete(id);
    return fid;
  }

  /** Empties the table, returning what was in it (Tversion resets the session). */
  clear(): Fid[] {
    const all = [...this.fids.values()];
    this.fids.clear();
    return all;
  }
}
