/**
 * The filesystem's metadata records: what services/fs writes to Axiom, one record per
 * change, and the only way its in-memory state ever changes (state.ts applies them, live
 * and on replay alike). Each record carries everything replay needs (inode numbers,
 * times, page hashes), so replaying the log reproduces the state exactly.
 *
 * Times are [sec, nsec] since the Unix epoch. Page hashes are 32-byte BLAKE3 chunk names
 * in the content store; `null` is a hole.
 */

export type Time = [sec: number, nsec: number];

export interface PageRef {
  /** Page number: bytes [index * PAGE_SIZE_BYTES, ...) of the file. */
  index: number;
  /** The chunk holding the page's bytes, or null for a hole. */
  hash: Uint8Array | null;
  /** Valid bytes in the page (the rest reads as zeros). */
  lengthBytes: number;
}

export interface FsRecords {
  FsMkdir: { parent: number; name: string; ino: number; mode: number; uid: number; gid: number; t: Time };
  FsCreate: { parent: number; name: string; ino: number; mode: number; uid: number; gid: number; t: Time };
  FsSymlink: { parent: number; name: string; ino: number; target: string; uid: number; gid: number; t: Time };
  FsLink: { ino: number; parent: number; name: string; t: Time };
  /** Removes a name of a file or symlink; an inode left with no names and no handles is freed by FsFree. */
  FsUnlink: { parent: number; name: string; t: Time };
  FsRmdir: { parent: number; name: string; t: Time };
  FsRename: { parent: number; name: string; newParent: number; newName: string; t: Time };
  FsSetAttr: { ino: number; mode?: number; uid?: number; gid?: number; atime?: Time; mtime?: Time; t: Time };
  /** Sets the size; pages past it go, the last page keeps only what is below it. */
  FsTruncate: { ino: number; sizeBytes: number; t: Time };
  /** New contents of some pages, and the size after the write. */
  FsWrite: { ino: number; pages: PageRef[]; sizeBytes: number; t: Time };
  /** An unlinked inode whose last handle closed (or found at mount): its pages are released. */
  FsFree: { ino: number };
}

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
];

export function isFsRecordType(type: string): type is FsRecordType {
  return (FS_RECORD_TYPES as readonly string[]).includes(type);
}
