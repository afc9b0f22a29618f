// The filesystem over the real stack (content store, Axiom, block service, driver, device):
// the conformance cases, the model property test with remounts (a fresh boot on the same
// disk), and data that survives a reboot byte for byte.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { ROOT_INO, type FsClient } from '../../services/fs/protocol.ts';
import type { System } from '../../tools/system.ts';
import { bootFsStack, formatTestDisk, MiB, patterned } from '../helpers/stack.ts';
import { conformanceCases } from './conformance.ts';
import { modelOpArb, runModelCheck, type Subject } from './model-check.ts';

async function openStack(): Promise<Subject> {
  const disk = await formatTestDisk(new MemoryBackend(64 * MiB));
  let sys: System = await bootFsStack(disk);
  return {
    fs: sys.fs!,
    remount: async () => {
      await sys.shutdown();
      sys = await bootFsStack(disk);
      return sys.fs!;
    },
    close: async () => {
      await sys.shutdown();
      disk.close();
    },
  };
}

describe('fs over the whole stack', () => {
  describe('conformance', () => {
    conformanceCases(openStack);
  });

  it('agrees with the model on random operations across reboots', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(modelOpArb, { minLength: 10, maxLength: 40 }), (script) => runModelCheck(openStack, script)),
      { numRuns: 12 },
    );
  });

  it('keeps a multi-page file byte for byte across a reboot, and stores identical pages once', async () => {
    const disk = await formatTestDisk(new MemoryBackend(64 * MiB));
    let sys = await bootFsStack(disk);
    const fs = sys.fs!;
    const data = patterned(3 * MiB + 12345, 42);
    const { attr, handle } = await fs.create(ROOT_INO, 'big', 0o644);
    for (let off = 0; off < data.length; off += 1 << 20) await fs.write(handle, off, data.subarray(off, off + (1 << 20)));
    await fs.close(handle);
    const once = await sys.content!.stats();
    expect(once.storedBytes).toBeGreaterThanOrEqual(data.length);
    const copy = await fs.create(ROOT_INO, 'copy', 0o644);
    await fs.write(copy.handle, 0, data);
    await fs.close(copy.handle);
    const after = await sys.content!.stats();
    expect(after.storedBytes).toBe(once.storedBytes); // the copy's pages are the same chunks
    expect(after.chunkCount).toBe(once.chunkCount);
    await sys.shutdown();
    sys = await bootFsStack(disk);
    const fs2: FsClient = sys.fs!;
    for (const name of ['big', 'copy']) {
      const back = await fs2.open((await fs2.lookup(ROOT_INO, name)).ino, { read: true });
      const got = new Uint8Array(data.length);
      for (let off = 0; off < data.length; off += 1 << 20) got.set(await fs2.read(back.handle, off, 1 << 20), off);
      expect(Buffer.compare(got, data)).toBe(0);
    }
    expect((await fs2.getattr(attr.ino)).sizeBytes).toBe(data.length);
    await sys.shutdown();
    disk.close();
  });
});
