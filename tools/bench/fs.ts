/**
 * Filesystem benchmarks over the whole stack on an image file, each beside its baseline
 * measured in the same run:
 *  - sequential write of one file in 1 MiB writes, then fsync (MB/s), at several file
 *    sizes up to 1 GiB, vs node:fs writeSync + fdatasync of the same bytes to a plain file
 *    on the same host filesystem; sequential read of it back vs node:fs readSync;
 *  - random 4 KiB reads of a cached file (one that fits the filesystem's page cache, read
 *    once to warm it) at QD1 and with 16 clients, vs node:fs readSync of the same offsets
 *    of a plain file in the host page cache;
 *  - creates per second (empty files, close) with 1 and 16 clients, and create + 4 KiB
 *    write + fsync per second, vs the same with node:fs (open, write, fsync, close);
 *  - mount time (boot of the whole stack) as the tree grows to 100,000 files.
 * Data is seeded random bytes, so dedup does not flatter the figures. Throughput and
 * mount rows carry chart points (charts.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { FileBackend } from '../../kernel/machine/disk/file.ts';
import { Random } from '../../kernel/random.ts';
import { bootSystem, type System } from '../system.ts';
import { createImage } from '../cli/mkimage.ts';
import { ROOT_INO, type FsClient } from '../../services/fs/protocol.ts';
import { PAGE_CACHE_BYTES_MAX } from '../../services/fs/limits.ts';
import type { BenchRow } from './report.ts';

const MiB = 1024 * 1024;
const GROUP = 'fs';
/** How long each random-read figure samples, in milliseconds. */
const RANDOM_READ_MS = 1500;
const RANDOM_CLIENTS = 16;

const seconds = (t0: number) => (performance.now() - t0) / 1000;

/** A different 1 MiB each time (rotate and stamp) so no two pieces deduplicate (the isolation bench writes the same). */
export function pieces(seed: number): (i: number) => Uint8Array {
  const chunk = new Random(seed).fill(new Uint8Array(MiB));
  return (i: number) => {
    const out = new Uint8Array(MiB);
    out.set(chunk.subarray(i % MiB));
    out.set(chunk.subarray(0, i % MiB), MiB - (i % MiB));
    const view = new DataView(out.buffer);
    view.setUint32(0, i, true);
    for (let p = 65536; p < MiB; p += 65536) view.setUint32(p, i * 31 + p, true);
    return out;
  };
}

/** Sequential throughput of one file: 1 MiB writes then one durable sync (timed together), then 1 MiB reads. */
export interface SeqFigures {
  writeMBps: number;
  readMBps: number;
}

/** The raw baseline: node:fs writeSync + fdatasync, then readSync, on a plain file at `filePath` (removed after). */
export function rawSequential(filePath: string, sizeMiB: number, pieceOf: (i: number) => Uint8Array): SeqFigures {
  fs.rmSync(filePath, { force: true });
  const fd = fs.openSync(filePath, 'w+');
  try {
    let t0 = performance.now();
    for (let i = 0; i < sizeMiB; i++) fs.writeSync(fd, pieceOf(i), 0, MiB, i * MiB);
    fs.fdatasyncSync(fd);
    const writeMBps = sizeMiB / seconds(t0);
    const buf = Buffer.alloc(MiB);
    t0 = performance.now();
    for (let off = 0; off < sizeMiB * MiB; off += MiB) fs.readSync(fd, buf, 0, MiB, off);
    return { writeMBps, readMBps: sizeMiB / seconds(t0) };
  } finally {
    fs.closeSync(fd);
    fs.rmSync(filePath, { force: true });
  }
}

/** The same through the filesystem: /NAME created, written + fsynced, read back (short reads refused), removed. */
export async function fsSequential(f: FsClient, name: string, sizeMiB: number, pieceOf: (i: number) => Uint8Array, firstPiece = 0): Promise<SeqFigures> {
  const { attr, handle } = await f.create(ROOT_INO, name, 0o644);
  let t0 = performance.now();
  for (let i = 0; i < sizeMiB; i++) await f.write(handle, i * MiB, pieceOf(firstPiece + i));
  await f.fsync(handle);
  const writeMBps = sizeMiB / seconds(t0);
  await f.close(handle);
  const r = await f.open(attr.ino, { read: true });
  t0 = performance.now();
  for (let off = 0; off < sizeMiB * MiB; off += MiB) {
    const got = await f.read(r.handle, off, MiB);
    if (got.length !== MiB) throw new Error(`bench: short read of /${name} at ${off}: ${got.length} bytes`);
  }
  const readMBps = sizeMiB / seconds(t0);
  await f.close(r.handle);
  await f.unlink(ROOT_INO, name);
  return { writeMBps, readMBps };
}

/** The same seeded sequence of 4 KiB-aligned offsets for ours and the baseline. */
function offsets(fileBytes: number, count: number): number[] {
  const rng = new Random(4096);
  return Array.from({ length: count }, () => rng.below(fileBytes / 4096) * 4096);
}

/** Runs `read(offset)` over `offs` from `clients` loops until RANDOM_READ_MS pass; reads per second. */
async function randomReads(offs: readonly number[], clients: number, read: (offsetBytes: number) => Promise<unknown> | unknown): Promise<number> {
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() - t0 < RANDOM_READ_MS) {
        await read(offs[next++ % offs.length]);
        done++;
      }
    }),
  );
  return done / seconds(t0);
}

export async function benchFs(opts: { dir: string; quick: boolean }): Promise<BenchRow[]> {
  const fileSizesMiB = opts.quick ? [16, 32] : [64, 256, 1024];
  const cachedFileMiB = Math.min(64, PAGE_CACHE_BYTES_MAX / MiB / 2);
  const creates = opts.quick ? 300 : 5000;
  const mountSteps = opts.quick ? [500, 1000] : [1000, 10_000, 100_000];
  const imagePath = path.join(opts.dir, 'fs-bench.img');
  const rawPath = path.join(opts.dir, 'fs-bench-raw.dat');
  const rows: BenchRow[] = [];
  const pieceOf = pieces(77);
  const offs = offsets(cachedFileMiB * MiB, 1 << 16);

  // ---- raw baselines ----
  const raw = { write: new Map<number, number>(), read: new Map<number, number>(), randQd1: 0, creates: 0, createFsync: 0 };
  {
    for (const sizeMiB of fileSizesMiB) {
      const r = rawSequential(rawPath, sizeMiB, pieceOf);
      raw.write.set(sizeMiB, r.writeMBps);
      raw.read.set(sizeMiB, r.readMBps);
    }
    fs.rmSync(rawPath, { force: true });
    const fd = fs.openSync(rawPath, 'w+');
    for (let i = 0; i < cachedFileMiB; i++) fs.writeSync(fd, pieceOf(i), 0, MiB, i * MiB);
    const page = Buffer.alloc(4096);
    for (let off = 0; off < cachedFileMiB * MiB; off += MiB) fs.readSync(fd, Buffer.alloc(MiB), 0, MiB, off);
    // One figure serves both rows: readSync from one thread cannot overlap, so 16 loops of it measure the same path.
    raw.randQd1 = await randomReads(offs, 1, (off) => fs.readSync(fd, page, 0, 4096, off));
    fs.closeSync(fd);
    fs.rmSync(rawPath, { force: true });

    const rawDir = path.join(opts.dir, 'raw-creates');
    fs.rmSync(rawDir, { recursive: true, force: true });
    fs.mkdirSync(rawDir);
    let t0 = performance.now();
    for (let i = 0; i < creates; i++) fs.closeSync(fs.openSync(path.join(rawDir, `f${i}`), 'w'));
    raw.creates = creates / seconds(t0);
    const small = pieceOf(1).subarray(0, 4096);
    t0 = performance.now();
    for (let i = 0; i < creates / 5; i++) {
      const f = fs.openSync(path.join(rawDir, `s${i}`), 'w');
      fs.writeSync(f, small);
      fs.fsyncSync(f);
      fs.closeSync(f);
    }
    raw.createFsync = creates / 5 / seconds(t0);
    fs.rmSync(rawDir, { recursive: true, force: true });
  }

  // ---- through the filesystem ----
  const largestMiB = Math.max(...fileSizesMiB);
  fs.rmSync(imagePath, { force: true });
  await createImage(imagePath, Math.max(512 * MiB, largestMiB * MiB * 2 + 256 * MiB));
  let sys: System = await bootSystem({ disk: FileBackend.open(imagePath), seed: 1 });
  try {
    const f = sys.fs!;
    for (const sizeMiB of fileSizesMiB) {
      const ours = await fsSequential(f, `big-${sizeMiB}`, sizeMiB, pieceOf);
      rows.push({
        group: GROUP,
        name: `seq write ${sizeMiB} MiB file + fsync`,
        unit: 'MB/s',
        value: ours.writeMBps,
        baseline: { name: 'node:fs writeSync + fdatasync', value: raw.write.get(sizeMiB)! },
        point: { chart: 'fs-throughput-vs-size', x: sizeMiB, series: 'write + fsync', baselineSeries: 'raw write + fdatasync' },
      });
      rows.push({
        group: GROUP,
        name: `seq read ${sizeMiB} MiB file`,
        unit: 'MB/s',
        value: ours.readMBps,
        baseline: { name: 'node:fs readSync', value: raw.read.get(sizeMiB)! },
        point: { chart: 'fs-throughput-vs-size', x: sizeMiB, series: 'read', baselineSeries: 'raw read' },
      });
    }

    {
      // A file that fits the page cache, written, synced and read once: then random reads.
      const { attr, handle } = await f.create(ROOT_INO, 'cached', 0o644);
      for (let i = 0; i < cachedFileMiB; i++) await f.write(handle, i * MiB, pieceOf(i));
      await f.fsync(handle);
      await f.close(handle);
      const r = await f.open(attr.ino, { read: true });
      for (let off = 0; off < cachedFileMiB * MiB; off += MiB) await f.read(r.handle, off, MiB);
      const qd1 = await randomReads(offs, 1, (off) => f.read(r.handle, off, 4096));
      rows.push({ group: GROUP, name: `rand read 4 KiB of a cached file, QD1 (${cachedFileMiB} MiB file)`, unit: 'IOPS', value: qd1, baseline: { name: 'node:fs readSync, host page cache', value: raw.randQd1 } });
      const many = await randomReads(offs, RANDOM_CLIENTS, (off) => f.read(r.handle, off, 4096));
      rows.push({ group: GROUP, name: `rand read 4 KiB of a cached file, ${RANDOM_CLIENTS} clients`, unit: 'IOPS', value: many, baseline: { name: 'node:fs readSync, host page cache, 1 thread', value: raw.randQd1 } });
      await f.close(r.handle);
      await f.unlink(ROOT_INO, 'cached');
    }

    for (const clients of [1, 16]) {
      const d = await f.mkdir(ROOT_INO, `c${clients}`);
      let next = 0;
      let t0 = performance.now();
      await Promise.all(
        Array.from({ length: clients }, async () => {
          while (next < creates) {
            const i = next++;
            await f.close((await f.create(d.ino, `f${i}`, 0o644)).handle);
          }
        }),
      );
      rows.push({ group: GROUP, name: `create + close, ${clients} client${clients > 1 ? 's' : ''}`, unit: 'files/s', value: creates / seconds(t0), baseline: { name: 'node:fs open + close, 1 thread', value: raw.creates } });
      const small = pieceOf(2).subarray(0, 4096);
      const fsyncs = creates / 5;
      next = 0;
      t0 = performance.now();
      await Promise.all(
        Array.from({ length: clients }, async () => {
          while (next < fsyncs) {
            const i = next++;
            const c = await f.create(d.ino, `s${i}`, 0o644);
            await f.write(c.handle, 0, small);
            await f.fsync(c.handle);
            await f.close(c.handle);
          }
        }),
      );
      rows.push({ group: GROUP, name: `create + 4 KiB write + fsync, ${clients} client${clients > 1 ? 's' : ''}`, unit: 'files/s', value: fsyncs / seconds(t0), baseline: { name: 'node:fs open+write+fsync+close, 1 thread', value: raw.createFsync } });
    }

    // A tree that grows in steps; after each, a reboot: mount time of the whole stack.
    const treeIno = (await f.mkdir(ROOT_INO, 'tree')).ino;
    let made = 0;
    for (const target of mountSteps) {
      const fsNow = sys.fs!;
      for (let dir = Math.floor(made / 1000); made < target; dir++) {
        const d = dir * 1000 === made ? await fsNow.mkdir(treeIno, `d${dir}`) : await fsNow.lookup(treeIno, `d${dir}`);
        const count = Math.min(1000 - (made % 1000), target - made);
        const from = made % 1000;
        await Promise.all(Array.from({ length: count }, (_, i) => fsNow.create(d.ino, `f${from + i}`, 0o644).then((c) => fsNow.close(c.handle))));
        made += count;
      }
      await sys.shutdown();
      const t0 = performance.now();
      sys = await bootSystem({ disk: FileBackend.open(imagePath), seed: 1 });
      rows.push({
        group: GROUP,
        name: `mount (boot of the whole stack) with ${target.toLocaleString('en')} files`,
        unit: 'ms',
        value: performance.now() - t0,
        lowerIsBetter: true,
        point: { chart: 'mount-vs-files', x: target, series: 'mount' },
      });
    }
  } finally {
    await sys.shutdown();
    fs.rmSync(imagePath, { force: true });
  }
  return rows;
}
