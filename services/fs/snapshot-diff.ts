/**
 * Comparing and measuring trees of objects (tree.ts): diff of two roots, and the figures
 * `snapshotList` reports. Pure functions over an ObjectSource; nothing here changes state.
 *
 * Diff walks both trees together and skips every pair of equal hashes (entries, and the
 * equal pieces of two split directories, tree.ts), so its cost grows with the difference,
 * not the tree. Every path under an added or removed directory is
 * listed (the directory first). A path whose kind changed is 'type'. A file is 'modified'
 * when its pages, size, mode or owner differ (`what` says which); a directory when its
 * mode or owner differ; a symlink when its target, mode or owner differ. Times alone are not a
 * change (every directory above a change has a new mtime). Under a 'type' change the
 * old directory's paths are listed as removed, the new one's as added. Paths come in name order,
 * depth first; each starts with '/'.
 *
 * Renames. A removed path and an added path whose objects are alike (pairRenames: the same
 * kind, mode, owner and contents, times aside; for a directory, alike names and children
 * all the way down) become one 'renamed' entry at the new path with `from` the old one, and
 * a renamed directory's paths below it are not listed. Candidates are every removed and
 * every added path (under added or removed directories too, not 'type' changes); removed
 * paths are taken shallowest first, then in code-unit order, each pairing with the first
 * alike added path in the same order that is not taken or under a taken directory. Only
 * paths already listed are compared, so renames cost what the difference costs. A diff
 * cut at its limit (`truncated`) is not paired.
 */
import { blake3 } from '@noble/hashes/blake3.js';
import { encode } from '../../kernel/codec.ts';
import { hashKey } from './pages.ts';
import { asNode, childrenOf, sameHash, typeOf, type NodeObject, type ObjectSource, type TreeObject } from './tree.ts';
import type { DiffEntry } from './protocol.ts';

export type { DiffEntry };
type ChangeField = NonNullable<DiffEntry['what']>[number];

/** Bounds a diff's reply: a larger difference is cut and `truncated` set. */
export const DIFF_ENTRIES_MAX = 100_000;

function need(src: ObjectSource, hash: Uint8Array): NodeObject {
  return asNode(needAny(src, hash), `diff: object ${hashKey(hash)}`);
}

function needAny(src: ObjectSource, hash: Uint8Array): TreeObject {
  const o = src.object(hash);
  if (!o) throw new Error(`diff: object ${hashKey(hash)} is not available`);
  return o;
}

/** Where each piece of a split directory starts, by entry index -> piece hash (empty for a 'd' directory). */
function pieceStarts(o: Extract<TreeObject, { kind: 'dir' }>): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  let at = 0;
  for (const p of o.pieces ?? []) {
    out.set(at, p.hash);
    at += p.count;
  }
  return out;
}

function sizeOf(o: TreeObject): number | undefined {
  return o.kind === 'file' ? o.sizeBytes : undefined;
}

/** Equal contents: the same chunks at the same pages (a page without a chunk reads as zeros, as a hole does). */
function samePages(a: Extract<TreeObject, { kind: 'file' }>, b: Extract<TreeObject, { kind: 'file' }>): boolean {
  const pa = a.pages.filter((p) => p[1] !== null);
  const pb = b.pages.filter((p) => p[1] !== null);
  if (pa.length !== pb.length) return false;
  for (let i = 0; i < pa.length; i++) {
    const [ia, ha, la] = pa[i];
    const [ib, hb, lb] = pb[i];
    if (ia !== ib || la !== lb || !sameHash(ha!, hb!)) return false;
  }
  return true;
}

function fieldsChanged(a: NodeObject, b: NodeObject): ChangeField[] {
  const out: ChangeField[] = [];
  if (a.kind === 'file' && b.kind === 'file') {
    if (!samePages(a, b)) out.push('content');
    if (a.sizeBytes !== b.sizeBytes) out.push('size');
  }
  if (a.mode !== b.mode) out.push('mode');
  if (a.uid !== b.uid || a.gid !== b.gid) out.push('owner');
  if (a.kind === 'symlink' && b.kind === 'symlink' && a.target !== b.target) out.push('target');
  return out;
}

/** An entry with, for an added or removed path, the time-blind key of its object (likeKey). */
type Listed = DiffEntry & { key?: string };

/** Hex key of an object's kind, mode, owner and contents, times aside; a directory's from its entries' names and keys. */
function likeKey(o: NodeObject, childKeys: string[]): string {
  let value: unknown[];
  if (o.kind === 'file') value = ['f', o.mode, o.uid, o.gid, o.sizeBytes, o.pages];
  else if (o.kind === 'symlink') value = ['l', o.mode, o.uid, o.gid, o.target];
  else value = ['d', o.mode, o.uid, o.gid, o.entries.map(([name], i) => [name, childKeys[i]])];
  return hashKey(blake3(encode(value)));
}

function depthOf(path: string): number {
  let n = 0;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 47) n++;
  return n;
}

/** Whether some proper ancestor of `path` is in `dirs` (costs the path's depth). */
function underAny(path: string, dirs: Set<string>): boolean {
  if (dirs.size === 0) return false;
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) if (dirs.has(path.slice(0, i))) return true;
  return false;
}

function byDepthThenPath(a: { path: string }, b: { path: string }): number {
  return depthOf(a.path) - depthOf(b.path) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
}

/** Folds alike removed/added pairs into 'renamed' entries (the rule is in the header). */
export function pairRenames(entries: Listed[]): DiffEntry[] {
  const removed = entries.filter((e) => e.change === 'removed' && e.key !== undefined).sort(byDepthThenPath);
  const addedByKey = new Map<string, Listed[]>();
  for (const e of [...entries].filter((x) => x.change === 'added' && x.key !== undefined).sort(byDepthThenPath)) {
    let list = addedByKey.get(e.key!);
    if (!list) addedByKey.set(e.key!, (list = []));
    list.push(e);
  }
  if (addedByKey.size === 0 || removed.length === 0) return entries.map(strip);
  const takenDirs = { removed: new Set<string>(), added: new Set<string>() };
  const gone = new Set<Listed>();
  const renamedAt = new Map<Listed, DiffEntry>();
  const isTaken = (e: Listed, side: 'removed' | 'added') => gone.has(e) || underAny(e.path, takenDirs[side]);
  for (const r of removed) {
    if (isTaken(r, 'removed')) continue;
    const a = addedByKey.get(r.key!)?.find((x) => !isTaken(x, 'added'));
    if (!a) continue;
    gone.add(r).add(a);
    if (r.type === 'dir') {
      takenDirs.removed.add(r.path);
      takenDirs.added.add(a.path);
    }
    renamedAt.set(a, { path: a.path, change: 'renamed', from: r.path, type: a.type, sizeBytesBefore: r.sizeBytesBefore, sizeBytesAfter: a.sizeBytesAfter });
  }
  if (renamedAt.size === 0) return entries.map(strip);
  const out: DiffEntry[] = [];
  for (const e of entries) {
    const renamed = renamedAt.get(e);
    if (renamed) out.push(renamed);
    else if (e.key !== undefined && isTaken(e, e.change as 'removed' | 'added')) continue;
    else out.push(strip(e));
  }
  return out;
}

function strip(e: Listed): DiffEntry {
  if (e.key === undefined) return e;
  const { key: _key, ...rest } = e;
  return rest;
}

export function diffTrees(src: ObjectSource, rootA: Uint8Array, rootB: Uint8Array, limit = DIFF_ENTRIES_MAX): { entries: DiffEntry[]; truncated: boolean } {
  const out: Listed[] = [];
  let truncated = false;
  const push = (e: Listed): boolean => {
    if (out.length >= limit) {
      truncated = true;
      return false;
    }
    out.push(e);
    return true;
  };
  /** Lists `o` and everything under it; returns its likeKey. */
  const whole = (path: string, o: NodeObject, change: 'added' | 'removed'): string => {
    const size = sizeOf(o);
    const e: Listed = { path, change, type: typeOf(o), ...(change === 'added' ? { sizeBytesAfter: size } : { sizeBytesBefore: size }) };
    if (!push(e)) return '';
    const childKeys = o.kind === 'dir' ? o.entries.map(([name, , h]) => whole(join(path, name), need(src, h), change)) : [];
    e.key = likeKey(o, childKeys);
    return e.key;
  };
  const walk = (path: string, ha: Uint8Array, hb: Uint8Array): void => {
    if (truncated || sameHash(ha, hb)) return;
    const a = need(src, ha);
    const b = need(src, hb);
    if (a.kind !== b.kind) {
      push({ path, change: 'type', type: b.kind, sizeBytesBefore: sizeOf(a), sizeBytesAfter: sizeOf(b) });
      if (a.kind === 'dir') for (const [name, , h] of a.entries) whole(join(path, name), need(src, h), 'removed');
      if (b.kind === 'dir') for (const [name, , h] of b.entries) whole(join(path, name), need(src, h), 'added');
      return;
    }
    const what = fieldsChanged(a, b);
    if (what.length) push({ path, change: 'modified', type: b.kind, sizeBytesBefore: sizeOf(a), sizeBytesAfter: sizeOf(b), what });
    if (a.kind !== 'dir' || b.kind !== 'dir') return;
    // Split directories: where both sides start an equal piece, its entries are equal; skip it whole.
    const startsA = a.pieces && b.pieces ? pieceStarts(a) : undefined;
    const startsB = startsA ? pieceStarts(b) : undefined;
    const countA = new Map<number, number>();
    if (startsA) {
      let at = 0;
      for (const p of a.pieces!) {
        countA.set(at, p.count);
        at += p.count;
      }
    }
    let i = 0;
    let j = 0;
    while (i < a.entries.length || j < b.entries.length) {
      if (startsA) {
        const pa = startsA.get(i);
        const pb = pa && startsB!.get(j);
        if (pb && sameHash(pa, pb)) {
          const n = countA.get(i)!;
          i += n;
          j += n;
          continue;
        }
      }
      const ea = a.entries[i];
      const eb = b.entries[j];
      if (eb === undefined || (ea !== undefined && ea[0] < eb[0])) {
        whole(join(path, ea[0]), need(src, ea[2]), 'removed');
        i++;
      } else if (ea === undefined || eb[0] < ea[0]) {
        whole(join(path, eb[0]), need(src, eb[2]), 'added');
        j++;
      } else {
        if (!sameHash(ea[2], eb[2])) walk(join(path, ea[0]), ea[2], eb[2]); // equal: skipped before making its path
        i++;
        j++;
      }
    }
  };
  walk('/', rootA, rootB);
  return { entries: truncated ? out.map(strip) : pairRenames(out), truncated };
}

function join(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

export interface TreeFigures {
  fileCount: number;
  dirCount: number;
  /** Logical bytes of its files. */
  sizeBytes: number;
}

/** Counts of a tree; `memo` (by object hash) lets trees that share subtrees share the work. */
export function treeFigures(src: ObjectSource, root: Uint8Array, memo: Map<string, TreeFigures>): TreeFigures {
  const k = hashKey(root);
  const known = memo.get(k);
  if (known) return known;
  const o = needAny(src, root);
  const f: TreeFigures = { fileCount: 0, dirCount: 0, sizeBytes: 0 };
  if (o.kind === 'dir' || o.kind === 'piece') {
    // A split directory sums its pieces (memoised: an unchanged piece costs one lookup), a piece its entries.
    if (o.kind === 'dir') f.dirCount = 1;
    for (const h of childrenOf(o)) {
      const c = treeFigures(src, h, memo);
      f.fileCount += c.fileCount;
      f.dirCount += c.dirCount;
      f.sizeBytes += c.sizeBytes;
    }
  } else if (o.kind === 'file') {
    f.fileCount = 1;
    f.sizeBytes = o.sizeBytes;
  }
  memo.set(k, f);
  return f;
}

/** Distinct page chunks a tree reaches: hex hash -> stored length in bytes. */
export function treePages(src: ObjectSource, root: Uint8Array, into = new Map<string, number>(), seen = new Set<string>()): Map<string, number> {
  const k = hashKey(root);
  if (seen.has(k)) return into;
  seen.add(k);
  const o = needAny(src, root);
  if (o.kind === 'dir' || o.kind === 'piece') for (const h of childrenOf(o)) treePages(src, h, into, seen);
  else if (o.kind === 'file') for (const [, h, l] of o.pages) if (h) into.set(hashKey(h), Math.max(l, into.get(hashKey(h)) ?? 0));
  return into;
}
