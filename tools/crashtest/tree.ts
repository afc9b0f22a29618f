/**
 * The namespace as the crash harness compares it: one line per path with type, mode,
 * size, link count and a content fingerprint (the same shape as FsModel.dump(), so a
 * recovered tree and the model's compare as plain records), and the per-path diff of two
 * trees for reports. Times and space accounting are left out: they differ by design.
 */
import { ROOT_INO, type FsClient } from '../../services/fs/protocol.ts';
import { fingerprint } from '../model/fs-model.ts';

export type Tree = Record<string, string>;

const READ_CHUNK_BYTES = 1 << 20;
const READDIR_PAGE_ENTRIES = 100;

export async function dumpTree(fs: FsClient): Promise<Tree> {
  const out: Tree = {};
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
    out[path || '/'] = `${a.type} ${a.mode.toString(8)} ${a.sizeBytes} nlink=${a.nlink} ${detail}`.trim();
    if (a.type === 'dir') {
      const names: [string, number][] = [];
      for (let cookie = 0; ; ) {
        const page = await fs.readdir(ino, cookie, READDIR_PAGE_ENTRIES);
        for (const e of page.entries) names.push([e.name, e.ino]);
        if (page.eof || page.entries.length === 0) break;
        cookie = page.entries[page.entries.length - 1].cookie;
      }
      for (const [name, child] of names.sort()) await visit(child, `${path}/${name}`);
    }
  };
  await visit(ROOT_INO, '');
  return out;
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
