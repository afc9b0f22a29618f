// The whole stack in the isolated kernel mode (tools/system-isolated.ts): driver, block
// service, Axiom, content store and filesystem, each in its own worker thread. The fs
// conformance cases (test/fs/conformance.ts, the same ones the deterministic stack
// passes) with remounts, a multi-MiB file byte for byte across a reboot that is
// read by the deterministic mode too, and Axiom's plain-data hasher choice.
import { afterEach, describe, expect, it } from 'vitest';
import { IsolatedKernel } from '../../kernel/isolated/isolated-kernel.ts';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import type { DiskBackend } from '../../kernel/machine/disk/backend.ts';
import { ROOT_INO } from '../../services/fs/protocol.ts';
import { bootIsolatedSystem, type IsolatedBootSystemOptions, type IsolatedStackSystem } from '../../tools/system-isolated.ts';
import { resolveHasher } from '../../axiom/entry.ts';
import { conformanceCases } from '../fs/conformance.ts';
import { bootFsStack, codeOf, formatTestDisk, MiB, openStackSubject, patterned, readWholeFile, TEST_EPOCH_MS, writeWholeFile } from '../helpers/stack.ts';

afterEach(() => IsolatedKernel.shutdownAll());

function bootStack(disk: DiskBackend, options: Partial<IsolatedBootSystemOptions> = {}): Promise<IsolatedStackSystem> {
  return bootIsolatedSystem({ memorySizeBytes: 128 * MiB, epochMs: TEST_EPOCH_MS, ...options, disk, upTo: 'fs', keepDiskOpen: true });
}

/** Byte equality without vitest's per-element deep compare (slow on MiBs). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

describe('the whole stack in the isolated mode', () => {
  describe('fs conformance (each service in its own thread)', () => {
    conformanceCases(() => openStackSubject(bootStack));
  });

  it('runs every layer in its own thread and keeps a file byte for byte across a reboot, in both modes', async () => {
    const disk = await formatTestDisk(new MemoryBackend(64 * MiB));
    const lines: string[] = [];
    let sys = await bootStack(disk, { log: (l) => lines.push(l) });
    expect(sys.layers).toEqual(['driver', 'block', 'axiom', 'content', 'fs']);
    const ps = sys.ps();
    expect(ps.map((s) => s.name)).toEqual(['virtio-blk', 'user', 'block', 'axiom', 'content', 'fs']);
    const threads = ps.filter((s) => s.threadId > 0).map((s) => s.threadId);
    expect(new Set(threads).size).toBe(5);
    for (const name of ['block', 'axiom', 'content', 'fs']) expect(lines.some((l) => l.includes(`service ${name} up in its own thread`)), name).toBe(true);

    const data = patterned(5 * MiB + 4321, 11);
    await writeWholeFile(sys.fs!, ROOT_INO, 'big', data);
    await sys.fs!.mkdir(ROOT_INO, 'dir');
    expect(sameBytes(await readWholeFile(sys.fs!, '/big'), data)).toBe(true);
    await sys.shutdown();

    sys = await bootStack(disk);
    expect(sameBytes(await readWholeFile(sys.fs!, '/big'), data)).toBe(true);
    expect((await sys.fs!.lookup(ROOT_INO, 'dir')).type).toBe('dir');
    await sys.shutdown();

    // The same image in the deterministic mode: one format, one stack, two kernels.
    const det = await bootFsStack(disk);
    expect(sameBytes(await readWholeFile(det.fs!, '/big'), data)).toBe(true);
    await det.shutdown();
    disk.close();
  });

  it('takes Axiom\'s hasher as a name resolved in its worker; every choice reads the same log', async () => {
    const disk = await formatTestDisk(new MemoryBackend(64 * MiB));
    let sys = await bootStack(disk, { axiomHasher: 'noble' });
    await sys.fs!.mkdir(ROOT_INO, 'a');
    await sys.shutdown();
    sys = await bootStack(disk, { axiomHasher: 'wasm' });
    expect((await sys.fs!.lookup(ROOT_INO, 'a')).type).toBe('dir');
    expect((await sys.axiom!.verify()).ok).toBe(true);
    await sys.shutdown();
    disk.close();
    expect(() => resolveHasher('md5' as never)).toThrow(/hasher 'md5'/);
    expect(await codeOf(Promise.resolve().then(() => resolveHasher('sha1' as never)))).toBe('BADARG');
  });
});
