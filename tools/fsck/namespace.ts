/**
 * The filesystem, rebuilt offline the way its mount does it (services/fs/filesystem.ts):
 * the checkpoint's fs image, then every fs record after it through FsState.apply, the one
 * function that changes the state live and on replay (a snapshot's new tree objects come
 * from the content store, verified by hash). Orphans (unlinked, last handle gone) are
 * left in place: the next mount frees them, so they are notes, not problems.
 *
 * checkNamespace walks the tree from the root, bounded by the inode count: every
 * directory is reached once (no cycle, no second name), its '..' is the directory that
 * names it, its nlink is 2 + its subdirectories, a file's nlink equals the names found
 * for it, every entry names an inode, every inode with links is reachable, and no page
 * lies past the end of its file.
 */
import { checkOf } from '../../services/fs/adapters.ts';
import { FsState, type Inode } from '../../services/fs/state.ts';
import { decodeImage } from '../../services/fs/image.ts';
import { loadTree, mapSource, type ObjectSource } from '../../services/fs/tree.ts';
import { hashKey } from '../../services/fs/pages.ts';
import { isFsRecordType, type FsRecord } from '../../services/fs/records.ts';
import { ROOT_INO } from '../../services/fs/protocol.ts';
import { PAGE_SIZE_BYTES } from '../../services/fs/limits.ts';
import type { ImageView } from './block.ts';
import type { AxiomView } from './axiom.ts';
import { readExtents, type ContentView } from './content.ts';
import type { Findings } from './report.ts';

interface FsImageRef {
  extents: { blockIndex: number; blockCount: number }[];
  sizeBytes: number;
  check: string;
}

/** The fs service's image check: the one services/fs/adapters.ts writes into each ImageRef. */
export const fsImageCheck = checkOf;

export function fsImageRefOf(checkpointImage: unknown): FsImageRef | undefined {
  const fs = (checkpointImage as { fs?: FsImageRef } | null | undefined)?.fs;
  return fs && Array.isArray(fs.extents) ? fs : undefined;
}

/** Rebuilds the filesystem state; undefined (with a problem recorded) if it cannot be. */
export async function loadFsState(view: ImageView, axiom: AxiomView, content: ContentView, f: Findings): Promise<FsState | undefined> {
  let state: FsState;
  if (axiom.checkpointSeq > 0) {
    const ref = fsImageRefOf(axiom.checkpointImage);
    if (!ref) {
      f.problem('namespace', 'fs-image-missing', 'checkpoint', `the checkpoint at seq ${axiom.checkpointSeq} names no filesystem image`);
      return undefined;
    }
    try {
      const bytes = await readExtents(view, ref.extents, ref.sizeBytes);
      if (fsImageCheck(bytes) !== ref.check) throw new Error(`its check is ${fsImageCheck(bytes)}, the checkpoint says ${ref.check}`);
      state = decodeImage(bytes);
    } catch (e) {
      f.problem('namespace', 'fs-image-damaged', 'checkpoint', `the filesystem image in blocks ${JSON.stringify(ref.extents)} is damaged: ${(e as Error).message}`);
      return undefined;
    }
  } else state = new FsState();
  let replayed = 0;
  for (const r of axiom.records) {
    if (!isFsRecordType(r.type)) continue;
    const record = { type: r.type, payload: r.payload } as FsRecord;
    try {
      let objects: ObjectSource | undefined;
      if (record.type === 'FsSnapshotCreate') {
        const get = async (h: Uint8Array) => (await content.read(h)) ?? Promise.reject(new Error(`tree object ${hashKey(h)} is missing or damaged`));
        objects = mapSource(await loadTree(record.payload.root, { object: (h) => state.held.get(hashKey(h))?.obj }, get));
      }
      state.apply(record, objects);
      replayed++;
    } catch (e) {
      f.problem('namespace', 'bad-record', `seq ${r.seq}`, `log record ${r.seq} (${r.type}) does not fit the filesystem state: ${(e as Error).message}; replay stops there`);
      break;
    }
  }
  f.count('fs records replayed', replayed);
  return state;
}

export interface NamespaceView {
  /** Every path naming each inode (live tree). */
  pathsOf: Map<number, string[]>;
}

const join = (dir: string, name: string) => (dir === '/' ? `/${name}` : `${dir}/${name}`);

export function checkNamespace(state: FsState, f: Findings): NamespaceView {
  const pathsOf = new Map<number, string[]>();
  const root = state.inodes.get(ROOT_INO);
  if (!root?.dir) {
    f.problem('namespace', 'no-root', 'root', `inode ${ROOT_INO} is missing or not a directory`);
    return { pathsOf };
  }
  const dirSeen = new Set<number>();
  const names = new Map<number, number>();
  const todo: { ino: number; path: string; parent: number }[] = [{ ino: ROOT_INO, path: '/', parent: ROOT_INO }];
  pathsOf.set(ROOT_INO, ['/']);
  let steps = 0;
  while (todo.length) {
    if (++steps > state.inodes.size + 1) {
      f.problem('namespace', 'walk-bound', 'walk', `the walk visited more directories than there are inodes (${state.inodes.size})`);
      break;
    }
    const { ino, path, parent } = todo.pop()!;
    if (dirSeen.has(ino)) {
      f.problem('namespace', 'dir-cycle', `ino ${ino}`, `${path}: directory inode ${ino} is reached a second time (a cycle or a second name: ${pathsOf.get(ino)?.[0]})`, { paths: [path] });
      continue;
    }
    dirSeen.add(ino);
    const dir = state.inodes.get(ino)!.dir!;
    if (dir.parent !== parent) f.problem('namespace', 'bad-dotdot', `ino ${ino}`, `${path}: '..' is inode ${dir.parent}, not its parent ${parent}`, { paths: [path] });
    let subdirs = 0;
    for (const [name, e] of dir.entries) {
      const childPath = join(path, name);
      const child = state.inodes.get(e.ino);
      if (!child) {
        f.problem('namespace', 'dangling-entry', `${ino}/${name}`, `${childPath}: names inode ${e.ino}, which does not exist`, { paths: [childPath] });
        continue;
      }
      const list = pathsOf.get(e.ino) ?? [];
      list.push(childPath);
      pathsOf.set(e.ino, list);
      if (child.dir) {
        subdirs++;
        todo.push({ ino: e.ino, path: childPath, parent: ino });
      } else names.set(e.ino, (names.get(e.ino) ?? 0) + 1);
    }
    const n = state.inodes.get(ino)!;
    if (n.nlink !== 2 + subdirs) f.problem('namespace', 'dir-nlink', `ino ${ino}`, `${path}: nlink ${n.nlink}, expected ${2 + subdirs}`, { paths: [path] });
  }
  let orphans = 0;
  for (const n of state.inodes.values()) {
    checkPages(n, pathsOf.get(n.ino)?.[0] ?? `inode ${n.ino}`, f);
    if (n.dir) {
      if (!dirSeen.has(n.ino)) f.problem('namespace', 'unreachable', `ino ${n.ino}`, `directory inode ${n.ino} is not reachable from the root`);
      continue;
    }
    const found = names.get(n.ino) ?? 0;
    if (found === 0 && n.nlink === 0) {
      orphans++;
      continue;
    }
    if (found === 0) f.problem('namespace', 'unreachable', `ino ${n.ino}`, `${n.type} inode ${n.ino} has nlink ${n.nlink} but no name reaches it`);
    else if (n.nlink !== found) f.problem('namespace', 'nlink', `ino ${n.ino}`, `${pathsOf.get(n.ino)![0]}: nlink ${n.nlink}, but ${found} name(s) found`, { paths: pathsOf.get(n.ino) });
  }
  if (orphans) f.note('namespace', `${orphans} unlinked inode(s) with no name left (open when the image was last written); the next mount frees them and their pages`);
  f.count('inodes', state.inodes.size);
  f.count('directories', dirSeen.size);
  return { pathsOf };
}

function checkPages(n: Inode, path: string, f: Findings): void {
  if (!n.pages) return;
  const pagesMax = Math.ceil(n.sizeBytes / PAGE_SIZE_BYTES);
  for (const index of n.pages.keys()) {
    if (index >= pagesMax) {
      f.problem('namespace', 'page-past-eof', `ino ${n.ino}`, `${path}: page ${index} lies past the end of the file (${n.sizeBytes} bytes)`, { paths: [path] });
      return;
    }
  }
}
