// Crash consistency of snapshot create, restore, delete and gc (crash-check.ts's approach):
// a fixed workload over the whole stack on a recording disk, the disk log marked at every
// acknowledgement with the live tree and every snapshot's tree kept; then crash images at
// every flush boundary and at random points, each recovered by a fresh boot. The recovered
// live tree and snapshot list must be those after the acknowledged prefix or one more
// operation, and every snapshot listed must restore whole, to the tree it was made of.
import { describe, expect, it } from 'vitest';
import { Random } from '../../kernel/random.ts';
import { FaultyBackend, imageAt, type CrashMode } from '../../kernel/machine/disk/faulty.ts';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { ROOT_INO, type FsClient } from '../../services/fs/protocol.ts';
import type { System } from '../../tools/system.ts';
import { bootFsStack, formatTestDisk, MiB, patterned } from '../helpers/stack.ts';
import { snapDump } from './snapshot-check.ts';

type Dump = Record<string, string>;
interface Point {
  live: Dump;
  snaps: Record<string, Dump>;
}

/** One acknowledgement each: create (the file exists, empty), then a write made durable by its close. */
async function create(fs: FsClient, path: string): Promise<void> {
  const i = path.lastIndexOf('/');
  await fs.close((await fs.create((await fs.resolve(path.slice(0, i) || '/')).ino, path.slice(i + 1), 0o644)).handle);
}

async function put(fs: FsClient, path: string, seed: number, lengthBytes: number): Promise<void> {
  const { handle } = await fs.open((await fs.resolve(path)).ino, { write: true });
  await fs.write(handle, 0, patterned(lengthBytes, seed));
  await fs.close(handle);
}

const WORKLOAD: [string, (fs: FsClient, sys: System) => Promise<unknown>][] = [
  ['create /a', (fs) => create(fs, '/a')],
  ['write /a', (fs) => put(fs, '/a', 1, 70_000)],
  ['mkdir /d', (fs) => fs.mkdir(ROOT_INO, 'd')],
  ['create /d/x', (fs) => create(fs, '/d/x')],
  ['write /d/x', (fs) => put(fs, '/d/x', 2, 5000)],
  ['create s1', (fs) => fs.snapshotCreate('s1')],
  ['write /a again', (fs) => put(fs, '/a', 3, 140_000)],
  ['unlink /d/x', async (fs) => fs.unlink((await fs.resolve('/d')).ino, 'x')],
  ['create s2', (fs) => fs.snapshotCreate('s2')],
  ['restore s1', (fs) => fs.snapshotRestore('s1')],
  ['create /b', (fs) => create(fs, '/b')],
  ['write /b', (fs) => put(fs, '/b', 4, 3000)],
  ['delete s2', (fs) => fs.snapshotDelete('s2')],
  ['gc', async (fs, sys) => (await sys.kernel.advanceTime(11 * 60_000), fs.gc())],
  ['delete pre-restore-1', (fs) => fs.snapshotDelete('pre-restore-1')],
  ['create s3', (fs) => fs.snapshotCreate('s3')],
];

async function state(fs: FsClient, known: Record<string, Dump>): Promise<Point> {
  const live = await snapDump(fs);
  const snaps: Record<string, Dump> = {};
  for (const s of await fs.snapshotList()) snaps[s.name] = known[s.name] ?? live;
  return { live, snaps };
}

describe('snapshot crash consistency', () => {
  it('recovers whole snapshots and the old or the new live tree at every crash point', async () => {
    const disk = (await formatTestDisk(new FaultyBackend(48 * MiB))) as FaultyBackend;
    const sys = await bootFsStack(disk);
    await sys.kernel.idle();
    disk.flush();
    disk.resetLog();
    const fs = sys.fs!;
    const known: Record<string, Dump> = {};
    const points: Point[] = [await state(fs, known)];
    const marks: number[] = [];
    for (const [what, run] of WORKLOAD) {
      const before = points[points.length - 1].live;
      await run(fs, sys);
      disk.mark(`ack ${what}`);
      marks.push(disk.log.length);
      // A new snapshot is the tree before it; an automatic one the tree before the restore.
      const p = await state(fs, known);
      for (const name of Object.keys(p.snaps)) if (!known[name]) known[name] = p.snaps[name] = name.startsWith('pre-restore-') ? before : p.live;
      points.push(p);
    }
    await sys.shutdown();
    const base = disk.logBase();
    const r = new Random(77);
    const modes: CrashMode[] = ['lose-all', { subset: r.u32() }, { torn: r.u32() }, 'keep-all'];
    const chosen = new Set<number>([0, disk.log.length]);
    disk.log.forEach((e, i) => e.kind === 'flush' && chosen.add(i + 1));
    for (let i = 0; i < 8; i++) chosen.add(r.below(disk.log.length + 1));
    let checked = 0;
    for (const entryCount of [...chosen].sort((a, b) => a - b)) {
      const mode = modes[r.below(modes.length)];
      const acked = marks.filter((m) => m <= entryCount).length;
      const rec = await bootFsStack(new MemoryBackend(imageAt(base, disk.log, { entryCount, mode })));
      try {
        const got = await state(rec.fs!, {});
        const where = `crash after log entry ${entryCount} (${JSON.stringify(mode)}), ${acked} ops acknowledged`;
        const allowed = [points[acked], points[acked + 1]].filter(Boolean);
        const match = allowed.find((p) => JSON.stringify(p.live) === JSON.stringify(got.live) && JSON.stringify(Object.keys(p.snaps).sort()) === JSON.stringify(Object.keys(got.snaps).sort()));
        if (!match) expect({ live: got.live, snaps: Object.keys(got.snaps).sort() }, where).toEqual({ live: points[acked].live, snaps: Object.keys(points[acked].snaps).sort() });
        for (const name of Object.keys(match!.snaps)) {
          await rec.fs!.snapshotRestore(name);
          expect(await snapDump(rec.fs!), `${where}: restore ${name}`).toEqual(match!.snaps[name]);
        }
        expect((await rec.axiom!.verify()).ok).toBe(true);
        checked++;
      } finally {
        await rec.shutdown();
      }
    }
    expect(checked).toBeGreaterThan(10);
  });
});
