// The filesystem over the real stack (content store, Axiom, block service, driver, device):
// the conformance cases, the model property test with remounts (a fresh boot on the same
// disk), and data that survives a reboot byte for byte.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { ROOT_INO, type FsClient } from '../../services/fs/protocol.ts';
import { bootFsStack, formatTestDisk, MiB, openStackSubject, patterned, readWholeFile, writeWholeFile } from '../helpers/stack.ts';
import { conformanceCases } from './conformance.ts';
import { modelOpArb, runModelCheck } from './model-check.ts';

const openStack = () => openStackSubject();

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
    const ino = await writeWholeFile(fs, ROOT_INO, 'big', data);
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
      const got = await readWholeFile(fs2, '/' + name);
      expect(Buffer.compare(got, data)).toBe(0);
    }
    expect((await fs2.getattr(ino)).sizeBytes).toBe(data.length);
    await sys.shutdown();
    disk.close();
  });
});
