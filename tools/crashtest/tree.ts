/**
 * The namespace as the crash harness compares it: one line per path with type, mode,
 * size, link count and a content fingerprint (the same shape as FsModel.dump(), so a
 * recovered tree and the model's compare as plain records), and the per-path diff of two
 * trees for reports. Times and space accounting are left out: they differ by design.
 *
 * Every snapshot is part of the tree, under /.snapshots/NAME/... as the filesystem shows
 * it (read-only, found by lookup though the root's readdir does not list it), without link
 * counts (FsModel.dumpSnapshots()). So a crash verdict covers the snapshot list and every
 * byte of every snapshot: a snapshot half made, or a chunk only a snapshot holds swept
 * by gc (its read fails, and the dump with it), shows.
 */
import { ROOT_INO, type FsClient } from '../../services/fs/protocol.ts';
import { fingerprint, type FsModel } from '../model/fs-model.ts';

export type Tree = Record<string, string>;

const READ_CHUNK_BYTES = 1 << 20;
const READDIR_PAGE_ENTRIES = 100;

const SNAPSHOTS_DIR = '.snapshots';

/** The model's tree in dumpTree's shape: the live tree and every snapshot. */
export function modelTree(model: FsModel): Tree {
  return { ...model.dump(), ...model.dumpSnapshots() };
}

export async function dumpTree(fs: FsClient): Promise<Tree> {
  const out: Tree = {};
  await dumpFrom(fs, ROOT_INO, '', true, out);
  const snapshots = (await fs.lookup(ROOT_INO, SNAPSHOTS_DIR)).ino;
  for (const [name, ino] of await entries(fs, snapshots)) await dumpFrom(fs, ino, `/${SNAPSHOTS_DIR}/${name}`, false, out);
  return out;
}

/** A directory's entries, every page, sorted by name. */
async function entries(fs: FsClient, ino: number): Promise<[string, number][]> {
  const names: [string, number][] = [];
  for (let cookie = 0; ; ) {
    const page = await fs.readdir(ino, cookie, READDIR_PAGE_ENTRIES);
    for (const e of page.entries) names.push([e.name, e.ino]);
    if (page.eof || page.entries.length === 0) break;
    cookie = page.entries[page.entries.length - 1].cookie;
  }
  return names.sort();
}

async function dumpFrom(fs: FsClient, top: number, topPath: string, withLinks: boolean, out: Tree): Promise<void> {
  const visit = async (ino: number, path: string): Promise<void> => {
    const a = await fs.getattr(ino);
    let detail = '';
    if (a.type === 'file') {
      const { handle } = await fs.open(ino, { read: true });
      const chunks: Uint8Array[] = [];
      for (let off = 0; off < a.sizeBytes; off += READ_CHUNK_BYTES) chunks.push(await fs.read(handle, off, READ_CHUNK_BYTES));
      await fs.close(handle);
      detail = fingerprint(Buffer.concat(chunks));
    } else if (a.type === 'symlink') detail = `-> ${await fs.readlink(ino)}`;
    const links = withLinks ? ` nlink=${a.nlink}` : '';
    out[path || '/'] = `${a.type} ${a.mode.toString(8)} ${a.sizeBytes}${links} ${detail}`.trim();
    if (a.type === 'dir') for (const [name, child] of await entries(fs, ino)) await visit(child, `${path}/${name}`);
  };
  await visit(top, topPath);
}

export function sameTree(a: Tree, b: Tree): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export interface PathDiff {
  path: string;
  expected: string | null;
  actual: string | null;
}

/** Paths whose lines differ, in path order; null means the path is absent on that side. */
export function diffTrees(expected: Tree, actual: Tree): PathDiff[] {
  const paths = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
  return paths.filter((p) => expected[p] !== actual[p]).map((path) => ({ path, expected: expected[path] ?? null, actual: actual[path] ?? null }));
}
