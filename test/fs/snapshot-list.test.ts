// What `snapshotList` says of each snapshot beyond its tree: the log sequence number of its
// FsSnapshotCreate record (in memory, after a remount that replays it, after a checkpoint
// image that holds it, and over the whole stack equal to the record's seq in Axiom), and
// the bytes only it holds.
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { ROOT_INO, type FsClient } from '../../services/fs/protocol.ts';
import { bootFsStack, formatTestDisk, MiB, patterned } from '../helpers/stack.ts';
import { memFs, type MemLog } from './mem-seams.ts';
import { openSession } from '../shell/harness.ts';

async function put(fs: FsClient, name: string, data: Uint8Array): Promise<void> {
  const { handle } = await fs.create(ROOT_INO, name, 0o644);
  await fs.write(handle, 0, data);
  await fs.close(handle);
}

/** 1-based positions of each FsSnapshotCreate in the in-memory log, by name (the newest of a name wins). */
function createSeqs(log: MemLog): Map<string, number> {
  const out = new Map<string, number>();
  log.transactions.flat().forEach((r, i) => {
    if (r.type === 'FsSnapshotCreate') out.set(r.payload.name, i + 1);
  });
  return out;
}

describe('snapshot list', () => {
  it('carries the log seq of each create record, across remounts and checkpoint images', async () => {
    const m = await memFs();
    const fs = m.fs;
    await put(fs, 'a', patterned(5000, 1));
    await fs.snapshotCreate('one');
    await put(fs, 'b', patterned(5000, 2));
    const two = await fs.snapshotCreate('two');
    const seqs = createSeqs(m.log);
    expect(two.seq).toBe(seqs.get('two'));
    const listed = await fs.snapshotList();
    expect(listed.map((s) => [s.name, s.seq])).toEqual([
      ['one', seqs.get('one')],
      ['two', seqs.get('two')],
    ]);
    expect(seqs.get('one')! < seqs.get('two')!).toBe(true);
    // A restore's automatic snapshot is numbered too (its record shares the restore's transaction).
    const saved = await fs.snapshotRestore('one');
    const afterRestore = createSeqs(m.log);
    expect((await fs.snapshotList()).find((s) => s.name === saved)?.seq).toBe(afterRestore.get(saved));
    // Replayed from the log.
    let fs2 = await m.remount();
    expect((await fs2.snapshotList()).map((s) => s.seq)).toEqual([seqs.get('one'), seqs.get('two'), afterRestore.get(saved)]);
    // From a checkpoint image (the records before it are not replayed).
    await m.engine().checkpoint();
    await fs2.snapshotDelete('two');
    await fs2.snapshotCreate('two'); // a name used again gets its new record's seq
    const reused = createSeqs(m.log).get('two')!;
    expect(reused).toBeGreaterThan(seqs.get('two')!);
    fs2 = await m.remount();
    expect((await fs2.snapshotList()).map((s) => [s.name, s.seq])).toEqual([
      ['one', seqs.get('one')],
      [saved, afterRestore.get(saved)],
      ['two', reused],
    ]);
    await m.close();
  });

  it('over the whole stack: the seq is the FsSnapshotCreate record in Axiom, and only-here bytes follow deletes', async () => {
    const disk = await formatTestDisk(new MemoryBackend(64 * MiB));
    let sys = await bootFsStack(disk);
    try {
      const fs = sys.fs!;
      const shared = patterned(100_000, 3);
      const mine = patterned(200_000, 4);
      await put(fs, 'shared', shared);
      await put(fs, 'mine', mine);
      const info = await fs.snapshotCreate('s');
      await fs.unlink(ROOT_INO, 'mine');
      const { records } = await sys.axiom!.read(1, 4096);
      const rec = records.find((r) => r.type === 'FsSnapshotCreate' && (r.payload as { name: string }).name === 's');
      expect(rec).toBeDefined();
      expect(info.seq).toBe(rec!.seq);
      const [listed] = await fs.snapshotList();
      expect(listed).toMatchObject({ name: 's', seq: rec!.seq, exclusiveBytes: mine.length });
      await sys.shutdown();
      sys = await bootFsStack(disk);
      const [again] = await sys.fs!.snapshotList();
      expect(again.seq).toBe(rec!.seq);
    } finally {
      await sys.shutdown();
      disk.close();
    }
  });

  it("in the shell over the real stack: snap list shows SEQ and ONLY, --json carries them, diff prints R OLD -> NEW", async () => {
    const s = await openSession({ stack: 'real', models: { snapshots: false, content: false } });
    try {
      const run = async (cmd: string) => {
        const before = s.out.text.length;
        expect(await s.shell.runLine(cmd), cmd).toBe(0);
        return s.out.text.slice(before);
      };
      await run('mkdir /d; write /d/a 12345; snap create one; mv /d/a /d/b; write /d/c xyz; snap create two');
      const listed = JSON.parse(await run('snap list --json')) as { name: string; seq: number; exclusiveBytes: number }[];
      expect(listed.map((x) => x.name)).toEqual(['one', 'two']);
      expect(listed[0].seq).toBeGreaterThan(0);
      expect(listed[1].seq).toBeGreaterThan(listed[0].seq);
      expect(listed.map((x) => x.exclusiveBytes)).toEqual([0, 0]); // /d/b holds one's bytes, the live tree two's
      const table = (await run('snap list')).split('\n');
      expect(table[0]).toMatch(/^NAME +CREATED +SEQ +FILES +SIZE +ONLY +ROOT$/);
      expect(table[1]).toMatch(new RegExp(`^one .* ${listed[0].seq} +1 +6 B +0 B +[0-9a-f]{12}$`));
      const diff = await run('snap diff one two');
      expect(diff).toContain('R  /d/a -> /d/b');
      expect(diff).toContain('A  /d/c');
      expect(diff).toMatch(/2 changes: 1 added, 1 renamed/);
    } finally {
      await s.close();
    }
  });
});
