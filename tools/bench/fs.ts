/**
 * Filesystem benchmarks over the whole stack on an image file, each beside its baseline
 * measured in the same run:
 *  - sequential write of one large file in 1 MiB writes, then fsync (MB/s) vs node:fs
 *    writeSync + fdatasync of the same bytes to a plain file on the same host filesystem;
 *  - sequential read of it back (MB/s) vs node:fs readSync of that plain file;
 *  - creates per second (empty files, close) with 1 and 16 clients, and create + 4 KiB
 *    write + fsync per second, vs the same with node:fs (open, write, fsync, close);
 *  - mount time of a tree of many files (boot of the whole stack).
 * Data is seeded random bytes, so dedup does not flatter the figures.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FileBackend } from '../../kernel/machine/disk/file.ts';
import { Random } from '../../kernel/random.ts';
import { bootSystem, type System } from '../system.ts';
import { createImage } from '../cli/mkimage.ts';
import { ROOT_INO } from '../../services/fs/protocol.ts';
import type { BenchRow } from './report.ts';

const MiB = 1024 * 1024;
const GROUP = 'fs';

export async function benchFs(opts: { dir: string; quick: boolean }): Promise<BenchRow[]> {
  const fileBytes = opts.quick ? 64 * MiB : 1024 * MiB;
  const creates = opts.quick ? 500 : 5000;
  const mountFiles = opts.quick ? 2000 : 100_000;
  const imagePath = path.join(opts.dir, 'fs-bench.img');
  const rawPath = path.join(opts.dir, 'fs-bench-raw.dat');
  const rows: BenchRow[] = [];
  const seconds = (t0: number) => (performance.now() - t0) / 1000;
  const rng = new Random(77);
  const chunk = rng.fill(new Uint8Array(MiB));
  const pieceOf = (i: number) => {
    // A different 1 MiB each time (rotate and stamp) so no two pieces deduplicate.
    const out = new Uint8Array(MiB);
    out.set(chunk.subarray(i % MiB));
    out.set(chunk.subarray(0, i % MiB), MiB - (i % MiB));
    new DataView(out.buffer).setUint32(0, i, true);
    for (let p = 65536; p < MiB; p += 65536) new DataView(out.buffer).setUint32(p, i * 31 + p, true);
    return out;
  };

  // ---- raw baseline ----
  const raw: Record<string, number> = {};
  {
    fs.rmSync(rawPath, { force: true });
    const fd = fs.openSync(rawPath, 'w+');
    let t0 = performance.now();
    for (let i = 0; i < fileBytes / MiB; i++) fs.writeSync(fd, pieceOf(i), 0, MiB, i * MiB);
    fs.fdatasyncSync(fd);
    raw.write = fileBytes / MiB / seconds(t0);
    const buf = Buffer.alloc(MiB);
    t0 = performance.now();
    for (let off = 0; off < fileBytes; off += MiB) fs.readSync(fd, buf, 0, MiB, off);
    raw.read = fileBytes / MiB / seconds(t0);
    fs.closeSync(fd);
    const rawDir = path.join(opts.dir, 'raw-creates');
    fs.rmSync(rawDir, { recursive: true, force: true });
    fs.mkdirSync(rawDir);
    t0 = performance.now();
    for (let i = 0; i < creates; i++) fs.closeSync(fs.openSync(path.join(rawDir, `f${i}`), 'w'));
    raw.creates = creates / seconds(t0);
    const small = chunk.subarray(0, 4096);
    t0 = performance.now();
    for (let i = 0; i < creates / 5; i++) {
      const f = fs.openSync(path.join(rawDir, `s${i}`), 'w');
      fs.writeSync(f, small);
      fs.fsyncSync(f);
      fs.closeSync(f);
    }
    raw.createFsync = creates / 5 / seconds(t0);
    fs.rmSync(rawDir, { recursive: true, force: true });
    fs.rmSync(rawPath, { force: true });
  }

  // ---- through the filesystem ----
  fs.rmSync(imagePath, { force: true });
  await createImage(imagePath, Math.max(512 * MiB, fileBytes * 2 + 256 * MiB));
  let sys: System = await bootSystem({ disk: FileBackend.open(imagePath), seed: 1 });
  try {
    const f = sys.fs!;
    const { attr, handle } = await f.create(ROOT_INO, 'big', 0o644);
    let t0 = performance.now();
    for (let i = 0; i < fileBytes / MiB; i++) await f.write(handle, i * MiB, pieceOf(i));
    await f.fsync(handle);
    rows.push({ group: GROUP, name: `seq write ${fileBytes / MiB} MiB file + fsync`, unit: 'MB/s', value: fileBytes / MiB / seconds(t0), baseline: { name: 'node:fs writeSync + fdatasync', value: raw.write } });
    await f.close(handle);
    const r = await f.open(attr.ino, { read: true });
    t0 = performance.now();
    for (let off = 0; off < fileBytes; off += MiB) await f.read(r.handle, off, MiB);
    rows.push({ group: GROUP, name: `seq read ${fileBytes / MiB} MiB file`, unit: 'MB/s', value: fileBytes / MiB / seconds(t0), baseline: { name: 'node:fs readSync', value: raw.read } });
    await f.close(r.handle);

    for (const clients of [1, 16]) {
      const d = await f.mkdir(ROOT_INO, `c${clients}`);
      let next = 0;
      t0 = performance.now();
      await Promise.all(
        Array.from({ length: clients }, async () => {
          while (next < creates) {
            const i = next++;
            await f.close((await f.create(d.ino, `f${i}`, 0o644)).handle);
          }
        }),
      );
      rows.push({ group: GROUP, name: `create + close, ${clients} client${clients > 1 ? 's' : ''}`, unit: 'files/s', value: creates / seconds(t0), baseline: { name: 'node:fs open + close, 1 thread', value: raw.creates } });
      const small = chunk.subarray(0, 4096);
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

    // A tree of many files, then a reboot: mount time of the whole stack.
    const t = await f.mkdir(ROOT_INO, 'tree');
    let made = 0;
    for (let dir = 0; made < mountFiles; dir++) {
      const d = await f.mkdir(t.ino, `d${dir}`);
      await Promise.all(Array.from({ length: Math.min(1000, mountFiles - made) }, (_, i) => f.create(d.ino, `f${i}`, 0o644).then((c) => f.close(c.handle))));
      made += 1000;
    }
    await sys.shutdown();
    t0 = performance.now();
    sys = await bootSystem({ disk: FileBackend.open(imagePath), seed: 1 });
    rows.push({ group: GROUP, name: `mount (boot of the whole stack) with ${mountFiles.toLocaleString('en')} files`, unit: 'ms', value: performance.now() - t0, lowerIsBetter: true });
  } finally {
    await sys.shutdown();
    fs.rmSync(imagePath, { force: true });
  }
  return rows;
}
