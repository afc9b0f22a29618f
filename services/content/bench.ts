/**
 * Content store benchmark: ingest through the whole stack (program -> kernel -> content
 * -> block service / Axiom -> driver -> virtio-blk device -> image file), with the
 * figures it is limited by measured in the same run. A program, not a service: it boots
 * the system the way `strata boot` does.
 *
 * Rows:
 *  - BLAKE3 throughput of the chosen implementation on 64 KiB chunks and on 1 MiB
 *    inputs, with @noble/hashes on the same data as the baseline;
 *  - raw write MB/s: node:fs writes of 1 MiB into a fresh sparse file + fdatasync (the
 *    image's data region is fresh and sparse too);
 *  - ingest MB/s of unique data (1 GiB; 32 MiB with --quick) and of data in which every
 *    other MiB repeats the one before (50% duplicate), each against
 *    min(hash MB/s, raw write MB/s), the goal being a ratio of at least 0.6; and the
 *    unique ingest against the block service's own sequential write of the same bytes
 *    on the same image (what the stack under the store allows);
 *  - the dedup ratio on a generated versioned tree (ten versions, 1% of the files
 *    changed between versions by in-place edits, inserts, appends, truncations and
 *    rewrites), against whole-file dedup of the same versions;
 *  - deflate (zlib level 1) on the same chunks, the evidence for leaving per-chunk
 *    compression out: it runs far below ingest speed and gains nothing on this data.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js';
import { FileBackend } from '../../kernel/machine/disk/file.ts';
import { Random } from '../../kernel/random.ts';
import { bootSystem, type System } from '../../tools/system.ts';
import { formatDisk } from '../../tools/cli/mkimage.ts';
import type { BenchRow } from '../../tools/bench/report.ts';
import { blake3, blake3Implementation } from './hash.ts';
import type { ContentClient } from './protocol.ts';

const MiB = 1024 * 1024;
const KiB = 1024;
const GROUP = 'content';
const seconds = (t0: number) => (performance.now() - t0) / 1000;
const mbps = (bytes: number, s: number) => bytes / MiB / s;

/** A random pool; data is cut from it with every 4 KiB stamped with a counter, so no two 4 KiB blocks repeat. */
class DataSource {
  private readonly pool: Uint8Array;
  private stamp = 1;
  constructor(seed: number, poolBytes = 16 * MiB) {
    this.pool = new Random(seed).fill(new Uint8Array(poolBytes));
  }
  unique(lengthBytes: number): Uint8Array {
    const out = new Uint8Array(lengthBytes);
    const at = (this.stamp * 7919 * 4096) % (this.pool.length - Math.min(lengthBytes, this.pool.length));
    out.set(this.pool.subarray(at, at + Math.min(lengthBytes, this.pool.length)));
    const dv = new DataView(out.buffer);
    for (let off = 0; off + 8 <= lengthBytes; off += 4096) dv.setFloat64(off, this.stamp++);
    return out;
  }
}

function* uniqueStream(src: DataSource, totalBytes: number): Generator<Uint8Array> {
  for (let done = 0; done < totalBytes; done += MiB) yield src.unique(Math.min(MiB, totalBytes - done));
}

function* halfDuplicateStream(src: DataSource, totalBytes: number): Generator<Uint8Array> {
  let last: Uint8Array = new Uint8Array(0);
  for (let i = 0, done = 0; done < totalBytes; i++, done += MiB) {
    if (i % 2 === 0) last = src.unique(MiB);
    yield last;
  }
}

async function bootOn(imagePath: string, sizeBytes: number): Promise<System> {
  fs.rmSync(imagePath, { force: true });
  const disk = FileBackend.open(imagePath, { create: true, sizeBytes });
  const rng = new Random(11);
  await formatDisk(disk, { uuid: rng.fill(new Uint8Array(16)), logId: rng.fill(new Uint8Array(16)) });
  return bootSystem({ disk, seed: 1, upTo: 'content', memorySizeBytes: 256 * MiB });
}

function hashRate(hash: (b: Uint8Array) => Uint8Array, chunks: Uint8Array[], minBytes: number): number {
  for (const c of chunks.slice(0, 4)) hash(c); // warm-up
  let bytes = 0;
  const t0 = performance.now();
  while (bytes < minBytes) for (const c of chunks) (hash(c), (bytes += c.length));
  return mbps(bytes, seconds(t0));
}

function rawWriteRate(dir: string, totalBytes: number, src: DataSource): number {
  const p = path.join(dir, 'content-raw.img');
  fs.rmSync(p, { force: true });
  const fd = fs.openSync(p, 'w+');
  fs.ftruncateSync(fd, totalBytes);
  const buf = Buffer.from(src.unique(MiB));
  const t0 = performance.now();
  for (let off = 0; off < totalBytes; off += MiB) fs.writeSync(fd, buf, 0, MiB, off);
  fs.fdatasyncSync(fd);
  const rate = mbps(totalBytes, seconds(t0));
  fs.closeSync(fd);
  fs.rmSync(p);
  return rate;
}

/** The block service alone: sequential 4 MiB writes by grant into allocated data blocks, then flush; the blocks are freed after. */
async function blockWriteRate(sys: System, totalBytes: number, src: DataSource): Promise<number> {
  const block = sys.block!;
  const slot = 4 * MiB;
  const region = sys.user.memory.alloc(slot);
  sys.user.memory.view(region).set(src.unique(slot));
  const grantId = sys.user.memory.grant(region, block.endpoint, 'r');
  const extents = [];
  for (let done = 0; done < totalBytes; done += slot) extents.push(...(await block.allocate(slot / 4096, { contiguous: true })));
  const t0 = performance.now();
  for (const e of extents) await block.writeFrom(e.blockIndex, [{ grantId, offsetBytes: 0, lengthBytes: e.blockCount * 4096 }]);
  await block.flush();
  const rate = mbps(totalBytes, seconds(t0));
  for (const e of extents) await block.free([e]);
  sys.user.memory.revoke(grantId);
  sys.user.memory.free(region);
  return rate;
}

async function ingestRate(content: ContentClient, stream: Iterable<Uint8Array>, totalBytes: number): Promise<number> {
  const t0 = performance.now();
  const r = await content.ingestStream(stream);
  const rate = mbps(totalBytes, seconds(t0));
  if (r.lengthBytes !== totalBytes) throw new Error(`ingest stored ${r.lengthBytes} of ${totalBytes} bytes`);
  return rate;
}

export async function benchContent(opts: { dir: string; quick: boolean }): Promise<BenchRow[]> {
  const uniqueBytes = opts.quick ? 32 * MiB : 1024 * MiB;
  const dupBytes = opts.quick ? 32 * MiB : 512 * MiB;
  const rows: BenchRow[] = [];
  const src = new DataSource(2024);

  // ---- hashing ----
  const chunks64k = Array.from({ length: 256 }, () => src.unique(64 * KiB));
  const chunks1m = Array.from({ length: 16 }, () => src.unique(MiB));
  const fast64k = hashRate((b) => blake3.hash(b), chunks64k, opts.quick ? 128 * MiB : 1024 * MiB);
  const fast1m = hashRate((b) => blake3.hash(b), chunks1m, opts.quick ? 128 * MiB : 1024 * MiB);
  const noble = hashRate((b) => nobleBlake3(b), chunks64k.slice(0, 64), opts.quick ? 8 * MiB : 32 * MiB);
  rows.push(
    { group: GROUP, name: `BLAKE3 ${blake3Implementation()}, 64 KiB chunks`, unit: 'MB/s', value: fast64k, baseline: { name: '@noble/hashes', value: noble } },
    { group: GROUP, name: `BLAKE3 ${blake3Implementation()}, 1 MiB inputs`, unit: 'MB/s', value: fast1m, baseline: { name: '@noble/hashes', value: noble } },
  );
  const rawWrite = rawWriteRate(opts.dir, uniqueBytes, src);
  rows.push({ group: GROUP, name: 'raw write 1 MiB to a fresh sparse file + fdatasync', unit: 'MB/s', value: rawWrite });
  const limit = Math.min(fast64k, rawWrite);
  const limitName = fast64k < rawWrite ? 'BLAKE3 64 KiB (the lower limit)' : 'raw write (the lower limit)';

  // ---- ingest: unique, then 50% duplicate, on a fresh image each ----
  const imageBytes = (n: number) => Math.max(256 * MiB, Math.ceil((n * 1.4) / MiB) * MiB + 128 * MiB);
  {
    const sys = await bootOn(path.join(opts.dir, 'content-unique.img'), imageBytes(uniqueBytes));
    try {
      const content = sys.content!;
      const blockWrite = await blockWriteRate(sys, uniqueBytes, src);
      const warmBytes = (opts.quick ? 8 : 16) * MiB;
      await ingestRate(content, uniqueStream(src, warmBytes), warmBytes); // warm-up, unmeasured
      const rate = await ingestRate(content, uniqueStream(src, uniqueBytes), uniqueBytes);
      rows.push({ group: GROUP, name: `ingest unique data (${uniqueBytes / MiB} MiB, FastCDC)`, unit: 'MB/s', value: rate, baseline: { name: `min(hash, raw write): ${limitName}`, value: limit }, note: 'goal: ratio >= 0.6' });
      rows.push({ group: GROUP, name: `ingest unique data vs the block service below it`, unit: 'MB/s', value: rate, baseline: { name: 'block service seq write 4 MiB by grant + flush', value: blockWrite }, note: 'the stack beneath the store, same image, same run' });
    } finally {
      await sys.shutdown();
    }
  }
  {
    const sys = await bootOn(path.join(opts.dir, 'content-dup.img'), imageBytes(dupBytes));
    try {
      const content = sys.content!;
      const rate = await ingestRate(content, halfDuplicateStream(src, dupBytes), dupBytes);
      const s = await content.stats();
      rows.push({ group: GROUP, name: `ingest 50%-duplicate data (${dupBytes / MiB} MiB)`, unit: 'MB/s', value: rate, baseline: { name: 'min(hash, raw write)', value: limit }, note: `dedup ratio ${s.dedupRatio.toFixed(2)}x` });
    } finally {
      await sys.shutdown();
    }
  }
  rows.push(...(await benchVersioned(opts, src)));

  // ---- compression: measured, not used ----
  const sample = chunks64k.slice(0, 128);
  const t0 = performance.now();
  let packed = 0;
  for (const c of sample) packed += zlib.deflateRawSync(c, { level: 1 }).length;
  const deflate = mbps(sample.length * 64 * KiB, seconds(t0));
  rows.push({ group: GROUP, name: 'deflate level 1, 64 KiB chunks (not used)', unit: 'MB/s', value: deflate, baseline: { name: 'BLAKE3 64 KiB', value: fast64k }, note: `size after/before ${(packed / (sample.length * 64 * KiB)).toFixed(3)}` });
  return rows;
}

/** Ten versions of a tree, 1% of the files changed between versions; dedup ratio against whole-file dedup. */
async function benchVersioned(opts: { dir: string; quick: boolean }, src: DataSource): Promise<BenchRow[]> {
  const fileCount = opts.quick ? 150 : 2000;
  const versions = 10;
  const rng = new Random(77);
  const sizeOf = () => Math.round(KiB * Math.pow(2, rng.float() * 10)); // log-uniform, 1 KiB .. 1 MiB
  const files = Array.from({ length: fileCount }, () => src.unique(sizeOf()));
  const total = () => files.reduce((n, f) => n + f.length, 0);
  const sys = await bootOn(path.join(opts.dir, 'content-versions.img'), Math.max(512 * MiB, Math.ceil((total() * 2.5) / MiB) * MiB));
  try {
    const content = sys.content!;
    const wholeFile = new Map<string, number>(); // whole-file dedup: distinct file contents and their sizes
    let logical = 0;
    const t0 = performance.now();
    for (let v = 0; v < versions; v++) {
      if (v > 0) {
        const changes = Math.max(1, Math.round(fileCount / 100));
        for (let c = 0; c < changes; c++) {
          const i = rng.below(fileCount);
          files[i] = mutate(files[i], rng, src);
        }
      }
      for (const f of files) {
        if (f.length <= 4 * MiB) await content.ingest(f);
        else await content.ingestStream(f);
        wholeFile.set(Buffer.from(blake3.hash(f)).toString('hex'), f.length);
        logical += f.length;
      }
    }
    const rate = mbps(logical, seconds(t0));
    const s = await content.stats();
    const wholeRatio = logical / [...wholeFile.values()].reduce((a, b) => a + b, 0);
    return [
      {
        group: GROUP,
        name: `dedup ratio, ${versions} versions of ${fileCount} files (1% changed per version)`,
        unit: 'x',
        value: s.dedupRatio,
        baseline: { name: 'whole-file dedup', value: wholeRatio },
        note: `${(logical / MiB).toFixed(0)} MiB logical, ${(s.storedBytes / MiB).toFixed(1)} MiB stored, ${s.chunkCount} chunks; ingest ${rate.toFixed(0)} MB/s`,
      },
    ];
  } finally {
    await sys.shutdown();
  }
}

/** One change to a file: an in-place edit, an insert, an append, a truncation, or a rewrite. */
function mutate(f: Uint8Array, rng: Random, src: DataSource): Uint8Array {
  const at = rng.below(Math.max(1, f.length));
  switch (rng.below(5)) {
    case 0: {
      const g = f.slice();
      g.set(src.unique(Math.min(100, g.length - at)), at);
      return g;
    }
    case 1: {
      const ins = src.unique(1 + rng.below(100));
      const g = new Uint8Array(f.length + ins.length);
      g.set(f.subarray(0, at));
      g.set(ins, at);
      g.set(f.subarray(at), at + ins.length);
      return g;
    }
    case 2: {
      const g = new Uint8Array(f.length + 4096);
      g.set(f);
      g.set(src.unique(4096), f.length);
      return g;
    }
    case 3:
      return f.slice(0, Math.max(1, at));
    default:
      return src.unique(f.length);
  }
}
