// fsck on damaged images never crashes: whatever bytes of a block in use are flipped (the
// superblocks, the journal, the bitmap, the Axiom anchors and records, chunk and
// checkpoint-image blocks), a check returns a report or throws FsckOperationalError
// (exit 8); a repair leaves a second check at 0 or 4, and at 0 whenever the first report
// called every problem repairable. Two images: one checkpointed at shutdown, one whose
// metadata is all in log records after no checkpoint (so the Axiom records are in play).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { fsckImage, FsckOperationalError } from '../../tools/fsck/index.ts';
import { ROOT_INO } from '../../services/fs/protocol.ts';
import { bootFsStack, formatTestDisk, MiB, patterned, writeWholeFile } from '../helpers/stack.ts';
import { sampleImage } from './fsck-image.ts';

const B = 4096;

async function logOnlyImage(): Promise<MemoryBackend> {
  const disk = await formatTestDisk(new MemoryBackend(32 * MiB));
  const sys = await bootFsStack(disk, { seed: 8, fsCheckpoints: false });
  const fs = sys.fs!;
  const x = await writeWholeFile(fs, ROOT_INO, 'x', patterned(140 * 1024, 8));
  const d = await fs.mkdir(ROOT_INO, 'd');
  await fs.link(x, d.ino, 'x-link');
  await fs.snapshotCreate('s');
  await writeWholeFile(fs, d.ino, 'y', patterned(3000, 9));
  await sys.shutdown();
  return disk as MemoryBackend;
}

/** The image's bytes and the blocks that are not all zeros. */
function snapshotOf(disk: { sizeBytes: number; read(o: number, d: Uint8Array): void }): { bytes: Uint8Array; used: number[] } {
  const bytes = new Uint8Array(disk.sizeBytes);
  disk.read(0, bytes);
  const used: number[] = [];
  for (let b = 0; b < bytes.length / B; b++) if (bytes.subarray(b * B, (b + 1) * B).some((v) => v !== 0)) used.push(b);
  return { bytes, used };
}

describe('fsck on randomly damaged images', () => {
  it('reports or names an operational error, never crashes; repairs what it says it can', async () => {
    const images = [snapshotOf(await sampleImage()), snapshotOf(await logOnlyImage())];
    const flip = fc.record({ block: fc.nat(), offset: fc.nat(B - 1), xor: fc.integer({ min: 1, max: 255 }) });
    await fc.assert(
      fc.asyncProperty(fc.nat(images.length - 1), fc.array(flip, { minLength: 1, maxLength: 3 }), async (which, flips) => {
        const { bytes: base, used } = images[which];
        const bytes = base.slice();
        for (const f of flips) bytes[used[f.block % used.length] * B + f.offset] ^= f.xor;
        const damaged = new MemoryBackend(bytes);
        let first;
        try {
          first = await fsckImage(damaged, { repair: false });
        } catch (e) {
          expect(e).toBeInstanceOf(FsckOperationalError);
          return;
        }
        expect([0, 4]).toContain(first.exitCode);
        const repaired = await fsckImage(damaged, { repair: true, boot: { seed: 9 } });
        expect([0, 1, 4]).toContain(repaired.exitCode);
        const after = await fsckImage(damaged, { repair: false });
        expect([0, 4]).toContain(after.exitCode);
        if (first.problems.every((p) => p.repairable)) expect({ which, flips, left: after.problems.map((p) => p.message) }).toEqual({ which, flips, left: [] });
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 40), seed: Number(process.env.FUZZ_SEED ?? 20261121) },
    );
  }, 300_000);
});
