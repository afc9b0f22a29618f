/**
 * The filesystem's metadata records: what services/fs writes to Axiom, one record per
 * change, and the only way its in-memory state ever changes (state.ts applies them, live
 * and on replay alike). Each record carries everything replay needs (inode numbers,
 * times, page hashes), so replaying the log reproduces the state exactly.
 *
 * Times are [sec, nsec] since the Unix epoch. Page hashes are 32-byte BLAKE3 chunk names
 * in the content store; `null` is a hole.
 *
 * What each record means on replay (state.ts implements it):
 *   FsMkdir, FsCreate, FsSymlink  a new inode and its name in `parent`
 *   FsLink      another name for a file or symlink
 *   FsUnlink    removes a name; an inode left with no names is freed by a later FsFree
 *   FsRmdir     removes an empty directory
 *   FsRename    moves a name, replacing what the target name held
 *   FsSetAttr   mode, owner, times
 *   FsTruncate  the size; pages past it go, the last page keeps what is below it
 *   FsWrite     new contents of some pages, and the size after the write
 *   FsFree      an unlinked inode whose last handle closed (or found at mount)
 *   FsSnapshotCreate  a named snapshot: the root hash of a materialised tree (tree.ts);
 *               the objects it reaches that no snapshot held yet are taken (GC roots, no refs)
 *   FsSnapshotDelete  drops a snapshot; objects no remaining snapshot reaches are released
 *   FsRestore   the live tree becomes a snapshot's tree (fresh inode numbers, old ones go)
 *   FsClone     a copy of a file or subtree under a new name, sharing every page chunk
 */

import type { FsPageRef, FsTime, RecordPayloads } from '../../axiom/protocol.ts';

export type Time = FsTime;
export type PageRef = FsPageRef;

/** The filesystem's record types, declared with every other in axiom/records.ts. */
export type FsRecords = Pick<RecordPayloads, 'FsMkdir' | 'FsCreate' | 'FsSymlink' | 'FsLink' | 'FsUnlink' | 'FsRmdir' | 'FsRename' | 'FsSetAttr' | 'FsTruncate' | 'FsWrite' | 'FsFree' | 'FsSnapshotCreate' | 'FsSnapshotDelete' | 'FsRestore' | 'FsClone'>;

export type FsRecordType = keyof FsRecords;
export type FsRecord = { [K in FsRecordType]: { type: K; payload: FsRecords[K] } }[FsRecordType];

export const FS_RECORD_TYPES: readonly FsRecordType[] = [
  'FsMkdir',
  'FsCreate',
  'FsSymlink',
  'FsLink',
  'FsUnlink',
  'FsRmdir',
  'FsRename',
  'FsSetAttr',
  'FsTruncate',
  'FsWrite',
  'FsFree',
  'FsSnapshotCreate',
  'FsSnapshotDelete',
  'FsRestore',
  'FsClone',
];

export function isFsRecordType(type: string): type is FsRecordType {
  return (FS_RECORD_TYPES as readonly string[]).includes(type);
}
