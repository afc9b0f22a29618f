// Checkpoints: after one, a reboot finds the same tree and replays only what followed it;
// the images' blocks are freed when a newer checkpoint replaces them.
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { ROOT_INO } from '../../services/fs/protocol.ts';
import { bootFsStack, formatTestDisk, MiB, patterned } from '../helpers/stack.ts';
import { dumpFs } from './model-check.ts';

describe('fs checkpoints', () => {
  it('a reboot after a checkpoint replays only what followed it, and finds the same tree', async () => {
    const disk = await formatTestDisk(new MemoryBackend(64 * MiB));
    let sys = await bootFsStack(disk, { fsCheckpoints: true });
    const fs = sys.fs!;
    const d = await fs.mkdir(ROOT_INO, 'd');
    for (let i = 0; i < 150; i++) {
      const c = await fs.create(d.ino, `f${i}`, 0o644);
      if (i % 10 === 0) await fs.write(c.handle, 0, patterned(70_000, i));
      await fs.close(c.handle);
    }
    await fs.checkpoint();
    const checkpointSeq = (await sys.axiom!.info()).checkpointSeq;
    expect(checkpointSeq).toBeGreaterThan(0);
    await fs.rename(d.ino, 'f1', ROOT_INO, 'moved');
    await fs.unlink(d.ino, 'f2');
    const before = await dumpFs(fs);
    // Abandon the system without a clean stop: no shutdown checkpoint, so the mount must
    // load the image and replay the two operations after it.
    sys = await bootFsStack(disk, { fsCheckpoints: true });
    expect(await dumpFs(sys.fs!)).toEqual(before);
    const report = await sys.fs!.mountReport();
    expect(report.replayedRecords).toBeGreaterThanOrEqual(2);
    expect(report.replayedRecords).toBeLessThan(10);
    // Each checkpoint frees the images it replaces: repeated checkpoints leak nothing.
    await sys.fs!.checkpoint();
    const steady = (await sys.block!.stats()).freeBlocks;
    for (let i = 0; i < 3; i++) await sys.fs!.checkpoint();
    expect((await sys.block!.stats()).freeBlocks).toBe(steady);
    await sys.shutdown();
  });
});
