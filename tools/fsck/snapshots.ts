/**
 * Snapshots' Merkle trees, walked from each root through the content store as rebuilt
 * offline: every object must be a stored chunk whose bytes hash to its name and decode
 * as a tree object (an indirect file manifest with every part it names, a split directory
 * with every piece it names, each reached too; an entry may not name a piece), and every
 * page a file manifest names must be a stored chunk. Objects
 * shared by many snapshots are checked once. The walk is bounded by the number of chunks.
 *
 * Also yields the roots a gc would be given for snapshots (every object and page they
 * reach), and for each chunk the snapshot paths that name it (to say what a bad chunk
 * affects).
 */
import { decodeObject, partsNamed, type TreeObject } from '../../services/fs/tree.ts';
import { hashKey } from '../../services/fs/pages.ts';
import type { FsState } from '../../services/fs/state.ts';
import type { ContentView } from './content.ts';
import type { Findings } from './report.ts';
import { PATHS_PER_CHUNK_MAX } from './limits.ts';

export interface SnapshotView {
  /** Hex hashes of every object and page some snapshot reaches. */
  reached: Set<string>;
  /** Hex hash -> snapshot paths naming it (bounded per hash). */
  pathsOf: Map<string, string[]>;
}


export async function checkSnapshots(state: FsState, content: ContentView, f: Findings): Promise<SnapshotView> {
  const reached = new Set<string>();
  const pathsOf = new Map<string, string[]>();
  const note = (k: string, path: string) => {
    const list = pathsOf.get(k) ?? [];
    if (list.length < PATHS_PER_CHUNK_MAX) list.push(path);
    pathsOf.set(k, list);
  };
  const decoded = new Map<string, TreeObject | null>();
  const budget = content.index.size + 1;
  let objects = 0;
  for (const [name, snap] of state.snapshots) {
    const todo: { hash: Uint8Array; path: string }[] = [{ hash: snap.root, path: `/.snapshots/${name}` }];
    let steps = 0;
    while (todo.length) {
      const { hash, path } = todo.pop()!;
      const k = hashKey(hash);
      note(k, path);
      if (++steps > budget * 4 + 16) {
        f.problem('snapshot', 'walk-bound', name, `snapshot '${name}': the walk passed ${steps} objects, more than the store holds`);
        break;
      }
      let obj = decoded.get(k);
      if (obj === undefined) {
        const loaded = await loadObject(hash, content, name, path, f);
        obj = loaded.obj;
        decoded.set(k, obj);
        reached.add(k);
        for (const part of loaded.parts) {
          reached.add(hashKey(part));
          note(hashKey(part), path);
        }
        objects++;
        if (obj?.kind === 'file') {
          for (const [index, page] of obj.pages) {
            if (!page) continue;
            const pk = hashKey(page);
            reached.add(pk);
            note(pk, path);
            if (!content.index.get(pk)) f.problem('snapshot', 'missing-page', `${name}:${pk}`, `${path}: page ${index} names chunk ${pk}, which is not stored`, { paths: [path] });
          }
        }
      } else if (obj?.kind === 'file') for (const [, page] of obj.pages) if (page) note(hashKey(page), path);
      if (obj?.kind === 'dir') for (const [child, , h] of obj.entries) todo.push({ hash: h, path: `${path}/${child}` });
    }
    const held = state.held.get(hashKey(snap.root));
    if (!held) f.problem('snapshot', 'root-not-held', name, `snapshot '${name}': its root ${hashKey(snap.root)} is not among the held objects`);
  }
  f.count('snapshots', state.snapshots.size);
  f.count('snapshot objects', objects);
  return { reached, pathsOf };
}

async function loadObject(hash: Uint8Array, content: ContentView, snapshot: string, path: string, f: Findings): Promise<{ obj: TreeObject | null; parts: Uint8Array[] }> {
  const k = hashKey(hash);
  if (!content.index.get(k)) {
    f.problem('snapshot', 'missing-object', `${snapshot}:${k}`, `${path}: tree object ${k} of snapshot '${snapshot}' is not stored`, { paths: [path] });
    return { obj: null, parts: [] };
  }
  const bytes = await content.read(hash).catch(() => undefined);
  if (!bytes) return { obj: null, parts: [] }; // a damaged chunk: refs.ts reports it once, with every path it affects
  let parts: Uint8Array[] = [];
  try {
    // An indirect file manifest (a file past one chunk's worth of pages) lists its parts, a split directory its pieces.
    parts = partsNamed(bytes);
    const partBytes = new Map<string, Uint8Array>();
    for (const part of parts) {
      const pk = hashKey(part);
      if (!content.index.get(pk)) {
        f.problem('snapshot', 'missing-object', `${snapshot}:${pk}`, `${path}: manifest part or directory piece ${pk} of snapshot '${snapshot}' is not stored`, { paths: [path] });
        return { obj: null, parts };
      }
      const pb = await content.read(part).catch(() => undefined);
      if (!pb) return { obj: null, parts }; // damaged: reported by refs.ts with its paths
      partBytes.set(pk, pb);
    }
    const obj = decodeObject(bytes, (h) => partBytes.get(hashKey(h)));
    if (obj.kind === 'piece') throw new Error('an entry names a directory piece, not a file, directory or symlink');
    return { obj, parts };
  } catch (e) {
    f.problem('snapshot', 'bad-object', `${snapshot}:${k}`, `${path}: tree object ${k} does not decode: ${(e as Error).message}`, { paths: [path] });
    return { obj: null, parts };
  }
}
