/**
 * POSIX record locks for Tlock/Tgetlock, as far as Linux's v9fs uses them: fcntl
 * F_SETLK/F_SETLKW/F_GETLK and flock (which v9fs turns into whole-file record locks).
 *
 * A lock belongs to an owner (client_id + proc_id) and covers [start, end) of one inode;
 * length 0 means "to the end of the file" (end = Infinity). Read locks share, a write
 * lock excludes every other owner's lock on an overlapping range. Setting a lock
 * replaces the owner's own locks on the range (an upgrade or downgrade), unlocking
 * splits them. A conflicting request is answered BLOCKED at once; for F_SETLKW Linux
 * retries until it is granted, so nothing waits on our side.
 *
 * The table lives with the session (lost when the guest re-attaches, as on a server
 * restart) and holds at most LOCKS_MAX ranges: beyond that a lock is ENOLCK.
 */
import { p9Error } from './errno.ts';
import { LOCKS_MAX } from './limits.ts';

export const LOCK_RDLCK = 0;
export const LOCK_WRLCK = 1;
export const LOCK_UNLCK = 2;
export const LOCK_SUCCESS = 0;
export const LOCK_BLOCKED = 1;

export interface LockRange {
  owner: string;
  type: typeof LOCK_RDLCK | typeof LOCK_WRLCK;
  start: number;
  /** Exclusive; Infinity for a lock to the end of the file. */
  end: number;
  procId: number;
  clientId: string;
}

function endOf(start: number, length: number): number {
  return length === 0 ? Infinity : start + length;
}

function overlaps(a: { start: number; end: number }, b: { start: number; end: number }): boolean {
  return a.start < b.end && b.start < a.end;
}

export class LockTable {
  private readonly byIno = new Map<number, LockRange[]>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The first lock of another owner that conflicts with the request, if any. */
  conflict(ino: number, owner: string, type: number, start: number, length: number): LockRange | undefined {
    const want = { start, end: endOf(start, length) };
    return (this.byIno.get(ino) ?? []).find((l) => l.owner !== owner && overlaps(l, want) && (type === LOCK_WRLCK || l.type === LOCK_WRLCK));
  }

  /** Sets or clears a lock; returns LOCK_SUCCESS or LOCK_BLOCKED. */
  set(ino: number, req: { owner: string; type: number; start: number; length: number; procId: number; clientId: string }): number {
    if (req.type !== LOCK_RDLCK && req.type !== LOCK_WRLCK && req.type !== LOCK_UNLCK) throw p9Error('EINVAL', `lock type ${req.type}`);
    if (req.type !== LOCK_UNLCK && this.conflict(ino, req.owner, req.type, req.start, req.length)) return LOCK_BLOCKED;
    const range = { start: req.start, end: endOf(req.start, req.length) };
    const kept: LockRange[] = [];
    for (const l of this.byIno.get(ino) ?? []) {
      if (l.owner !== req.owner || !overlaps(l, range)) {
        kept.push(l);
        continue;
      }
      // Keep the parts of the owner's old lock outside the new range.
      if (l.start < range.start) kept.push({ ...l, end: range.start });
      if (l.end > range.end) kept.push({ ...l, start: range.end });
    }
    if (req.type !== LOCK_UNLCK) kept.push({ owner: req.owner, type: req.type, start: range.start, end: range.end, procId: req.procId, clientId: req.clientId });
    const before = this.byIno.get(ino)?.length ?? 0;
    if (this.count - before + kept.length > LOCKS_MAX) throw p9Error('ENOLCK', `more than ${LOCKS_MAX} locks`);
    this.count += kept.length - before;
    if (kept.length) this.byIno.set(ino, kept);
    else this.byIno.delete(ino);
    return LOCK_SUCCESS;
  }

  clear(): void {
    this.byIno.clear();
    this.count = 0;
  }
}
