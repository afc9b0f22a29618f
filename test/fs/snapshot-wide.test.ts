// Wide directories in snapshots (tree.ts 'D' and its pieces 'e'): a known answer for the
// encoding and its piece boundaries; decoding refuses damaged pieces; a directory wider
// than one piece snapshotted, changed, diffed, restored and remounted against the model
// (dumps taken at snapshot time, as snapshot-check.ts), crossing the split threshold both
// ways; a change in a directory of 1,000 entries encodes one piece, not the list; a
// snapshot stored by the old form (one 'd' object however wide) still mounts, reads,
// diffs and restores; and over the whole stack, gc, a replaying reboot, a checkpoint
// reboot and the offline fsck keep and read the pieces.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { blake3 } from '@noble/hashes/blake3.js';
import { decode, encode } from '../../kernel/codec.ts';
import { ServiceError } from '../../kernel/errors.ts';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { hashKey } from '../../services/fs/pages.ts';
import { ROOT_INO, type FsClient } from '../../services/fs/protocol.ts';
import type { FsRecord } from '../../services/fs/records.ts';
import {
  decodeObject,
  DIR_DIRECT_ENTRIES_MAX,
  DIR_PIECE_ENTRIES_AVG,
  DIR_PIECE_ENTRIES_MAX,
  DIR_PIECE_ENTRIES_MIN,
  encodeStored,
  hashObject,
  partsNamed,
  pieceCounts,
  type EntryTuple,
  type TreeObject,
} from '../../services/fs/tree.ts';
import type { System } from '../../tools/system.ts';
import { fsckImage } from '../../tools/fsck/index.ts';
import { bootFsStack, formatTestDisk, MiB } from '../helpers/stack.ts';
import { memFs } from './mem-seams.ts';
import { modelDiff, shownDiff, snapDump } from './snapshot-check.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const utf8 = (s: string) => new TextEncoder().encode(s);

function katEntries(n: number): EntryTuple[] {
  return Array.from({ length: n }, (_, i) => `e${String(i).padStart(3, '0')}`).map((name): EntryTuple => [name, 'file', blake3(utf8(name))]);
}

function katDir(n: number): Extract<TreeObject, { kind: 'dir' }> {
  return { kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: [1, 2], entries: katEntries(n) };
}

/** FNV-1a of a name's UTF-16 code units, written out again here: the boundary rule is part of the format. */
function fnv(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

describe('split directory encoding', () => {
  it('keeps the d form (and the hash from before D) up to the limit, and splits past it (known answer)', () => {
    // These two hashes are what the code before 'D' existed gives for the same objects.
    expect(hex(hashObject(encodeStored(katDir(3)).bytes))).toBe('3222d8613e981509d3aacfd22943c3fff36fe8aef9086050894bfb827135e1a4');
    const at = katDir(DIR_DIRECT_ENTRIES_MAX);
    expect(hex(hashObject(encodeStored(at).bytes))).toBe('cfe27d7fc005bb8b29c7e1338fa900476e38ada8bb139a50f7b904f40952d82d');
    expect(at.pieces).toBeUndefined();

    const wide = katDir(300);
    const stored = encodeStored(wide);
    expect(pieceCounts(wide.entries)).toEqual([40, 23, 54, 157, 26]);
    expect(hex(hashObject(stored.bytes))).toBe('831453af37fd3051dfd96fe58fc40ad01417a3ab74b90f1b55b6f37494c283bc');
    // ['D', mode, uid, gid, mtime, [[pieceHash, count], ...]] and pieces ['e', [[name, type, hash], ...]].
    const v = decode(stored.bytes) as unknown[];
    expect(v.slice(0, 5)).toEqual(['D', 0o755, 0, 0, [1, 2]]);
    const refs = v[5] as [Uint8Array, number][];
    expect(refs.map((r) => r[1])).toEqual([40, 23, 54, 157, 26]);
    expect(stored.parts.map((p) => hex(hashObject(p)))).toEqual(refs.map((r) => hex(r[0])));
    expect(wide.pieces!.map((p) => [hex(p.hash), p.count])).toEqual(refs.map((r) => [hex(r[0]), r[1]]));
    let start = 0;
    stored.parts.forEach((p, i) => {
      expect(Buffer.from(p).equals(Buffer.from(encode(['e', wide.entries.slice(start, start + refs[i][1])])))).toBe(true);
      start += refs[i][1];
    });
    expect(partsNamed(stored.bytes).map(hex)).toEqual(refs.map((r) => hex(r[0])));
    const byHash = new Map(stored.parts.map((p) => [hashKey(hashObject(p)), p]));
    expect(decodeObject(stored.bytes, (h) => byHash.get(hashKey(h)))).toEqual(wide);
    // A wide directory stored whole (before 'D') decodes marked, and encodes to the same bytes again.
    const oldBytes = encode(['d', 0o755, 0, 0, [1, 2], katEntries(300)]);
    const old = decodeObject(oldBytes);
    expect(old).toMatchObject({ kind: 'dir', unsplit: true });
    expect(Buffer.from(encodeStored(old).bytes).equals(Buffer.from(oldBytes))).toBe(true);
    expect(old).not.toHaveProperty('pieces');
  });

  it('cuts pieces where names say, so an added name moves only the boundaries beside it', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: DIR_DIRECT_ENTRIES_MAX + 1, maxLength: 1500 }), fc.string({ minLength: 1, maxLength: 12 }), (names, extra) => {
        const sorted = [...names].sort();
        const entries = sorted.map((n): EntryTuple => [n, 'file', blake3(utf8(n))]);
        const counts = pieceCounts(entries);
        expect(counts.reduce((a, b) => a + b, 0)).toBe(entries.length);
        let at = 0;
        counts.forEach((c, i) => {
          at += c;
          const last = sorted[at - 1];
          expect(c).toBeLessThanOrEqual(DIR_PIECE_ENTRIES_MAX);
          if (i < counts.length - 1) expect(c === DIR_PIECE_ENTRIES_MAX || (c >= DIR_PIECE_ENTRIES_MIN && (fnv(last) & (DIR_PIECE_ENTRIES_AVG - 1)) === 0)).toBe(true);
        });
        // Adding a name leaves every piece that ends at a natural boundary before it as it was.
        if (sorted.includes(extra)) return;
        const more = [...sorted, extra].sort().map((n): EntryTuple => [n, 'file', blake3(utf8(n))]);
        const a = encodeStored({ kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: [0, 0], entries }).parts.map((p) => hex(hashObject(p)));
        const b = new Set(encodeStored({ kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: [0, 0], entries: more }).parts.map((p) => hex(hashObject(p))));
        const changed = a.filter((h) => !b.has(h)).length;
        // The piece the name falls in changes; a forced cut (at the maximum) can shift pieces up to the next natural boundary.
        if (counts.every((c) => c < DIR_PIECE_ENTRIES_MAX)) expect(changed).toBeLessThanOrEqual(2);
      }),
      { numRuns: 40 },
    );
  });

  it('refuses a piece that is missing, does not hash to its name, holds another count, or is named by an entry', () => {
    const stored = encodeStored(katDir(300));
    const byHash = new Map(stored.parts.map((p) => [hashKey(hashObject(p)), p]));
    expect(() => decodeObject(stored.bytes)).toThrow(/not available/);
    const first = hashKey(hashObject(stored.parts[0]));
    const tampered = new Map(byHash).set(first, stored.parts[1]);
    expect(() => decodeObject(stored.bytes, (h) => tampered.get(hashKey(h)))).toThrow(/does not hash/);
    const v = decode(stored.bytes) as unknown[];
    (v[5] as [Uint8Array, number][])[0][1] += 1;
    expect(() => decodeObject(encode(v), (h) => byHash.get(hashKey(h)))).toThrow(/holds 40 entries, not 41/);
    // Pieces out of order: names would not ascend.
    const w = decode(stored.bytes) as unknown[];
    const list = w[5] as [Uint8Array, number][];
    [list[0], list[1]] = [list[1], list[0]];
    expect(() => decodeObject(encode(w), (h) => byHash.get(hashKey(h)))).toThrow(/do not ascend/);
    expect(decodeObject(stored.parts[0]).kind).toBe('piece');
  });
});

// ---- against the model, over the engine with in-memory seams ----

/** Names of the wide directory's entries: varied, so pieces end at names and at the maximum alike. */
const nameOf = (i: number) => `${['a', 'k', 'q', 'z'][i % 4]}${(i * 7919) % 10007}-${i}`;
const NAMES = 340;
const START_FILES = 270; // past DIR_DIRECT_ENTRIES_MAX: split from the start
const SNAPS = ['s0', 's1'];

type WideOp =
  | { kind: 'write'; i: number; seed: number }
  | { kind: 'unlink'; i: number }
  | { kind: 'many'; add: boolean; from: number; count: number }
  | { kind: 'rename'; i: number; j: number }
  | { kind: 'mkdir'; i: number }
  | { kind: 'subwrite'; i: number; seed: number }
  | { kind: 'chmod'; i: number; mode: number }
  | { kind: 'link'; i: number; j: number }
  | { kind: 'create' | 'restore' | 'delete'; snap: number }
  | { kind: 'diff'; snap: number; to: number }
  | { kind: 'remount' };

/** Mostly a few hot names (some present from the start, some not), so ops meet on one entry: a file written after it was linked, a directory written into after it was made. */
const idx = fc.oneof(fc.integer({ min: START_FILES, max: START_FILES + 3 }), fc.integer({ min: 0, max: 3 }), fc.nat(NAMES - 1));
const wideOpArb: fc.Arbitrary<WideOp> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('write' as const), i: idx, seed: fc.nat(1000) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('unlink' as const), i: idx }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('many' as const), add: fc.boolean(), from: fc.nat(NAMES - 1), count: fc.integer({ min: 10, max: 80 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('rename' as const), i: idx, j: idx }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('mkdir' as const), i: idx }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('subwrite' as const), i: idx, seed: fc.nat(1000) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('chmod' as const), i: fc.oneof(fc.constant(-1), idx), mode: fc.constantFrom(0o700, 0o755, 0o644) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('link' as const), i: idx, j: idx }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constantFrom('create' as const, 'restore' as const, 'delete' as const), snap: fc.nat(SNAPS.length - 1) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('diff' as const), snap: fc.nat(SNAPS.length - 1), to: fc.nat(SNAPS.length) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'remount' as const }) },
);

async function attempt(f: () => Promise<unknown>): Promise<void> {
  try {
    await f();
  } catch (e) {
    if (!(e instanceof ServiceError)) throw e;
  }
}

async function writeFile(fs: FsClient, dir: number, name: string, data: Uint8Array): Promise<void> {
  let handle: number;
  try {
    handle = (await fs.open((await fs.lookup(dir, name)).ino, { write: true, truncate: true })).handle;
  } catch {
    handle = (await fs.create(dir, name, 0o644)).handle;
  }
  try {
    await fs.write(handle, 0, data);
  } finally {
    await fs.close(handle);
  }
}

/** The stored form of `/w` in the tree named by `rootHex`: 'd' or 'D', and its entry count. */
function formOfW(chunks: Map<string, Uint8Array>, rootHex: string): { tag: string; entries: number } | undefined {
  const get = (k: string) => chunks.get(k) ?? Uint8Array.of();
  const root = decodeObject(get(rootHex), (h) => chunks.get(hashKey(h)));
  if (root.kind !== 'dir') throw new Error('root is not a directory');
  const w = root.entries.find((e) => e[0] === 'w');
  if (!w) return undefined;
  const bytes = get(hashKey(w[2]));
  const obj = decodeObject(bytes, (h) => chunks.get(hashKey(h)));
  return { tag: (decode(bytes) as unknown[])[0] as string, entries: obj.kind === 'dir' ? obj.entries.length : -1 };
}

async function runWide(script: WideOp[]): Promise<{ split: number; direct: number }> {
  const subject = await memFs();
  let fs = subject.fs;
  const seen = { split: 0, direct: 0 };
  const model = new Map<string, Record<string, string>>();
  try {
    let w = (await fs.mkdir(ROOT_INO, 'w')).ino;
    for (let i = 0; i < START_FILES; i++) await writeFile(fs, w, nameOf(i), utf8(`start ${i}`));
    for (const op of script) {
      const where = JSON.stringify(op);
      switch (op.kind) {
        case 'write':
          await attempt(() => writeFile(fs, w, nameOf(op.i), utf8(`${op.seed} `.repeat(1 + (op.seed % 7)))));
          break;
        case 'unlink':
          await attempt(() => fs.unlink(w, nameOf(op.i)));
          break;
        case 'many':
          for (let k = 0; k < op.count; k++) {
            const name = nameOf((op.from + k) % NAMES);
            await attempt(() => (op.add ? writeFile(fs, w, name, utf8(`many ${k}`)) : fs.unlink(w, name)));
          }
          break;
        case 'rename':
          await attempt(() => fs.rename(w, nameOf(op.i), w, nameOf(op.j)));
          break;
        case 'mkdir':
          await attempt(() => fs.mkdir(w, nameOf(op.i)));
          break;
        case 'subwrite': // a file in a subdirectory of /w, made if the name is free (a child directory's object changes)
          await attempt(async () => {
            const sub = await fs.lookup(w, nameOf(op.i)).catch(() => fs.mkdir(w, nameOf(op.i)));
            await writeFile(fs, sub.ino, 'x', utf8(`sub ${op.seed}`));
          });
          break;
        case 'chmod': // /w itself (-1) or one of its entries
          await attempt(async () => fs.setattr(op.i < 0 ? w : (await fs.lookup(w, nameOf(op.i))).ino, { mode: op.mode }));
          break;
        case 'link': // a second name in /w for a file: one inode at two entries
          await attempt(async () => fs.link((await fs.lookup(w, nameOf(op.i))).ino, w, nameOf(op.j)));
          break;
        case 'create': {
          const name = SNAPS[op.snap];
          if (model.has(name)) {
            await expect(fs.snapshotCreate(name), where).rejects.toMatchObject({ code: 'EEXIST' });
            break;
          }
          const info = await fs.snapshotCreate(name);
          model.set(name, await snapDump(fs));
          const form = formOfW(subject.chunks.chunks, info.rootHash)!;
          expect(form.tag, where).toBe(form.entries > DIR_DIRECT_ENTRIES_MAX ? 'D' : 'd');
          seen[form.tag === 'D' ? 'split' : 'direct']++;
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
          w = (await fs.lookup(ROOT_INO, 'w')).ino; // a restore may give /w a new inode
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
          if (!model.has(from) || (to !== undefined && !model.has(to))) break;
          const b = to === undefined ? await snapDump(fs) : model.get(to)!;
          expect(shownDiff((await fs.snapshotDiff(from, to)).entries), where).toEqual(modelDiff(model.get(from)!, b));
          break;
        }
        case 'remount':
          fs = await subject.remount();
          w = (await fs.lookup(ROOT_INO, 'w')).ino;
          break;
      }
    }
    // Under /.snapshots every snapshot reads as its model (the view lists a split directory's entries).
    for (const [name, dump] of model) {
      const dir = (await fs.resolve(`/.snapshots/${name}/w`)).ino;
      const listed: string[] = [];
      for (let cookie = 0; ; ) {
        const page = await fs.readdir(dir, cookie, 100);
        listed.push(...page.entries.map((e) => e.name));
        if (page.eof || page.entries.length === 0) break;
        cookie = page.entries[page.entries.length - 1].cookie;
      }
      expect(listed.sort()).toEqual(Object.keys(dump).filter((p) => p.startsWith('/w/')).map((p) => p.slice(3)).filter((p) => !p.includes('/')).sort());
    }
    const live = await snapDump(fs);
    // Every snapshot against every other and against the live tree.
    for (const [from, a] of model) {
      expect(shownDiff((await fs.snapshotDiff(from)).entries), `diff ${from} live`).toEqual(modelDiff(a, live));
      for (const [to, b] of model) if (to !== from) expect(shownDiff((await fs.snapshotDiff(from, to)).entries), `diff ${from} ${to}`).toEqual(modelDiff(a, b));
    }
    fs = await subject.remount();
    expect(await snapDump(fs)).toEqual(live);
    for (const [name, dump] of [...model].filter(([n]) => SNAPS.includes(n))) {
      await fs.snapshotRestore(name);
      expect(await snapDump(fs), `restore ${name} after remount`).toEqual(dump);
    }
    return seen;
  } finally {
    await subject.close();
  }
}

describe('a directory wider than one piece, against the model', () => {
  it('create, change, diff, restore, delete and remount agree with dumps taken at snapshot time', async () => {
    const seen = { split: 0, direct: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(wideOpArb, { minLength: 8, maxLength: 30 }), async (script) => {
        const s = await runWide(script);
        seen.split += s.split;
        seen.direct += s.direct;
      }),
      { numRuns: 12 },
    );
    expect(seen.split).toBeGreaterThan(0); // the scripts did snapshot /w split
  }, 240_000);

  it('crosses the split threshold both ways', async () => {
    const down: WideOp[] = [{ kind: 'create', snap: 0 }, { kind: 'many', add: false, from: 0, count: 40 }, { kind: 'create', snap: 1 }, { kind: 'diff', snap: 0, to: 1 }, { kind: 'restore', snap: 0 }, { kind: 'diff', snap: 1, to: 2 }];
    expect(await runWide(down)).toEqual({ split: 1, direct: 1 });
    const up: WideOp[] = [{ kind: 'many', add: false, from: 0, count: 40 }, { kind: 'create', snap: 0 }, { kind: 'many', add: true, from: 0, count: 80 }, { kind: 'create', snap: 1 }, { kind: 'diff', snap: 0, to: 1 }, { kind: 'restore', snap: 0 }, { kind: 'restore', snap: 1 }];
    expect(await runWide(up)).toEqual({ split: 1, direct: 1 });
  }, 60_000);

  it('a change in a directory of 1,000 entries encodes the file, one piece, the directory and the root', async () => {
    const subject = await memFs();
    try {
      const { fs } = subject;
      const w = (await fs.mkdir(ROOT_INO, 'w')).ino;
      for (let i = 0; i < 1000; i++) await writeFile(fs, w, `n${i}`, utf8(`${i}`));
      await fs.snapshotCreate('a');
      const before = subject.engine().objectsEncoded();
      await writeFile(fs, w, 'n500', utf8('changed'));
      await fs.snapshotCreate('b');
      expect(subject.engine().objectsEncoded() - before).toBe(4);
      const diff = await fs.snapshotDiff('a', 'b');
      expect(diff.entries.map((e) => `${e.path} ${e.change}`)).toEqual(['/w/n500 modified']); // /w's new mtime alone is not a change
    } finally {
      await subject.close();
    }
  });
});

describe('a split directory re-made from what changed in it', () => {
  it('sees a change below a child directory, in a file at two names, and in its own attributes', async () => {
    const subject = await memFs();
    try {
      const { fs } = subject;
      const w = (await fs.mkdir(ROOT_INO, 'w')).ino;
      for (let i = 0; i < 300; i++) await writeFile(fs, w, `n${i}`, utf8(`${i}`));
      const sub = (await fs.mkdir(w, 'sub')).ino;
      await writeFile(fs, sub, 'x', utf8('x0'));
      await fs.link((await fs.lookup(w, 'n5')).ino, w, 'h');
      const steps: [string, () => Promise<unknown>, string[]][] = [
        ['a', async () => undefined, []],
        ['b', () => writeFile(fs, sub, 'x', utf8('x1')), ['/w/sub/x modified']],
        ['c', () => writeFile(fs, w, 'h', utf8('via h')), ['/w/h modified', '/w/n5 modified']],
        ['d', async () => fs.setattr(w, { mode: 0o700 }), ['/w modified']],
        ['e', async () => fs.setattr(sub, { mode: 0o700 }), ['/w/sub modified']],
      ];
      let prev: string | undefined;
      for (const [name, change, diff] of steps) {
        await change();
        const info = await fs.snapshotCreate(name);
        expect(formOfW(subject.chunks.chunks, info.rootHash)).toEqual({ tag: 'D', entries: 302 });
        if (prev) expect(shownDiff((await fs.snapshotDiff(prev, name)).entries), name).toEqual(diff);
        prev = name;
      }
      // Each snapshot reads back as the live tree was: the changed names under /.snapshots.
      const read = async (path: string) => {
        const { handle } = await fs.open((await fs.resolve(path)).ino, { read: true });
        try {
          return new TextDecoder().decode(await fs.read(handle, 0, 100));
        } finally {
          await fs.close(handle);
        }
      };
      expect([await read('/.snapshots/a/w/sub/x'), await read('/.snapshots/b/w/sub/x'), await read('/.snapshots/b/w/n5'), await read('/.snapshots/c/w/n5'), await read('/.snapshots/c/w/h')]).toEqual(['x0', 'x1', '5', 'via h', 'via h']);
    } finally {
      await subject.close();
    }
  });
});

describe('a split directory a restore put in place', () => {
  it('is stored whole by a later snapshot after the one it came from is deleted', async () => {
    const subject = await memFs();
    try {
      let fs = subject.fs;
      const w = (await fs.mkdir(ROOT_INO, 'w')).ino;
      for (let i = 0; i < 300; i++) await writeFile(fs, w, `n${i}`, utf8(`${i}`));
      await fs.snapshotCreate('a');
      const dumpA = await snapDump(fs);
      await writeFile(fs, w, 'n1', utf8('changed'));
      await fs.snapshotRestore('a'); // the live /w is now a's object, taken as it is
      await fs.snapshotDelete('a'); // nothing holds the live tree's pieces but pre-restore-1's shared ones
      const c = await fs.snapshotCreate('c');
      expect(formOfW(subject.chunks.chunks, c.rootHash)).toEqual({ tag: 'D', entries: 300 });
      fs = await subject.remount(); // replay loads c's tree, every piece, from the store
      expect((await fs.snapshotDiff('c')).entries).toEqual([]);
      await writeFile(fs, (await fs.lookup(ROOT_INO, 'w')).ino, 'n2', utf8('again'));
      await fs.snapshotRestore('c');
      expect(await snapDump(fs)).toEqual(dumpA);
    } finally {
      await subject.close();
    }
  });
});

describe('a snapshot stored in the old form (one d object however wide)', () => {
  it('mounts, reads under /.snapshots, diffs and restores', async () => {
    const subject = await memFs();
    try {
      let fs = subject.fs;
      const w = (await fs.mkdir(ROOT_INO, 'w')).ino;
      for (let i = 0; i < 300; i++) await writeFile(fs, w, nameOf(i), utf8(`old ${i}`));
      await fs.snapshotCreate('old');
      const dump = await snapDump(fs);
      // Rewrite the snapshot as the code before 'D' stored it: every directory one 'd'
      // object; files as they were. Then point its FsSnapshotCreate at the old root.
      const chunks = subject.chunks.chunks;
      const toOld = (hash: Uint8Array): Uint8Array => {
        const bytes = chunks.get(hashKey(hash))!;
        const o = decodeObject(bytes, (h) => chunks.get(hashKey(h)));
        if (o.kind !== 'dir') return hash;
        const entries = o.entries.map(([n, t, h]): EntryTuple => [n, t, t === 'dir' ? toOld(h) : h]);
        const old = encode(['d', o.mode, o.uid, o.gid, o.mtime, entries]);
        const oldHash = blake3(old);
        chunks.set(hashKey(oldHash), old);
        return oldHash;
      };
      const record = subject.log.transactions.flat().find((r): r is Extract<FsRecord, { type: 'FsSnapshotCreate' }> => r.type === 'FsSnapshotCreate' && r.payload.name === 'old')!;
      const oldRoot = toOld(record.payload.root);
      record.payload.root = oldRoot;
      expect(subject.log.checkpointImage).toBeUndefined(); // the mount replays the record
      fs = await subject.remount();
      expect(formOfW(chunks, hashKey(oldRoot))).toEqual({ tag: 'd', entries: 300 });
      expect((await fs.snapshotList()).map((s) => [s.name, s.rootHash, s.fileCount])).toEqual([['old', hashKey(oldRoot), 300]]);
      const { handle } = await fs.open((await fs.resolve(`/.snapshots/old/w/${nameOf(7)}`)).ino, { read: true });
      expect(new TextDecoder().decode(await fs.read(handle, 0, 100))).toBe('old 7');
      await fs.close(handle);
      // A checkpoint image re-encodes every held object: the old one keeps its form and hash.
      await subject.engine().checkpoint();
      fs = await subject.remount();
      expect(subject.log.checkpointImage).toBeDefined();
      expect((await fs.snapshotList()).map((s) => [s.name, s.rootHash, s.fileCount])).toEqual([['old', hashKey(oldRoot), 300]]);
      // The live tree materialises split; diff and restore compare it with the old form entry by entry.
      expect((await fs.snapshotDiff('old')).entries).toEqual([]);
      await writeFile(fs, w, nameOf(7), utf8('new 7'));
      await fs.unlink(w, nameOf(8));
      expect(shownDiff((await fs.snapshotDiff('old')).entries)).toEqual(modelDiff(dump, await snapDump(fs)));
      const now = await fs.snapshotCreate('new');
      expect(formOfW(chunks, now.rootHash)).toEqual({ tag: 'D', entries: 299 });
      expect(shownDiff((await fs.snapshotDiff('old', 'new')).entries)).toEqual([`/w/${nameOf(7)} modified`, `/w/${nameOf(8)} removed`].sort());
      await fs.snapshotRestore('old');
      expect(await snapDump(fs)).toEqual(dump);
      fs = await subject.remount();
      expect(await snapDump(fs)).toEqual(dump);
    } finally {
      await subject.close();
    }
  });
});

describe('split directories over the whole stack', () => {
  it('survive gc, a replaying reboot and a checkpoint reboot; fsck walks the pieces and finds the image clean', async () => {
    const disk = await formatTestDisk(new MemoryBackend(64 * MiB));
    let sys: System = await bootFsStack(disk, { fsCheckpoints: false });
    try {
      let fs = sys.fs!;
      const w = (await fs.mkdir(ROOT_INO, 'w')).ino;
      for (let i = 0; i < 600; i++) await writeFile(fs, w, nameOf(i), utf8(`file ${i}`));
      await fs.snapshotCreate('a');
      const dumpA = await snapDump(fs);
      for (const i of [3, 300, 599]) await writeFile(fs, w, nameOf(i), utf8(`changed ${i}`));
      await fs.snapshotCreate('b');
      const dumpB = await snapDump(fs);
      await fs.unlink(w, nameOf(10));
      await sys.kernel.advanceTime(11 * 60_000); // past the lease on puts without a reference
      await fs.gc();
      await sys.shutdown();
      sys = await bootFsStack(disk, { fsCheckpoints: false }); // replays both FsSnapshotCreate records from the store
      fs = sys.fs!;
      expect(shownDiff((await fs.snapshotDiff('a', 'b')).entries)).toEqual(modelDiff(dumpA, dumpB));
      await fs.checkpoint();
      await sys.shutdown();
      sys = await bootFsStack(disk); // through the checkpoint image
      fs = sys.fs!;
      await fs.snapshotRestore('a');
      expect(await snapDump(fs)).toEqual(dumpA);
      await fs.snapshotRestore('b');
      expect(await snapDump(fs)).toEqual(dumpB);
      await sys.shutdown();
      const report = await fsckImage(disk, { repair: false });
      expect(report.problems).toEqual([]);
      expect(report.exitCode).toBe(0);
      sys = await bootFsStack(disk);
    } finally {
      await sys.shutdown();
      disk.close();
    }
  }, 120_000);
});
