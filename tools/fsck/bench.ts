/**
 * fsck's benchmark: how fast the offline check reads an image, against the work it cannot
 * avoid, measured in the same run on the same image: reading every chunk's blocks and
 * hashing them with BLAKE3 (the scrub alone). The gap is the rest of the check (log
 * replay, namespace and snapshot walks, bitmap cross-check).
 *
 * `benchFsck({ quick })` returns BenchRow[] (tools/bench/report.ts), so `strata bench`
 * can gather it as a group; run alone (`npx tsx tools/fsck/bench.ts [--quick]`) it prints
 * the table and the JSON.
 */
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { formatDisk } from '../cli/mkimage.ts';
import { bootSystem } from '../system.ts';
import { ROOT_INO } from '../../services/fs/protocol.ts';
import { hashChunk } from '../../services/content/hash.ts';
import { patternedBytes } from '../crashtest/workloads.ts';
import { formatTable, toJson, type BenchRow } from '../bench/report.ts';
import { examineImage, fsckImage } from './index.ts';
import { chunkBytes } from './content.ts';
import { invariant } from './limits.ts';

const MiB = 1024 * 1024;
const REPEATS = 3;

async function buildImage(dataBytes: number, fileCount: number): Promise<MemoryBackend> {
  const disk = new MemoryBackend(Math.max(64 * MiB, 4 * dataBytes));
  await formatDisk(disk, { uuid: new Uint8Array(16).fill(3), logId: new Uint8Array(16).fill(4) });
  const sys = await bootSystem({ disk, upTo: 'fs', keepDiskOpen: true, memorySizeBytes: 256 * MiB, seed: 1, epochMs: 1_700_000_000_000 });
  const fs = sys.fs!;
  const dir = await fs.mkdir(ROOT_INO, 'data');
  const perFile = Math.floor(dataBytes / fileCount);
  for (let i = 0; i < fileCount; i++) {
    const { handle } = await fs.create(dir.ino, `f${i}`, 0o644);
    const bytes = patternedBytes(perFile, 1000 + i);
    for (let at = 0; at < bytes.length; at += 4 * MiB) await fs.write(handle, at, bytes.subarray(at, at + 4 * MiB));
    await fs.close(handle);
  }
  await fs.snapshotCreate('bench');
  await sys.shutdown();
  return disk;
}

export async function benchFsck(o: { quick: boolean }): Promise<BenchRow[]> {
  const dataBytes = (o.quick ? 16 : 128) * MiB;
  const disk = await buildImage(dataBytes, o.quick ? 16 : 64);
  // Baseline: read every chunk's blocks and BLAKE3 them, nothing else. Each is timed
  // REPEATS times, alternating, and the best kept (the machine is shared; the best run is
  // the one least disturbed).
  const x = await examineImage(disk);
  const entries = [...x.content!.index.values()];
  let hashedBytes = 0;
  let scrubMs = Infinity;
  let fsckMs = Infinity;
  for (let round = 0; round < REPEATS; round++) {
    let t = performance.now();
    hashedBytes = 0;
    for (const e of entries) {
      const bytes = await chunkBytes(x.view, e);
      hashChunk(bytes);
      hashedBytes += bytes.length;
    }
    scrubMs = Math.min(scrubMs, performance.now() - t);
    t = performance.now();
    const report = await fsckImage(disk, { repair: false });
    fsckMs = Math.min(fsckMs, performance.now() - t);
    invariant(report.exitCode === 0, `the bench image is clean (${report.problems.map((p) => p.message).join('; ')})`);
  }
  const mb = hashedBytes / 1e6;
  return [
    {
      group: 'fsck',
      name: `fsck check, ${Math.round(dataBytes / MiB)} MiB in ${entries.length} chunks + a snapshot`,
      unit: 'MB/s',
      value: mb / (fsckMs / 1000),
      baseline: { name: 'read + BLAKE3 of every chunk', value: mb / (scrubMs / 1000) },
      note: `best of ${REPEATS}: ${fsckMs.toFixed(0)} ms vs ${scrubMs.toFixed(0)} ms`,
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  const rows = await benchFsck({ quick });
  console.log(formatTable(rows));
  console.log(toJson(rows, { quick }));
}
