/**
 * File operations the commands share, written over the fs protocol client only:
 * stat by path, parent-and-name, whole directory listings (readdir paged by cookie),
 * chunked reads and writes (TRANSFER_CHUNK_BYTES per message), and bounded tree walks.
 *
 * Every service error comes out explained about the path it concerns
 * ("/a/b: No such file or directory (ENOENT)"), so commands only add their name.
 * A handle opened here is closed here, on every path out (finally).
 */
import { ServiceError } from '../../kernel/errors.ts';
import { ROOT_INO, type Attr, type DirEntry } from '../../services/fs/protocol.ts';
import type { FsApi } from './backends.ts';
import { about, CommandError, explain, hasCode } from './errors.ts';
import { DIR_ENTRIES_MAX, READDIR_PAGE_ENTRIES, TRANSFER_CHUNK_BYTES, WALK_DEPTH_MAX } from './limits.ts';
import { basename, dirname, join } from './paths.ts';

export const FILE_MODE_DEFAULT = 0o644;
export const DIR_MODE_DEFAULT = 0o755;

/** Attributes of an absolute path; `follow` false is lstat (the last symlink itself). */
export function stat(fs: FsApi, path: string, follow = true): Promise<Attr> {
  return about(path, () => fs.resolve(path, follow));
}

/** Attributes, or null if the path does not exist (other errors still throw). */
export async function statOrNull(fs: FsApi, path: string, follow = true): Promise<Attr | null> {
  try {
    return await fs.resolve(path, follow);
  } catch (e) {
    if (hasCode(e, 'ENOENT')) return null;
    throw explain(e, path);
  }
}

/** The directory holding `path` and the name in it; the root has none. */
export async function parentOf(fs: FsApi, path: string): Promise<{ parent: Attr; name: string }> {
  if (path === '/') throw new CommandError('/: not possible on the root directory', 1, 'EINVAL');
  const dir = dirname(path);
  const parent = await stat(fs, dir);
  if (parent.type !== 'dir') throw explain(new ServiceError('ENOTDIR', ''), dir);
  return { parent, name: basename(path) };
}

/** Every entry of a directory, in the service's order. */
export async function listDir(fs: FsApi, ino: number, subject: string): Promise<DirEntry[]> {
  const out: DirEntry[] = [];
  let cookie = 0;
  for (;;) {
    const page = await about(subject, () => fs.readdir(ino, cookie, READDIR_PAGE_ENTRIES));
    out.push(...page.entries);
    if (out.length > DIR_ENTRIES_MAX) throw new CommandError(`${subject}: more than ${DIR_ENTRIES_MAX} entries`);
    if (page.eof || page.entries.length === 0) return out;
    cookie = page.entries[page.entries.length - 1].cookie;
  }
}

export function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Reads a file start to end in chunks; `onChunk` sees each chunk and the bytes so far. */
export async function readChunks(fs: FsApi, path: string, attr: Attr, onChunk: (data: Uint8Array, doneBytes: number) => void | Promise<void>): Promise<number> {
  if (attr.type === 'dir') throw explain(new ServiceError('EISDIR', ''), path);
  const { handle, attr: opened } = await about(path, () => fs.open(attr.ino, { read: true }));
  let offsetBytes = 0;
  try {
    while (offsetBytes < opened.sizeBytes) {
      const data = await about(path, () => fs.read(handle, offsetBytes, Math.min(TRANSFER_CHUNK_BYTES, opened.sizeBytes - offsetBytes)));
      if (data.length === 0) break;
      offsetBytes += data.length;
      await onChunk(data, offsetBytes);
    }
  } finally {
    await fs.close(handle).catch(() => {});
  }
  return offsetBytes;
}

/** A whole (small) file as bytes. */
export async function readFile(fs: FsApi, path: string): Promise<Uint8Array> {
  const attr = await stat(fs, path);
  const parts: Uint8Array[] = [];
  await readChunks(fs, path, attr, (d) => void parts.push(d));
  return Buffer.concat(parts);
}

export interface WriteTarget {
  handle: number;
  attr: Attr;
  created: boolean;
}

/** Opens `path` for writing, creating it (mode 0644) if it does not exist. */
export async function openForWrite(fs: FsApi, path: string, how: { truncate?: boolean; append?: boolean; mode?: number } = {}): Promise<WriteTarget> {
  const existing = await statOrNull(fs, path);
  if (existing) {
    if (existing.type === 'dir') throw explain(new ServiceError('EISDIR', ''), path);
    const { handle, attr } = await about(path, () => fs.open(existing.ino, { read: true, write: true, truncate: how.truncate, append: how.append }));
    return { handle, attr, created: false };
  }
  const { parent, name } = await parentOf(fs, path);
  const { handle, attr } = await about(path, () => fs.create(parent.ino, name, how.mode ?? FILE_MODE_DEFAULT, { read: true, write: true }));
  return { handle, attr, created: true };
}

/** Writes all of `data` at `offsetBytes` in chunks; returns the offset after it. */
export async function writeAll(fs: FsApi, path: string, handle: number, offsetBytes: number, data: Uint8Array): Promise<number> {
  for (let done = 0; done < data.length; ) {
    const piece = data.subarray(done, Math.min(data.length, done + TRANSFER_CHUNK_BYTES));
    const written = await about(path, () => fs.write(handle, offsetBytes + done, piece));
    if (written !== piece.length) throw new CommandError(`${path}: short write (${written} of ${piece.length} bytes)`, 1, 'EIO');
    done += written;
  }
  return offsetBytes + data.length;
}

/** Replaces (or appends to) a file with `data` and closes it. */
export async function writeFile(fs: FsApi, path: string, data: Uint8Array, how: { append?: boolean } = {}): Promise<void> {
  const t = await openForWrite(fs, path, { truncate: !how.append, append: how.append });
  try {
    await writeAll(fs, path, t.handle, how.append ? t.attr.sizeBytes : 0, data);
  } finally {
    await fs.close(t.handle).catch(() => {});
  }
}

export interface WalkEntry {
  path: string;
  attr: Attr;
  depth: number;
}

/**
 * Visits `path` and, if it is a directory, everything under it (depth first, names in
 * order, symlinks not followed). `visit` returning false skips a directory's contents;
 * `after` runs once a directory's contents are done (for du and rm -r).
 */
export async function walk(
  fs: FsApi,
  path: string,
  attr: Attr,
  visit: (e: WalkEntry) => boolean | void | Promise<boolean | void>,
  after?: (e: WalkEntry) => void | Promise<void>,
  depth = 0,
): Promise<void> {
  if (depth > WALK_DEPTH_MAX) throw new CommandError(`${path}: deeper than ${WALK_DEPTH_MAX} levels`);
  const entry = { path, attr, depth };
  const descend = await visit(entry);
  if (attr.type === 'dir' && descend !== false) {
    const entries = (await listDir(fs, attr.ino, path)).sort(byName);
    for (const e of entries) {
      const childPath = join(path, e.name);
      const childAttr = await about(childPath, () => fs.getattr(e.ino));
      await walk(fs, childPath, childAttr, visit, after, depth + 1);
    }
  }
  await after?.(entry);
}

export { ROOT_INO };
