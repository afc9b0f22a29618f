/**
 * The crash harness's workloads: short programs of filesystem protocol calls, each named
 * after what it stresses, plus seeded random ones in the spirit of ACE (bounded
 * sequences of core operations over a small fixed set of names, with fsync and sync
 * placed between them).
 *
 * Invariants the checker relies on:
 * - A workload is a pure function of (seed, opCount): the same arguments give the same
 *   calls with the same bytes.
 * - Written data is committed (fsync or close) before the next call that acknowledges
 *   anything else, so "the model after the k-th acknowledgement" is well defined: the
 *   model never holds bytes that no acknowledgement covers, except those of the one
 *   step in flight.
 * - An errno from the filesystem is a valid outcome of a step (the model must give the
 *   same one); any other error is a bug.
 * - A step's only effect outside the calls is moving the virtual clock (StepEnv: gc runs
 *   after the content store's put lease), which is deterministic too.
 */
import { Random } from '../../kernel/random.ts';
import { ServiceError } from '../../kernel/errors.ts';
import { ROOT_INO } from '../../services/fs/protocol.ts';
import { PUT_LEASE_MS } from '../../services/content/limits.ts';

/** One protocol call: rejects with the ServiceError the filesystem replied with. */
export type Call = (op: string, body: Record<string, unknown>) => Promise<unknown>;

/** What a step may do besides calls: move the kernel's virtual clock (gc's put lease runs on it). */
export interface StepEnv {
  advanceTimeMs(ms: number): Promise<void>;
}

export interface Step {
  describe: string;
  run(call: Call, env: StepEnv): Promise<void>;
}

export interface Workload {
  name: string;
  stresses: string;
  steps(seed: number, opCount: number): Step[];
}

const KiB = 1024;

/** Deterministic bytes (xorshift32) so file contents depend only on the seed. */
export function patternedBytes(lengthBytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(lengthBytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < lengthBytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function split(path: string): { dir: string; name: string } {
  const at = path.lastIndexOf('/');
  return { dir: path.slice(0, at) || '/', name: path.slice(at + 1) };
}

async function ino(call: Call, path: string): Promise<number> {
  return ((await call('resolve', { path, followLast: false })) as { ino: number }).ino;
}

async function openOrCreate(call: Call, path: string, truncate = false): Promise<number> {
  try {
    const flags = { read: true, write: true, truncate };
    return ((await call('open', { ino: await ino(call, path), flags })) as { handle: number }).handle;
  } catch (e) {
    if (!(e instanceof ServiceError) || e.code !== 'ENOENT') throw e;
    const { dir, name } = split(path);
    return ((await call('create', { parent: await ino(call, dir), name, mode: 0o644 })) as { handle: number }).handle;
  }
}

// ---- step builders -------------------------------------------------------------------

const mkdir = (path: string): Step => ({
  describe: `mkdir ${path}`,
  run: async (call) => {
    const { dir, name } = split(path);
    await call('mkdir', { parent: await ino(call, dir), name, mode: 0o755 });
  },
});

/** open (or create), write, optionally fsync, close: the data is committed when it ends. */
const writeFile = (path: string, offsetBytes: number, lengthBytes: number, seed: number, fsync: boolean): Step => ({
  describe: `write ${path} @${offsetBytes} +${lengthBytes}${fsync ? ' fsync' : ''} close`,
  run: async (call) => {
    const handle = await openOrCreate(call, path);
    await call('write', { handle, offsetBytes, data: patternedBytes(lengthBytes, seed) });
    if (fsync) await call('fsync', { handle });
    await call('close', { handle });
  },
});

const truncate = (path: string, sizeBytes: number): Step => ({
  describe: `truncate ${path} ${sizeBytes}`,
  run: async (call) => void (await call('truncate', { ino: await ino(call, path), sizeBytes })),
});

const rename = (from: string, to: string): Step => ({
  describe: `rename ${from} ${to}`,
  run: async (call) => {
    const a = split(from);
    const b = split(to);
    await call('rename', { parent: await ino(call, a.dir), name: a.name, newParent: await ino(call, b.dir), newName: b.name });
  },
});

const unlink = (path: string): Step => ({
  describe: `unlink ${path}`,
  run: async (call) => {
    const { dir, name } = split(path);
    await call('unlink', { parent: await ino(call, dir), name });
  },
});

const rmdir = (path: string): Step => ({
  describe: `rmdir ${path}`,
  run: async (call) => {
    const { dir, name } = split(path);
    await call('rmdir', { parent: await ino(call, dir), name });
  },
});

const link = (from: string, to: string): Step => ({
  describe: `link ${from} ${to}`,
  run: async (call) => {
    const b = split(to);
    await call('link', { ino: await ino(call, from), parent: await ino(call, b.dir), name: b.name });
  },
});

const symlink = (path: string, target: string): Step => ({
  describe: `symlink ${path} -> ${target}`,
  run: async (call) => {
    const { dir, name } = split(path);
    await call('symlink', { parent: await ino(call, dir), name, target });
  },
});

const snapCreate = (name: string): Step => ({ describe: `snapshot create ${name}`, run: async (call) => void (await call('snapshotCreate', { name })) });
const snapDelete = (name: string): Step => ({ describe: `snapshot delete ${name}`, run: async (call) => void (await call('snapshotDelete', { name })) });
const snapRestore = (name: string): Step => ({ describe: `snapshot restore ${name}`, run: async (call) => void (await call('snapshotRestore', { name })) });

/** A file open across a restore: its handle names an inode the restore replaced (ESTALE), and still closes. */
const restoreWhileOpen = (path: string, name: string, seed: number): Step => ({
  describe: `open ${path}, restore ${name}, write (ESTALE), close`,
  run: async (call) => {
    const handle = await openOrCreate(call, path);
    try {
      await call('snapshotRestore', { name });
      await call('write', { handle, offsetBytes: 0, data: patternedBytes(100, seed) });
    } finally {
      await call('close', { handle });
    }
  },
});

const clone = (from: string, to: string): Step => ({
  describe: `clone ${from} ${to}`,
  run: async (call) => {
    const b = split(to);
    await call('clone', { ino: await ino(call, from), parent: await ino(call, b.dir), name: b.name });
  },
});

/** gc after the put lease has run out, so chunks put but never referenced are swept too, not only those whose count fell to zero. */
const gc: Step = {
  describe: 'gc (after the put lease)',
  run: async (call, env) => {
    await env.advanceTimeMs(PUT_LEASE_MS + 60_000);
    await call('gc', {});
  },
};

const sync: Step = { describe: 'sync', run: async (call) => void (await call('sync', {})) };
const checkpoint: Step = { describe: 'checkpoint', run: async (call) => void (await call('checkpoint', {})) };

/**
 * Open a file, fsync some data, unlink it while open, keep writing to the orphan, close
 * it (which frees it), then reuse the name.
 */
const unlinkWhileOpen = (path: string, seed: number): Step => ({
  describe: `open ${path}, write+fsync, unlink, write, close`,
  run: async (call, env) => {
    const handle = await openOrCreate(call, path);
    await call('write', { handle, offsetBytes: 0, data: patternedBytes(6 * KiB, seed) });
    await call('fsync', { handle });
    await unlink(path).run(call, env);
    await call('write', { handle, offsetBytes: 6 * KiB, data: patternedBytes(70 * KiB, seed + 1) });
    await call('close', { handle });
  },
});

/** Appends `count` records to one open file, fsync after each. */
const appendFsync = (path: string, count: number, recordBytes: number, seed: number): Step => ({
  describe: `append ${count} x ${recordBytes} bytes to ${path}, fsync each`,
  run: async (call) => {
    const handle = await openOrCreate(call, path);
    const size = ((await call('getattr', { ino: await ino(call, path) })) as { sizeBytes: number }).sizeBytes;
    for (let i = 0; i < count; i++) {
      await call('write', { handle, offsetBytes: size + i * recordBytes, data: patternedBytes(recordBytes, seed + i) });
      await call('fsync', { handle });
    }
    await call('close', { handle });
  },
});

// ---- built-in workloads ------------------------------------------------------------

function repeat(opCount: number, make: (i: number) => Step[]): Step[] {
  const out: Step[] = [];
  for (let i = 0; out.length < opCount; i++) out.push(...make(i));
  return out.slice(0, opCount);
}

export const BUILTIN_WORKLOADS: readonly Workload[] = [
  {
    name: 'rename-over',
    stresses: 'atomic replace: write a temp file, fsync, rename it over the target (and directories over empty ones)',
    steps: (seed, opCount) => [
      mkdir('/d'),
      writeFile('/target', 0, 5000, seed, true),
      ...repeat(opCount, (i) => [
        writeFile(`/tmp${i % 2}`, 0, [100, 5000, 70 * KiB][i % 3], seed + i, true),
        rename(`/tmp${i % 2}`, i % 4 === 3 ? '/d/target' : '/target'),
        ...(i % 3 === 2 ? [mkdir('/e'), rename('/e', '/d2'), rmdir('/d2')] : []),
      ]),
    ],
  },
  {
    name: 'unlink-open',
    stresses: 'orphans: unlink a file while it is open, write to it, close it, reuse the name; hard links',
    steps: (seed, opCount) =>
      repeat(opCount, (i) => [
        unlinkWhileOpen(`/f${i % 2}`, seed + i),
        writeFile(`/f${i % 2}`, 0, 3000, seed + 100 + i, false),
        link(`/f${i % 2}`, '/l'),
        unlink(`/f${i % 2}`),
        unlink('/l'),
      ]),
  },
  {
    name: 'append-fsync',
    stresses: 'a log file: small appends, each fsynced, across 64 KiB page boundaries; sync between rounds',
    steps: (seed, opCount) =>
      repeat(opCount, (i) => [appendFsync('/log', 4, [100, 4096, 9000][i % 3], seed + 10 * i), ...(i % 2 === 1 ? [sync] : [])]),
  },
  {
    name: 'truncate-holes',
    stresses: 'sparse files: writes past the end leave holes, truncate down into a page and back up',
    steps: (seed, opCount) =>
      repeat(opCount, (i) => [
        writeFile('/h', [200 * KiB, 64 * KiB - 10, 0][i % 3], 5000, seed + i, i % 2 === 0),
        truncate('/h', [50, 64 * KiB + 3, 300 * KiB][i % 3]),
        writeFile('/h', 130 * KiB, 100, seed + 50 + i, false),
        truncate('/h', 0),
      ]),
  },
  {
    name: 'many-small-files',
    stresses: 'namespace churn: many small files in a few directories, sync, then delete and recreate some',
    steps: (seed, opCount) => [
      mkdir('/s0'),
      mkdir('/s1'),
      ...repeat(opCount, (i) => [
        writeFile(`/s${i % 2}/f${i % 12}`, 0, 100 + (i % 5) * 700, seed + i, false),
        ...(i % 6 === 5 ? [sync] : []),
        ...(i % 4 === 3 ? [unlink(`/s${(i + 1) % 2}/f${(i + 3) % 12}`)] : []),
        ...(i % 7 === 6 ? [symlink(`/s${i % 2}/ln${i % 3}`, `f${i % 12}`)] : []),
      ]),
    ],
  },
  {
    name: 'snapshot-restore',
    stresses: 'snapshots: create, change the tree, restore (the old tree kept as pre-restore-N), restore from that, delete; hard links; a file open across a restore',
    steps: (seed, opCount) => [
      mkdir('/d'),
      writeFile('/a', 0, 5000, seed, true),
      writeFile('/d/x', 0, 70 * KiB, seed + 1, false),
      // One cycle is 12 steps (the default --ops): every snapshot operation at least once.
      ...repeat(opCount, (i) => {
        const c = i % 2;
        return [
          snapCreate(`s${c}`),
          writeFile('/a', (i % 3) * 4096, 70 * KiB, seed + 10 + i, i % 2 === 0),
          mkdir(`/d/e${c}`),
          link('/a', `/d/e${c}/hard`),
          snapRestore(`s${c}`), // back to before the three steps above; they are kept in pre-restore-N
          writeFile('/d/x', 0, 3000 + i, seed + 20 + i, true),
          snapCreate('t'),
          restoreWhileOpen('/a', 'pre-restore-1', seed + 30 + i), // the hard link comes back as two files
          snapDelete('pre-restore-1'),
          unlink('/d/x'),
          snapRestore('t'),
          snapDelete(`s${c}`),
        ];
      }),
    ],
  },
  {
    name: 'dedup-gc',
    stresses: 'shared chunks: the same bytes in two files and a clone, then a snapshot their only holder across gc (after the put lease); snapshot delete, gc',
    steps: (seed, opCount) =>
      // One cycle is 12 steps (the default --ops); every other cycle writes the bytes of two cycles before, so swept chunks come back.
      repeat(opCount, (i) => {
        const bytes = seed + ((i >> 1) % 2);
        return [
          writeFile('/f', 0, 140 * KiB, bytes, i % 2 === 0),
          writeFile('/g', 0, 140 * KiB, bytes, false), // the same bytes: deduplicated
          clone('/f', '/c'),
          snapCreate('keep'),
          unlink('/f'),
          unlink('/c'),
          truncate('/g', 1000),
          gc, // the bytes past /g's first page are the snapshot's alone now: they must survive
          writeFile('/h', 0, 70 * KiB, bytes + 7, true),
          snapDelete('keep'),
          gc, // now they may go
          unlink('/g'),
        ];
      }),
  },
  {
    name: 'big-file',
    stresses: 'a file of many pages: large sequential writes, overwrite in the middle, truncate; checkpoints',
    steps: (seed, opCount) =>
      repeat(opCount, (i) => [
        writeFile('/big', (i % 4) * 256 * KiB, 256 * KiB, seed + i, i % 2 === 0),
        writeFile('/big', 300 * KiB + (i % 3) * 1000, 9000, seed + 70 + i, true),
        ...(i % 3 === 2 ? [checkpoint] : []),
        ...(i % 5 === 4 ? [truncate('/big', 700 * KiB)] : []),
      ]),
  },
];

const RANDOM_DIRS = ['/', '/d0'];
const RANDOM_NAMES = ['a', 'b', 'c'];
const join = (dir: string, name: string) => (dir === '/' ? `/${name}` : `${dir}/${name}`);

/**
 * ACE-style: `opCount` core operations over the names {a, b, c} in {/, /d0}, each
 * write either fsynced or committed by its close, and a sync after about one in six.
 */
export const RANDOM_WORKLOAD: Workload = {
  name: 'random',
  stresses: 'seeded random core operations (ACE-style) over a small fixed set of names',
  steps: (seed, opCount) => randomSteps(seed, opCount, false),
};

const RANDOM_SNAPSHOTS = ['s0', 's1', 'pre-restore-1'];

/** Like `random`, with snapshot create/restore/delete, clone and gc among the operations. */
export const RANDOM_SNAPSHOT_WORKLOAD: Workload = {
  name: 'random-snapshots',
  stresses: 'seeded random core operations with snapshot create/restore/delete, clone and gc among them',
  steps: (seed, opCount) => randomSteps(seed, opCount, true),
};

function randomSteps(seed: number, opCount: number, snapshots: boolean): Step[] {
  const r = new Random(seed);
  const pick = <T>(xs: readonly T[]) => xs[r.below(xs.length)];
  const path = () => join(pick(RANDOM_DIRS), pick(RANDOM_NAMES));
  const steps: Step[] = [mkdir('/d0')];
  for (let i = 0; i < opCount; i++) {
    const kind = r.below(snapshots ? 20 : 12);
    if (kind === 12 || kind === 13) steps.push(snapCreate(pick(RANDOM_SNAPSHOTS.slice(0, 2))));
    else if (kind >= 14 && kind <= 16) steps.push(snapRestore(pick(RANDOM_SNAPSHOTS)));
    else if (kind === 17) steps.push(snapDelete(pick(RANDOM_SNAPSHOTS)));
    else if (kind === 18) steps.push(clone(path(), path()));
    else if (kind === 19) steps.push(gc);
    else if (kind <= 3) steps.push(writeFile(path(), pick([0, 100, 64 * KiB - 10, 200 * KiB]), pick([10, 5000, 70 * KiB]), r.u32(), r.below(2) === 0));
    else if (kind === 4) steps.push(truncate(path(), pick([0, 50, 64 * KiB + 3])));
    else if (kind === 5) steps.push(rename(path(), path()));
    else if (kind === 6) steps.push(unlink(path()));
    else if (kind === 7) steps.push(link(path(), path()));
    else if (kind === 8) steps.push(symlink(path(), 'somewhere'));
    else if (kind === 9) steps.push(mkdir(path()));
    else if (kind === 10) steps.push(rmdir(path()));
    else steps.push(r.below(4) === 0 ? checkpoint : sync);
  }
  return steps;
}

/** What a run without --workload checks: every built-in workload and both seeded random ones. */
export const ALL_WORKLOADS: readonly Workload[] = [...BUILTIN_WORKLOADS, RANDOM_WORKLOAD, RANDOM_SNAPSHOT_WORKLOAD];

export function findWorkload(name: string): Workload | undefined {
  return [RANDOM_WORKLOAD, RANDOM_SNAPSHOT_WORKLOAD, ...BUILTIN_WORKLOADS].find((w) => w.name === name);
}

/** Steps per workload unless --ops says otherwise (a built-in's set-up steps come on top). */
export const OP_COUNT_DEFAULT = 12;
