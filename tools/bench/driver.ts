/**
 * Driver benchmark: the virtio-blk path (program -> kernel -> driver -> virtqueue ->
 * device -> image file) against plain node:fs on the same file, same pattern, same run.
 *
 * Both sides move the same bytes: our side by grant (the device DMAs straight into the
 * program's pages), the raw side with readSync/writeSync into a Buffer. Writes are
 * durable at the end on both sides (fdatasync vs virtio FLUSH). Random 4 KiB I/O at
 * queue depth 32 uses fs.promises on the raw side (libuv's thread pool).
 */
import fs from 'node:fs';
import path from 'node:path';
import { FileBackend } from '../../kernel/machine/disk/file.ts';
import { Random } from '../../kernel/random.ts';
import { bootSystem } from '../system.ts';
import type { BenchRow } from './report.ts';
import type { Segment } from '../../drivers/virtio-blk/protocol.ts';

const MiB = 1024 * 1024;
const GROUP = 'driver';

export interface DriverBenchOptions {
  dir: string;
  quick: boolean;
}

export async function benchDriver(opts: DriverBenchOptions): Promise<BenchRow[]> {
  const imageSizeBytes = opts.quick ? 64 * MiB : 1024 * MiB;
  const randomOps = opts.quick ? 2_000 : 20_000;
  const hopCalls = opts.quick ? 20_000 : 200_000;
  const imagePath = path.join(opts.dir, 'driver-bench.img');
  fs.rmSync(imagePath, { force: true });
  FileBackend.open(imagePath, { create: true, sizeBytes: imageSizeBytes }).close();
  const rng = new Random(2024);
  const pattern = rng.fill(new Uint8Array(MiB));
  const offsets4k = Array.from({ length: randomOps }, () => rng.below(imageSizeBytes / 4096) * 4096);
  const rows: BenchRow[] = [];
  const seconds = (t0: number) => (performance.now() - t0) / 1000;
  const mbps = (bytes: number, s: number) => bytes / MiB / s;

  // ---- raw baseline: node:fs on the same file ----
  const raw: Record<string, number> = {};
  {
    const fd = fs.openSync(imagePath, 'r+');
    const buf = Buffer.from(pattern);
    // Fill the sparse image once, unmeasured, so both sides overwrite allocated blocks.
    for (let off = 0; off < imageSizeBytes; off += MiB) fs.writeSync(fd, buf, 0, MiB, off);
    fs.fdatasyncSync(fd);
    let t0 = performance.now();
    for (let off = 0; off < imageSizeBytes; off += MiB) fs.writeSync(fd, buf, 0, MiB, off);
    fs.fdatasyncSync(fd);
    raw.seqWrite = mbps(imageSizeBytes, seconds(t0));
    t0 = performance.now();
    for (let off = 0; off < imageSizeBytes; off += MiB) fs.readSync(fd, buf, 0, MiB, off);
    raw.seqRead = mbps(imageSizeBytes, seconds(t0));
    const small = Buffer.alloc(4096);
    t0 = performance.now();
    for (const off of offsets4k) fs.readSync(fd, small, 0, 4096, off);
    raw.randRead1 = randomOps / seconds(t0);
    t0 = performance.now();
    for (const off of offsets4k) fs.writeSync(fd, small, 0, 4096, off);
    fs.fdatasyncSync(fd);
    raw.randWrite1 = randomOps / seconds(t0);
    fs.closeSync(fd);
    const fh = await fs.promises.open(imagePath, 'r+');
    const bufs = Array.from({ length: 32 }, () => Buffer.alloc(4096));
    const depth32 = async (write: boolean) => {
      let next = 0;
      const t = performance.now();
      await Promise.all(
        bufs.map(async (b) => {
          while (next < offsets4k.length) {
            const off = offsets4k[next++];
            if (write) await fh.write(b, 0, 4096, off);
            else await fh.read(b, 0, 4096, off);
          }
        }),
      );
      if (write) await fh.datasync();
      return randomOps / seconds(t);
    };
    raw.randRead32 = await depth32(false);
    raw.randWrite32 = await depth32(true);
    await fh.close();
  }

  // ---- through driver and device ----
  const sys = await bootSystem({ disk: FileBackend.open(imagePath), seed: 1, upTo: 'driver', userCalls: ['bench-echo'] });
  try {
    const region = sys.user.memory.alloc(MiB);
    sys.user.memory.view(region).set(pattern);
    const grantId = sys.user.memory.grant(region, 'virtio-blk', 'rw');
    const seg = (offsetBytes: number, lengthBytes: number): Segment[] => [{ grantId, offsetBytes, lengthBytes }];
    // Warm-up, unmeasured: the raw side is warm from the prefill; give our code the same
    // chance to be compiled before it is timed (the first pass is mostly JIT).
    for (let pass = 0; pass < 2; pass++) {
      for (let off = 0; off < Math.min(imageSizeBytes, 256 * MiB); off += MiB) {
        await sys.blk.writeFrom(off / 512, seg(0, MiB));
        await sys.blk.readInto(off / 512, 2048, seg(0, MiB));
      }
      for (const off of offsets4k.slice(0, 2000)) await sys.blk.readInto(off / 512, 8, seg(0, 4096));
    }
    let t0 = performance.now();
    for (let off = 0; off < imageSizeBytes; off += MiB) await sys.blk.writeFrom(off / 512, seg(0, MiB));
    await sys.blk.flush();
    const seqWrite = mbps(imageSizeBytes, seconds(t0));
    t0 = performance.now();
    for (let off = 0; off < imageSizeBytes; off += MiB) await sys.blk.readInto(off / 512, 2048, seg(0, MiB));
    const seqRead = mbps(imageSizeBytes, seconds(t0));
    rows.push(
      { group: GROUP, name: 'seq write 1 MiB + final flush', unit: 'MB/s', value: seqWrite, baseline: { name: 'node:fs + fdatasync', value: raw.seqWrite } },
      { group: GROUP, name: 'seq read 1 MiB', unit: 'MB/s', value: seqRead, baseline: { name: 'node:fs readSync', value: raw.seqRead } },
    );
    t0 = performance.now();
    for (const off of offsets4k) await sys.blk.readInto(off / 512, 8, seg(0, 4096));
    rows.push({ group: GROUP, name: 'rand read 4 KiB QD1', unit: 'IOPS', value: randomOps / seconds(t0), baseline: { name: 'node:fs readSync', value: raw.randRead1 } });
    t0 = performance.now();
    for (const off of offsets4k) await sys.blk.writeFrom(off / 512, seg(0, 4096));
    await sys.blk.flush();
    rows.push({ group: GROUP, name: 'rand write 4 KiB QD1 + flush', unit: 'IOPS', value: randomOps / seconds(t0), baseline: { name: 'node:fs writeSync', value: raw.randWrite1 } });
    const depth32 = async (write: boolean) => {
      let next = 0;
      const t = performance.now();
      await Promise.all(
        Array.from({ length: 32 }, async (_, lane) => {
          while (next < offsets4k.length) {
            const sector = offsets4k[next++] / 512;
            if (write) await sys.blk.writeFrom(sector, seg(lane * 4096, 4096));
            else await sys.blk.readInto(sector, 8, seg(lane * 4096, 4096));
          }
        }),
      );
      if (write) await sys.blk.flush();
      return randomOps / seconds(t);
    };
    rows.push({ group: GROUP, name: 'rand read 4 KiB QD32', unit: 'IOPS', value: await depth32(false), baseline: { name: 'fs.promises x32', value: raw.randRead32 } });
    rows.push({ group: GROUP, name: 'rand write 4 KiB QD32 + flush', unit: 'IOPS', value: await depth32(true), baseline: { name: 'fs.promises x32', value: raw.randWrite32 } });

    // One message hop: a call and its reply are two hops through the kernel.
    await sys.kernel.spawn({ name: 'bench-echo', provides: ['bench-echo'], calls: [], service: { start: () => ({ handle: (r) => r.body }) } });
    const echo = async (x: number) => x;
    t0 = performance.now();
    for (let i = 0; i < hopCalls; i++) await echo(i);
    const directNs = ((performance.now() - t0) * 1e6) / hopCalls;
    t0 = performance.now();
    for (let i = 0; i < hopCalls; i++) await sys.user.call('bench-echo', 'echo', i);
    const rttNs = ((performance.now() - t0) * 1e6) / hopCalls;
    rows.push({ group: GROUP, name: 'message hop (round trip / 2)', unit: 'ns', value: rttNs / 2, lowerIsBetter: true, baseline: { name: 'await of a plain async fn', value: directNs } });
  } finally {
    await sys.shutdown();
    fs.rmSync(imagePath, { force: true });
  }
  return rows;
}
