// Service-level behaviour of Axiom and the content store in the isolated mode (each in
// its own worker, tools/system-isolated.ts), a subset of test/axiom/stack.test.ts and
// test/content/service.test.ts: the same requests give the same answers as in the
// deterministic mode, bulk data moves by grant between the main thread and a worker,
// bad messages get clear codes without a crash, and state survives a reboot.
import { afterEach, describe, expect, it } from 'vitest';
import { IsolatedKernel } from '../../kernel/isolated/isolated-kernel.ts';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import type { DiskBackend } from '../../kernel/machine/disk/backend.ts';
import { AXIOM_ENDPOINT } from '../../axiom/protocol.ts';
import { hashChunk } from '../../services/content/hash.ts';
import { hexOf } from '../../services/content/errors.ts';
import { CONTENT_ENDPOINT } from '../../services/content/protocol.ts';
import { bootIsolatedSystem, type IsolatedStackSystem } from '../../tools/system-isolated.ts';
import { codeOf, formatTestDisk, MiB, patterned } from '../helpers/stack.ts';
import { taggedTxn } from '../axiom/helpers.ts';

afterEach(() => IsolatedKernel.shutdownAll());

function boot(disk: DiskBackend, upTo: 'axiom' | 'content', seed = 1): Promise<IsolatedStackSystem> {
  return bootIsolatedSystem({ disk, seed, upTo, memorySizeBytes: 128 * MiB, keepDiskOpen: true });
}

const internalErrors = (sys: IsolatedStackSystem, name: string) => sys.ps().find((s) => s.name === name)!.internalErrors;

describe('Axiom in its own thread', () => {
  it('group-commits concurrent proposals, checkpoints, and recovers them after a reboot', async () => {
    const disk = await formatTestDisk(new MemoryBackend(64 * MiB));
    const first = await boot(disk, 'axiom');
    const axiom = first.axiom!;
    const receipts = await Promise.all(Array.from({ length: 20 }, (_, i) => axiom.propose(taggedTxn(i + 1, 2))));
    await axiom.checkpoint({ root: 'after-20' });
    await axiom.propose(taggedTxn(21));
    const stats = await axiom.stats();
    expect(stats.batches).toBeLessThan(20); // concurrent proposals shared flushes
    expect(await codeOf(first.user.call(AXIOM_ENDPOINT, 'propose', { records: 'no' }))).toBe('BADMSG');
    expect(await codeOf(first.user.call(AXIOM_ENDPOINT, 'nope', {}))).toBe('BADOP');
    expect(internalErrors(first, 'axiom')).toBe(0);
    await first.shutdown();

    const second = await boot(disk, 'axiom', 2);
    const info = await second.axiom!.info();
    expect(info.committedSeq).toBe(stats.committedSeq);
    expect(info.checkpointSeq).toBe(receipts.at(-1)!.commitSeq + 1);
    expect(await second.axiom!.checkpointImage()).toMatchObject({ image: { root: 'after-20' } });
    expect(await second.axiom!.verify()).toMatchObject({ ok: true });
    await second.shutdown();
    disk.close();
  });
});

describe('the content store in its own thread', () => {
  it('serves put/get/has/stat/ref/unref/gc and answers bad messages with clear codes', async () => {
    const disk = await formatTestDisk(new MemoryBackend(64 * MiB));
    const sys = await boot(disk, 'content');
    const content = sys.content!;
    const data = patterned(50_000, 1);
    const h = await content.put(data);
    expect(hexOf(h)).toBe(hexOf(hashChunk(data)));
    expect(Buffer.compare(await content.get(h), data)).toBe(0);
    expect(await content.has([h, new Uint8Array(32)])).toEqual([true, false]);
    expect(await content.stat(h)).toMatchObject({ sizeBytes: 50_000, refcount: 1, blockCount: 13 });
    await content.ref([h]);
    await content.unref([h, h]);
    expect(await codeOf(content.unref([h]))).toBe('REFCOUNT');
    expect((await content.gc([])).sweptChunks).toBe(1);
    expect(await codeOf(content.get(h))).toBe('NOTFOUND');

    const call = (op: string, body: unknown) => codeOf(sys.user.call(CONTENT_ENDPOINT, op, body));
    expect(await call('nope', {})).toBe('BADOP');
    expect(await call('put', { data: 'text' })).toBe('BADMSG');
    expect(await call('put', { data: new Uint8Array(2 * MiB) })).toBe('TOOBIG');
    expect(await call('putMany', { from: [{ grantId: 999, offsetBytes: 0, lengthBytes: 10 }], lengths: [10] })).toBe('GRANT');
    expect(internalErrors(sys, 'content')).toBe(0);
    await sys.shutdown();
    disk.close();
  });

  it('moves large chunks by grant between the main thread and its worker, and keeps them across a reboot', async () => {
    const disk = await formatTestDisk(new MemoryBackend(64 * MiB));
    let sys = await boot(disk, 'content');
    const user = sys.user;
    const region = user.memory.alloc(2 * MiB);
    const g = user.memory.grant(region, CONTENT_ENDPOINT, 'rw');
    const view = user.memory.view(region);
    const source = patterned(2 * MiB, 9);
    view.set(source);
    const r = await sys.content!.putManyFrom([{ grantId: g, offsetBytes: 0, lengthBytes: MiB }, { grantId: g, offsetBytes: MiB, lengthBytes: MiB }], [MiB - 10, 10, MiB]);
    expect(r.newChunks).toBe(3);
    view.fill(0);
    expect(await sys.content!.getInto(r.hashes[0], [{ grantId: g, offsetBytes: 0, lengthBytes: MiB }])).toBe(MiB - 10);
    expect(Buffer.compare(view.subarray(0, MiB - 10), source.subarray(0, MiB - 10))).toBe(0);
    // A grant the content service does not hold is refused by the kernel, and counted.
    const notLent = user.memory.alloc(4096);
    const toOther = user.memory.grant(notLent, AXIOM_ENDPOINT, 'rw');
    const faults = sys.kernel.memory.faultCount;
    expect(await codeOf(sys.content!.getInto(r.hashes[1], [{ grantId: toOther, offsetBytes: 0, lengthBytes: 10 }]))).toBe('GRANT');
    expect(sys.kernel.memory.faultCount).toBe(faults + 1);
    await sys.shutdown();

    sys = await boot(disk, 'content', 2);
    expect(Buffer.compare(await sys.content!.get(r.hashes[2]), source.subarray(MiB))).toBe(0);
    expect((await sys.content!.stats()).chunkCount).toBe(3);
    await sys.shutdown();
    disk.close();
  });
});
