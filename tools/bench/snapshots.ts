/**
 * Snapshot benchmarks over the whole stack on an image file: for trees of 1,000 and
 * 10,000 files (and 100,000 in a full run), in directories of 100 files of 1 KiB each:
 *  - snapshot create after changing 10 files (a first snapshot of the tree comes before);
 *  - diff of two snapshots 10 changes apart, and 1,000 changes apart;
 *  - restore of a snapshot 10 changes away from the live tree;
 *  - delete of a snapshot;
 * each beside `qemu-img snapshot -c` (create) or `-a` (apply, for restore) on a qcow2 image
 * holding the same bytes, measured in the same run (qemu-utils; the rows say so when
 * qemu-img is missing). Times are wall-clock milliseconds of one operation, so the
 * figures show whether create and diff stay flat as the tree grows.
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
      const dirs: number[] = [];
      for (let d = 0; d < files / FILES_PER_DIR; d++) {
        const dir = (await client.mkdir(ROOT_INO, `d${d}`)).ino;
        dirs.push(dir);
        for (let f = 0; f < FILES_PER_DIR; f++) {
          const { handle } = await client.create(dir, `f${f}`, 0o644);
          await client.write(handle, 0, content(d * FILES_PER_DIR + f, 0));
          await client.close(handle);
        }
      }
      await client.snapshotCreate('base');
      await change(client, dirs, 10, 1);
      const createMs = await timedAsyncMs(() => client.snapshotCreate('after10'));
      const diff10Ms = await timedAsyncMs(() => client.snapshotDiff('base', 'after10'));
      await change(client, dirs, 1000, 2);
      await client.snapshotCreate('after1000');
      const diff1000Ms = await timedAsyncMs(() => client.snapshotDiff('after10', 'after1000'));
      const restoreMs = await timedAsyncMs(() => client.snapshotRestore('after10'));
      const deleteMs = await timedAsyncMs(() => client.snapshotDelete('after1000'));
      const [qCreate, qApply] = haveQemu ? qemuBaseline(opts.dir, files * FILE_SIZE_BYTES) : [0, 0];
      const note = haveQemu ? undefined : 'qemu-img/qemu-io not installed (apt-get install qemu-utils): no baseline';
      const base = (name: string, value: number) => (haveQemu ? { baseline: { name, value } } : {});
      const n = files.toLocaleString('en-US');
      rows.push({ group: GROUP, name: `create after 10 changes, ${n} files`, unit: 'ms', value: createMs, lowerIsBetter: true, ...base('qemu-img snapshot -c', qCreate), note });
      rows.push({ group: GROUP, name: `diff, 10 changes, ${n} files`, unit: 'ms', value: diff10Ms, lowerIsBetter: true, note });
      rows.push({ group: GROUP, name: `diff, 1,000 changes, ${n} files`, unit: 'ms', value: diff1000Ms, lowerIsBetter: true, note });
      rows.push({ group: GROUP, name: `restore (10 changes away), ${n} files`, unit: 'ms', value: restoreMs, lowerIsBetter: true, ...base('qemu-img snapshot -a', qApply), note });
      rows.push({ group: GROUP, name: `delete, ${n} files`, unit: 'ms', value: deleteMs, lowerIsBetter: true, note });
    } finally {
      await sys.shutdown();
      fs.rmSync(imagePath, { force: true });
    }
  }
  return rows;
}
