/**
 * Namespace operations: check a request against the state with POSIX's errors and, if it
 * is allowed, return the records that perform it. Nothing here changes state; the caller
 * applies the records (state.ts) and commits them, so an operation that fails its checks
 * leaves no trace.
 *
 * Errors follow Linux where POSIX leaves a choice (see services/fs/protocol.ts). A
 * directory under /.snapshots (snapshot-view.ts) takes no changes: EROFS.
 */
import { fsError, type SetAttr } from './protocol.ts';
import { fromTimespec, type FsState } from './state.ts';
import type { FsRecord, Time } from './records.ts';
import { isVirtual } from './snapshot-view.ts';

export interface OpContext {
  now(): Time;
  /** A fresh inode number (not yet in the state). */
  allocIno(): number;
}

export function needDir(state: FsState, ino: number): void {
  if (isVirtual(ino)) throw fsError('EROFS', 'snapshots are read-only');
  const n = state.get(ino);
  if (!n) throw fsError('ESTALE', `no inode ${ino}`);
  if (!n.dir) throw fsError('ENOTDIR', `inode ${ino} is not a directory`);
}

function needAbsent(state: FsState, parent: number, name: string): void {
  needDir(state, parent);
  if (state.dirOf(parent).entries.has(name)) throw fsError('EEXIST', `'${name}' exists`);
}

export function mkdirOp(state: FsState, c: OpContext, parent: number, name: string, mode: number, uid = 0, gid = 0): FsRecord[] {
  needAbsent(state, parent, name);
  return [{ type: 'FsMkdir', payload: { parent, name, ino: c.allocIno(), mode, uid, gid, t: c.now() } }];
}

export function createOp(state: FsState, c: OpContext, parent: number, name: string, mode: number, uid = 0, gid = 0): FsRecord[] {
  needAbsent(state, parent, name);
  return [{ type: 'FsCreate', payload: { parent, name, ino: c.allocIno(), mode, uid, gid, t: c.now() } }];
}

export function symlinkOp(state: FsState, c: OpContext, parent: number, name: string, target: string, uid = 0, gid = 0): FsRecord[] {
  needAbsent(state, parent, name);
  return [{ type: 'FsSymlink', payload: { parent, name, ino: c.allocIno(), target, uid, gid, t: c.now() } }];
}

export function linkOp(state: FsState, c: OpContext, ino: number, parent: number, name: string): FsRecord[] {
  if (isVirtual(ino)) throw fsError('EROFS', 'snapshots are read-only');
  const n = state.get(ino);
  if (!n) throw fsError('ESTALE', `no inode ${ino}`);
  if (n.dir) throw fsError('EPERM', 'a hard link to a directory');
  if (n.nlink === 0) throw fsError('ENOENT', 'the inode was unlinked');
  needAbsent(state, parent, name);
  return [{ type: 'FsLink', payload: { ino, parent, name, t: c.now() } }];
}

function entry(state: FsState, parent: number, name: string): number {
  needDir(state, parent);
  const e = state.dirOf(parent).entries.get(name);
  if (!e) throw fsError('ENOENT', `'${name}' not found`);
  return e.ino;
}

export function unlinkOp(state: FsState, c: OpContext, parent: number, name: string): FsRecord[] {
  const ino = entry(state, parent, name);
  if (state.inode(ino).dir) throw fsError('EISDIR', `'${name}' is a directory`);
  return [{ type: 'FsUnlink', payload: { parent, name, t: c.now() } }];
}

export function rmdirOp(state: FsState, c: OpContext, parent: number, name: string): FsRecord[] {
  const n = state.inode(entry(state, parent, name));
  if (!n.dir) throw fsError('ENOTDIR', `'${name}' is not a directory`);
  if (n.dir.entries.size) throw fsError('ENOTEMPTY', `'${name}' is not empty`);
  return [{ type: 'FsRmdir', payload: { parent, name, t: c.now() } }];
}

export function renameOp(state: FsState, c: OpContext, parent: number, name: string, newParent: number, newName: string): FsRecord[] {
  // Both parents are checked before the source, as a path walk would reach them first.
  needDir(state, parent);
  needDir(state, newParent);
  const ino = entry(state, parent, name);
  const n = state.inode(ino);
  const dst = state.dirOf(newParent).entries.get(newName);
  if (dst?.ino === ino) return []; // two names of one inode: POSIX says do nothing
  if (n.dir && state.isAncestor(ino, newParent)) throw fsError('EINVAL', 'cannot move a directory into itself');
  if (dst) {
    const old = state.inode(dst.ino);
    if (n.dir && !old.dir) throw fsError('ENOTDIR', `'${newName}' is not a directory`);
    if (!n.dir && old.dir) throw fsError('EISDIR', `'${newName}' is a directory`);
    if (old.dir && old.dir.entries.size) throw fsError('ENOTEMPTY', `'${newName}' is not empty`);
  }
  return [{ type: 'FsRename', payload: { parent, name, newParent, newName, t: c.now() } }];
}

/** Mode, owner and times; a size change goes through the file layer (it has buffered pages). */
export function setAttrOp(state: FsState, c: OpContext, ino: number, set: SetAttr): FsRecord[] {
  if (!state.get(ino)) throw fsError('ESTALE', `no inode ${ino}`);
  const t = c.now();
  const pick = (v: SetAttr['atime']): Time | undefined => (v === undefined ? undefined : v === 'now' ? t : fromTimespec(v));
  const payload = { ino, mode: set.mode, uid: set.uid, gid: set.gid, atime: pick(set.atime), mtime: pick(set.mtime), t };
  for (const k of Object.keys(payload) as (keyof typeof payload)[]) if (payload[k] === undefined) delete payload[k];
  return [{ type: 'FsSetAttr', payload }];
}
