/**
 * Snapshot benchmarks over the whole stack on an image file: for trees of 1,000 and
 * 10,000 files (and 100,000 in a full run), in directories of 100 files of 1 KiB each
 * (10 directories written, the others clones of them: see the setup below):
 *  - snapshot create after changing 10 files (a first snapshot of the tree comes before);
 *  - diff of two snapshots 10 changes apart, and 1,000 changes apart;
 *  - restore of a snapshot 10 changes away from the live tree, then of one 1,000 away
 *    (restore costs the difference: both stay flat in tree size);
 *  - delete of a snapshot (frees what only it held);
 * each beside `qemu-img snapshot -c` (create) or `-a` (apply, for restore) on a qcow2 image
 * holding the same bytes, measured in the same run (qemu-utils; the rows say so when
 * qemu-img is missing). Times are wall-clock milliseconds of one operation, the median of
 * REPS, so the figures show whether create and diff stay flat as the tree grows.
 *
 * The directories all hang from the root, so at 100,000 files the root is 1,000 entries
 * wide and every timed change is under it: the tree is meant to be wide there. A directory
 * that wide is stored split (services/fs/tree.ts 'D' and its pieces), which is what keeps
 * create and diff from re-encoding or comparing all 1,000 entries each time.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { FileBackend } from '../../kernel/machine/disk/file.ts';
import { bootSystem } from '../system.ts';
import { createImage } from '../cli/mkimage.ts';
import { ROOT_INO, type FsClient } from '../../services/fs/protocol.ts';
import type { BenchRow } from './report.ts';

const MiB = 1024 * 1024;
const GROUP = 'snapshots';
const FILES_PER_DIR = 100;
const FILE_SIZE_BYTES = 1024;
/** Directories of distinct files the setup writes; the rest of the tree is clones of them. */
const SEED_DIRS = 10;
const FILES_IN_FLIGHT = 1000;

function qemuImg(): boolean {
  try {
    execFileSync('qemu-img', ['--version'], { stdio: 'ignore' });
    execFileSync('qemu-io', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function timedMs(f: () => void): number {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

/** Repetitions of each timed operation; the row is their median. */
const REPS = 5;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

async function timedAsyncMs(f: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

function content(i: number, round: number): Uint8Array {
  const out = new Uint8Array(FILE_SIZE_BYTES);
  const v = new DataView(out.buffer);
  for (let p = 0; p < FILE_SIZE_BYTES; p += 8) v.setUint32(p, (i * 2654435761 + p * 40503 + round * 97) >>> 0, true);
  return out;
}

async function change(fs: FsClient, dirs: number[], count: number, round: number): Promise<void> {
  for (let k = 0; k < count; k++) {
    const i = (k * 7919) % (dirs.length * FILES_PER_DIR);
    const ino = (await fs.lookup(dirs[Math.floor(i / FILES_PER_DIR)], `f${i % FILES_PER_DIR}`)).ino;
    const { handle } = await fs.open(ino, { write: true });
    await fs.write(handle, 0, content(i, round));
    await fs.close(handle);
  }
}

/** qemu-img snapshot -c and -a on a qcow2 holding `bytes` of data: [createMs, applyMs]. */
function qemuBaseline(dir: string, bytes: number): [number, number] {
  const img = path.join(dir, 'snap-bench.qcow2');
  fs.rmSync(img, { force: true });
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', img, `${Math.max(64 * MiB, bytes * 2)}`]);
  execFileSync('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x5a 0 ${bytes}`, img], { stdio: 'ignore' });
  execFileSync('qemu-img', ['snapshot', '-c', 'base', img]);
  execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x33 0 40960', img], { stdio: 'ignore' });
  const createMs = timedMs(() => execFileSync('qemu-img', ['snapshot', '-c', 'after10', img]));
  const applyMs = timedMs(() => execFileSync('qemu-img', ['snapshot', '-a', 'base', img]));
  fs.rmSync(img, { force: true });
  return [createMs, applyMs];
}

export async function benchSnapshots(opts: { dir: string; quick: boolean }): Promise<BenchRow[]> {
  const sizes = opts.quick ? [1000, 10_000] : [1000, 10_000, 100_000];
  const haveQemu = qemuImg();
  const rows: BenchRow[] = [];
  for (const files of sizes) {
    const imagePath = path.join(opts.dir, 'snap-bench.img');
    fs.rmSync(imagePath, { force: true });
    await createImage(imagePath, 512 * MiB + files * 16 * 1024);
    const sys = await bootSystem({ disk: FileBackend.open(imagePath), seed: 1 });
    try {
      const client = sys.fs!;
      // Setup: SEED_DIRS directories of distinct files, made FILES_IN_FLIGHT at a time (so
      // Axiom's group commit takes many in one flush), then cloned (one record and a chunk
      // reference per file each) up to the tree's size: 100,000 files made one by one take
      // ~10 minutes on this machine, most of it the data path's commits. Clones share their
      // seed's chunks and, until changed, its tree objects, as a tree copied with `cp
      // --reflink` does; every timed operation below compares path with path, so how many
      // directories are alike does not change what it walks.
      const setupStartMs = performance.now();
      const dirCount = files / FILES_PER_DIR;
      const seedDirs = Math.min(SEED_DIRS, dirCount);
      const dirs: number[] = [];
      for (let d = 0; d < seedDirs; d++) dirs.push((await client.mkdir(ROOT_INO, `d${d}`)).ino);
      const seedFiles = seedDirs * FILES_PER_DIR;
      for (let first = 0; first < seedFiles; first += FILES_IN_FLIGHT) {
        await Promise.all(
          Array.from({ length: Math.min(FILES_IN_FLIGHT, seedFiles - first) }, async (_, k) => {
            const i = first + k;
            const { handle } = await client.create(dirs[Math.floor(i / FILES_PER_DIR)], `f${i % FILES_PER_DIR}`, 0o644);
            await client.write(handle, 0, content(i, 0));
            await client.close(handle);
          }),
        );
      }
      for (let d = seedDirs; d < dirCount; d++) dirs.push((await client.clone(dirs[d % seedDirs], ROOT_INO, `d${d}`)).ino);
      process.stderr.write(`bench: snapshots: ${files.toLocaleString('en-US')} files made in ${((performance.now() - setupStartMs) / 1000).toFixed(1)} s\n`);
      await client.snapshotCreate('base');
      // A checkpoint falls due every 50,000 records and runs beside what follows; take it
      // now, so none lands inside a timed operation (building the tree made 2 records a file).
      await client.checkpoint();
      // Each figure is the median of REPS operations (the machine is shared; one garbage
      // collection of a 100,000-inode heap can pass a whole operation's time).
      const createMs: number[] = [];
      for (let r = 1; r <= REPS; r++) {
        await change(client, dirs, 10, 100 + r);
        createMs.push(await timedAsyncMs(() => client.snapshotCreate(`c${r}`)));
      }
      const diff10Ms: number[] = [];
      for (let r = 1; r < REPS; r++) diff10Ms.push(await timedAsyncMs(() => client.snapshotDiff(`c${r}`, `c${r + 1}`)));
      await change(client, dirs, 1000, 2);
      await client.snapshotCreate('after1000');
      const diff1000Ms: number[] = [];
      for (let r = 1; r <= REPS; r++) diff1000Ms.push(await timedAsyncMs(() => client.snapshotDiff(`c${r}`, 'after1000')));
      const restoreMs: number[] = [];
      for (let r = 1; r <= REPS; r++) {
        await change(client, dirs, 10, 200 + r);
        restoreMs.push(await timedAsyncMs(() => client.snapshotRestore('after1000'))); // 10 files away
      }
      const restore1000Ms: number[] = [];
      for (let r = 1; r <= REPS; r++) restore1000Ms.push(await timedAsyncMs(() => client.snapshotRestore(r % 2 ? `c${REPS}` : 'after1000'))); // 1,000 files away
      const deleteMs: number[] = [];
      for (let r = 1; r <= REPS; r++) deleteMs.push(await timedAsyncMs(() => client.snapshotDelete(`c${r}`)));
      const [qCreate, qApply] = haveQemu ? qemuBaseline(opts.dir, files * FILE_SIZE_BYTES) : [0, 0];
      const note = haveQemu ? undefined : 'qemu-img/qemu-io not installed (apt-get install qemu-utils): no baseline';
      const base = (name: string, value: number) => (haveQemu ? { baseline: { name, value } } : {});
      const n = files.toLocaleString('en-US');
      // Chart points (tools/bench/charts.ts 'snapshot-vs-tree'; goals.ts judges create and diff, 10 changes).
      const at = (series: string) => ({ point: { chart: 'snapshot-vs-tree', x: files, series } });
      rows.push({ group: GROUP, name: `create after 10 changes, ${n} files`, unit: 'ms', value: median(createMs), lowerIsBetter: true, ...base('qemu-img snapshot -c', qCreate), note, ...at('create') });
      rows.push({ group: GROUP, name: `diff, 10 changes, ${n} files`, unit: 'ms', value: median(diff10Ms), lowerIsBetter: true, note, ...at('diff, 10 changes') });
      rows.push({ group: GROUP, name: `diff, 1,000 changes, ${n} files`, unit: 'ms', value: median(diff1000Ms), lowerIsBetter: true, note, ...at('diff, 1,000 changes') });
      rows.push({ group: GROUP, name: `restore (10 changes away), ${n} files`, unit: 'ms', value: median(restoreMs), lowerIsBetter: true, ...base('qemu-img snapshot -a', qApply), note, ...at('restore, 10 changes') });
      rows.push({ group: GROUP, name: `restore (1,000 changes away), ${n} files`, unit: 'ms', value: median(restore1000Ms), lowerIsBetter: true, note, ...at('restore, 1,000 changes') });
      rows.push({ group: GROUP, name: `delete, ${n} files`, unit: 'ms', value: median(deleteMs), lowerIsBetter: true, note, ...at('delete') });
    } finally {
      await sys.shutdown();
      fs.rmSync(imagePath, { force: true });
    }
  }
  return rows;
}
