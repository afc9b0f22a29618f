// A random-operation check of snapshots: ordinary changes interleaved with snapshot
// create, restore, delete and diff, and remounts. The model of a snapshot is the dump of
// the live tree (dumpFs, without nlink: a snapshot does not keep hard-link identity) taken
// when it was made; after a restore the live tree must equal it, a diff must equal the
// difference of two dumps, and a remount keeps everything. Ordinary operations are checked
// against the reference model elsewhere (model-check.ts); here they only make changes.
import { expect } from 'vitest';
import fc from 'fast-check';
import { ServiceError } from '../../kernel/errors.ts';
import type { DiffEntry, FsClient } from '../../services/fs/protocol.ts';
import { dumpFs, type Subject } from './model-check.ts';

const PATHS = ['/a', '/b', '/d/a', '/d/b', '/d/e/a', '/d/e/b'];
const DIRS = ['/d', '/d/e'];
const SNAPS = ['s0', 's1', 's2'];
/** Where 'movedir' moves a directory of DIRS to. */
const MOVE_TARGETS = ['/m', '/d/m'];

export type SnapOp =
  | { kind: 'write'; path: number; offsetBytes: number; lengthBytes: number; seed: number }
  | { kind: 'truncate'; path: number; sizeBytes: number }
  | { kind: 'mkdir' | 'rmdir'; dir: number }
  | { kind: 'unlink'; path: number }
  | { kind: 'rename' | 'clone'; path: number; path2: number }
  | { kind: 'chmod'; path: number; mode: number }
  | { kind: 'symlink'; path: number }
  | { kind: 'create' | 'restore' | 'delete'; snap: number }
  | { kind: 'diff'; snap: number; to: number }
  | { kind: 'movedir'; dir: number; to: number }
  | { kind: 'remount' };

const KIB = 1024;
export const snapOpArb: fc.Arbitrary<SnapOp> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('write' as const), path: fc.nat(PATHS.length - 1), offsetBytes: fc.oneof(fc.nat(140 * KIB), fc.constant(0)), lengthBytes: fc.integer({ min: 1, max: 70 * KIB }), seed: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), path: fc.nat(PATHS.length - 1), sizeBytes: fc.nat(140 * KIB) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('mkdir' as const, 'rmdir' as const), dir: fc.nat(DIRS.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unlink' as const), path: fc.nat(PATHS.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('rename' as const, 'clone' as const), path: fc.nat(PATHS.length - 1), path2: fc.nat(PATHS.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('chmod' as const), path: fc.nat(PATHS.length - 1), mode: fc.constantFrom(0o600, 0o644, 0o755) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('symlink' as const), path: fc.nat(PATHS.length - 1) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constantFrom('create' as const, 'restore' as const, 'delete' as const), snap: fc.nat(SNAPS.length - 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('diff' as const), snap: fc.nat(SNAPS.length - 1), to: fc.nat(SNAPS.length) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'remount' as const }) },
);

/** A tree to move things in (/a, /b, /d/a, /d/e/a, /d/e/b) and snapshot s0 of it: what renameOpArb's scripts start from. */
export const RENAME_SETUP: SnapOp[] = [
  { kind: 'mkdir', dir: 0 },
  { kind: 'mkdir', dir: 1 },
  ...[0, 1, 2, 4, 5].map((path, i): SnapOp => ({ kind: 'write', path, offsetBytes: 0, lengthBytes: 1000 + 999 * i, seed: i })),
  { kind: 'create', snap: 0 },
];

/**
 * Moves more than it writes, with one snapshot name and diffs mostly to the live tree: a
 * script that makes diffs with renames (of files and of whole directories) likely.
 */
export const renameOpArb: fc.Arbitrary<SnapOp> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('write' as const), path: fc.nat(PATHS.length - 1), offsetBytes: fc.constant(0), lengthBytes: fc.integer({ min: 1, max: 70 * KIB }), seed: fc.nat(3) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('rename' as const), path: fc.nat(PATHS.length - 1), path2: fc.nat(PATHS.length - 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('movedir' as const), dir: fc.nat(DIRS.length - 1), to: fc.nat(MOVE_TARGETS.length - 1) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('mkdir' as const), dir: fc.nat(DIRS.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unlink' as const), path: fc.nat(PATHS.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('clone' as const), path: fc.nat(PATHS.length - 1), path2: fc.nat(PATHS.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('symlink' as const), path: fc.nat(PATHS.length - 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('create' as const), snap: fc.constant(0) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restore' as const), snap: fc.constant(0) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('diff' as const), snap: fc.constant(0), to: fc.constantFrom(0, SNAPS.length, SNAPS.length) }) },
);

function bytes(lengthBytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(lengthBytes);
  let x = seed | 1;
  for (let i = 0; i < lengthBytes; i++) out[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24 || 1;
  return out;
}

type Dump = Record<string, string>;

export async function snapDump(fs: FsClient): Promise<Dump> {
  const d = await dumpFs(fs);
  for (const k of Object.keys(d)) d[k] = d[k].replace(/ nlink=\d+/, '');
  return d;
}

/** A path's likeness in a dump: its line, and for a directory every line below it by relative path. */
function likeness(d: Dump, path: string): string {
  const v = d[path];
  if (!v.startsWith('dir ')) return v;
  const prefix = path === '/' ? '/' : `${path}/`;
  const below = Object.keys(d).filter((p) => p.startsWith(prefix)).sort().map((p) => `${p.slice(prefix.length)}=${d[p]}`);
  return [v, ...below].join('\n');
}

const depth = (p: string) => p.split('/').length;
const order = (x: string, y: string) => depth(x) - depth(y) || (x < y ? -1 : x > y ? 1 : 0);
const inside = (p: string, dirs: Set<string>) => [...dirs].some((d) => p.startsWith(`${d}/`));

/**
 * What a diff from `a` to `b` must say, from two dumps: [path, change] sorted by path. A
 * removed and an added path alike in every line (a directory: with all below it) are one
 * rename, paired as snapshot-diff.ts says: removed shallowest first then by path, each with
 * the first alike added path in that order not taken or under a taken directory.
 */
export function modelDiff(a: Dump, b: Dump): string[] {
  const out: string[] = [];
  const removed: string[] = [];
  const added: string[] = [];
  const parts = (v: string) => v.split(' '); // type mode size [detail]
  for (const p of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[p];
    const y = b[p];
    if (x === undefined) added.push(p);
    else if (y === undefined) removed.push(p);
    else {
      const [tx, mx] = parts(x);
      const [ty, my] = parts(y);
      if (tx !== ty) out.push(`${p} type`);
      else if (tx === 'dir' ? mx !== my : x !== y) out.push(`${p} modified`);
    }
  }
  removed.sort(order);
  added.sort(order);
  const taken = new Set<string>();
  const takenDirs = { removed: new Set<string>(), added: new Set<string>() };
  for (const r of removed) {
    if (inside(r, takenDirs.removed)) continue;
    const like = likeness(a, r);
    const to = added.find((x) => !taken.has(x) && !inside(x, takenDirs.added) && likeness(b, x) === like);
    if (to === undefined) continue;
    taken.add(r).add(to);
    if (a[r].startsWith('dir ')) {
      takenDirs.removed.add(r);
      takenDirs.added.add(to);
    }
    out.push(`${to} renamed from ${r}`);
  }
  for (const p of removed) if (!taken.has(p) && !inside(p, takenDirs.removed)) out.push(`${p} removed`);
  for (const p of added) if (!taken.has(p) && !inside(p, takenDirs.added)) out.push(`${p} added`);
  return out.sort();
}

export function shownDiff(entries: DiffEntry[]): string[] {
  return entries.map((e) => (e.change === 'renamed' ? `${e.path} renamed from ${e.from}` : `${e.path} ${e.change}`)).sort();
}

async function attempt(f: () => Promise<unknown>): Promise<void> {
  try {
    await f();
  } catch (e) {
    if (!(e instanceof ServiceError)) throw e;
  }
}

function split(path: string): [string, string] {
  const i = path.lastIndexOf('/');
  return [path.slice(0, i) || '/', path.slice(i + 1)];
}

/** Runs one script; throws on the first disagreement. Returns how many 'renamed' entries its diffs had. */
export async function runSnapshotCheck(open: () => Promise<Subject>, script: SnapOp[]): Promise<{ renamed: number }> {
  let renamed = 0;
  const subject = await open();
  let fs = subject.fs;
  const model = new Map<string, Dump>();
  const parentIno = async (path: string) => (await fs.resolve(split(path)[0], false)).ino;
  try {
    for (const op of script) {
      const where = JSON.stringify(op);
      switch (op.kind) {
        case 'write':
          await attempt(async () => {
            const path = PATHS[op.path];
            const parent = await parentIno(path);
            let handle: number;
            try {
              handle = (await fs.open((await fs.resolve(path, false)).ino, { read: true, write: true })).handle;
            } catch {
              handle = (await fs.create(parent, split(path)[1], 0o644)).handle;
            }
            try {
              await fs.write(handle, op.offsetBytes, bytes(op.lengthBytes, op.seed));
            } finally {
              await fs.close(handle);
            }
          });
          break;
        case 'truncate':
          await attempt(async () => fs.truncate((await fs.resolve(PATHS[op.path], false)).ino, op.sizeBytes));
          break;
        case 'mkdir':
        case 'rmdir':
          await attempt(async () => (op.kind === 'mkdir' ? fs.mkdir(await parentIno(DIRS[op.dir]), split(DIRS[op.dir])[1]) : fs.rmdir(await parentIno(DIRS[op.dir]), split(DIRS[op.dir])[1])));
          break;
        case 'unlink':
          await attempt(async () => fs.unlink(await parentIno(PATHS[op.path]), split(PATHS[op.path])[1]));
          break;
        case 'rename':
          await attempt(async () => fs.rename(await parentIno(PATHS[op.path]), split(PATHS[op.path])[1], await parentIno(PATHS[op.path2]), split(PATHS[op.path2])[1]));
          break;
        case 'clone': {
          // A clone is a copy: afterwards the two paths dump alike (and, for a directory, so does every path under them).
          let made = false;
          await attempt(async () => {
            await fs.clone((await fs.resolve(PATHS[op.path], false)).ino, await parentIno(PATHS[op.path2]), split(PATHS[op.path2])[1]);
            made = true;
          });
          if (made) {
            const d = await snapDump(fs);
            expect(d[PATHS[op.path2]], where).toBe(d[PATHS[op.path]]);
          }
          break;
        }
        case 'movedir':
          await attempt(async () => fs.rename(await parentIno(DIRS[op.dir]), split(DIRS[op.dir])[1], await parentIno(MOVE_TARGETS[op.to]), split(MOVE_TARGETS[op.to])[1]));
          break;
        case 'chmod':
          await attempt(async () => fs.setattr((await fs.resolve(PATHS[op.path], false)).ino, { mode: op.mode }));
          break;
        case 'symlink':
          await attempt(async () => fs.symlink(await parentIno(PATHS[op.path]), split(PATHS[op.path])[1], `t${op.path}`));
          break;
        case 'create': {
          const name = SNAPS[op.snap];
          if (model.has(name)) {
            await expect(fs.snapshotCreate(name), where).rejects.toMatchObject({ code: 'EEXIST' });
            break;
          }
          const info = await fs.snapshotCreate(name);
          model.set(name, await snapDump(fs));
          expect(info.name).toBe(name);
          break;
        }
        case 'restore': {
          const name = SNAPS[op.snap];
          if (!model.has(name)) {
            await expect(fs.snapshotRestore(name), where).rejects.toMatchObject({ code: 'ENOENT' });
            break;
          }
          const before = await snapDump(fs);
          const saved = await fs.snapshotRestore(name);
          expect(await snapDump(fs), where).toEqual(model.get(name));
          model.set(saved, before);
          break;
        }
        case 'delete': {
          const name = SNAPS[op.snap];
          if (!model.has(name)) {
            await expect(fs.snapshotDelete(name), where).rejects.toMatchObject({ code: 'ENOENT' });
            break;
          }
          await fs.snapshotDelete(name);
          model.delete(name);
          break;
        }
        case 'diff': {
          const from = SNAPS[op.snap];
          const to = op.to < SNAPS.length ? SNAPS[op.to] : undefined;
          if (!model.has(from) || (to !== undefined && !model.has(to))) {
            await expect(fs.snapshotDiff(from, to), where).rejects.toMatchObject({ code: 'ENOENT' });
            break;
          }
          const b = to === undefined ? await snapDump(fs) : model.get(to)!;
          const r = await fs.snapshotDiff(from, to);
          expect(shownDiff(r.entries), where).toEqual(modelDiff(model.get(from)!, b));
          renamed += r.entries.filter((e) => e.change === 'renamed').length;
          break;
        }
        case 'remount':
          fs = await subject.remount();
          break;
      }
    }
    const live = await snapDump(fs);
    const names = (await fs.snapshotList()).map((s) => s.name).sort();
    expect(names).toEqual([...model.keys()].sort());
    fs = await subject.remount();
    expect(await snapDump(fs)).toEqual(live);
    expect((await fs.snapshotList()).map((s) => s.name).sort()).toEqual(names);
    // Every snapshot still restores to its model after the remount.
    for (const [name, dump] of [...model].filter(([n]) => SNAPS.includes(n))) {
      await fs.snapshotRestore(name);
      expect(await snapDump(fs), `restore ${name} after remount`).toEqual(dump);
    }
    return { renamed };
  } finally {
    await subject.close();
  }
}
