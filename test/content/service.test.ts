// The content service on the real stack (driver, block service, Axiom, content): the
// protocol inline and by grant, bad input answered with clear codes and no crash, the
// boot log naming the hash implementation, state across a clean reboot.
import { afterEach, describe, expect, it } from 'vitest';
import { codeOf, MiB, patterned } from '../helpers/stack.ts';
import { hashChunk } from '../../services/content/hash.ts';
import { hexOf } from '../../services/content/errors.ts';
import { CONTENT_ENDPOINT, ContentClient, packHashes } from '../../services/content/protocol.ts';
import { bootContent, formattedMemory, type ContentStack } from './stack.ts';
import { FaultyBackend } from '../../kernel/machine/disk/faulty.ts';
import { contentManifest } from '../../services/content/service.ts';

const stacks: ContentStack[] = [];
afterEach(async () => {
  for (const s of stacks.splice(0)) await s.sys.kernel.shutdown().catch(() => undefined);
});
async function boot(...args: Parameters<typeof bootContent>) {
  const s = await bootContent(...args);
  stacks.push(s);
  return s;
}

describe('content service', () => {
  it('boots after block and Axiom, says which BLAKE3 it uses, and serves put/get/has/stat/ref/unref/gc', async () => {
    const lines: string[] = [];
    const { content, sys } = await boot(formattedMemory(), { log: (l) => lines.push(l) });
    const info = await content.info(); // requests wait for the mount
    expect(lines.join('\n')).toMatch(/content: BLAKE3 native/);
    expect(lines.join('\n')).toMatch(/content: mounted 0 chunks/);
    expect(info.chunking).toMatchObject({ kind: 'fastcdc', avgSizeBytes: 65536 });
    const data = patterned(50_000, 1);
    const h = await content.put(data);
    expect(hexOf(h)).toBe(hexOf(hashChunk(data)));
    expect(await content.get(h)).toEqual(data);
    expect(await content.has([h, new Uint8Array(32)])).toEqual([true, false]);
    expect(await content.stat(h)).toMatchObject({ sizeBytes: 50_000, refcount: 1, blockCount: 13 });
    await content.put(data);
    await content.ref([h]);
    expect((await content.stat(h)).refcount).toBe(3);
    await content.unref([h, h, h]);
    expect(await codeOf(content.unref([h]))).toBe('REFCOUNT');
    expect((await content.gc([])).sweptChunks).toBe(1);
    expect(await codeOf(content.get(h))).toBe('NOTFOUND');
    const stats = await content.stats();
    expect(stats).toMatchObject({ chunkCount: 0, storedBytes: 0, anomalies: 0 });
    expect(sys.kernel.serviceStats().find((s) => s.name === 'content')!.internalErrors).toBe(0);
  });

  it('moves large chunks by grant both ways, and ingests a stream chunked like the store', async () => {
    const { content, sys } = await boot(formattedMemory(64 * MiB));
    const user = sys.user;
    const region = user.memory.alloc(2 * MiB);
    const g = user.memory.grant(region, CONTENT_ENDPOINT, 'rw');
    const view = user.memory.view(region);
    view.set(patterned(2 * MiB, 9));
    const r = await content.putManyFrom([{ grantId: g, offsetBytes: 0, lengthBytes: MiB }, { grantId: g, offsetBytes: MiB, lengthBytes: MiB }], [MiB - 10, 10, MiB]);
    expect(r.newChunks).toBe(3);
    view.fill(0);
    expect(await content.getInto(r.hashes[0], [{ grantId: g, offsetBytes: 0, lengthBytes: MiB }])).toBe(MiB - 10);
    expect(view.subarray(0, MiB - 10)).toEqual(patterned(2 * MiB, 9).subarray(0, MiB - 10));

    const file = patterned(3 * MiB, 10);
    const streamed = await content.ingestStream((function* () {
      for (let at = 0; at < file.length; at += 300_000) yield file.subarray(at, at + 300_000);
    })());
    const whole = await content.ingest(file);
    expect(whole.newChunks).toBe(0);
    expect(whole.chunks.map((c) => hexOf(c.hash))).toEqual(streamed.chunks.map((c) => hexOf(c.hash)));
    const back = Buffer.concat(await Promise.all(streamed.chunks.map((c) => content.get(c.hash))));
    expect(back.equals(Buffer.from(file))).toBe(true);
  });

  it('two clients putting the same new chunk at the same moment store it once', async () => {
    const { sys, content } = await boot(formattedMemory());
    const other = new ContentClient(sys.kernel.attach({ name: 'other', calls: [CONTENT_ENDPOINT] }));
    const data = patterned(200_000, 77);
    const [a, b] = await Promise.all([content.put(data), other.put(data)]);
    expect(hexOf(a)).toBe(hexOf(b));
    const stats = await content.stats();
    expect(stats).toMatchObject({ chunkCount: 1, storedBytes: 200_000, logicalBytes: 400_000, dedupRatio: 2 });
    expect(stats.counters.dedupHits).toBe(1); // the second put found it stored (after waiting for the first)
    expect(stats.counters.chunksNew).toBe(1);
    expect((await other.stat(a)).refcount).toBe(2);
  });

  it('answers bad messages with clear codes and keeps serving', async () => {
    const { content, sys } = await boot(formattedMemory());
    const call = (op: string, body: unknown) => codeOf(sys.user.call(CONTENT_ENDPOINT, op, body));
    expect(await call('nope', {})).toBe('BADOP');
    expect(await call('put', 7)).toBe('BADMSG');
    expect(await call('put', {})).toBe('BADMSG');
    expect(await call('put', { data: 'text' })).toBe('BADMSG');
    expect(await call('put', { data: new Uint8Array(2 * MiB) })).toBe('TOOBIG');
    expect(await call('get', { hash: new Uint8Array(31) })).toBe('BADMSG');
    expect(await call('has', { hashes: [] })).toBe('BADMSG');
    expect(await call('ref', { hashes: [new Uint8Array(32)] })).toBe('NOTFOUND');
    expect(await call('gc', { roots: new Uint8Array(33) })).toBe('BADMSG');
    expect(await call('putMany', { from: [{ grantId: 999, offsetBytes: 0, lengthBytes: 10 }], lengths: [10] })).toBe('GRANT');
    expect(await call('putMany', { from: [{ grantId: 1, offsetBytes: 0, lengthBytes: 10 }], lengths: [11] })).toBe('BADMSG');
    expect(await call('putMany', { items: [new Uint8Array(10)], ref: 'yes' })).toBe('BADMSG');
    const h = await content.put(new Uint8Array([1, 2, 3]));
    expect(await content.get(h)).toEqual(new Uint8Array([1, 2, 3]));
    expect(sys.kernel.serviceStats().find((s) => s.name === 'content')!.internalErrors).toBe(0);
    void packHashes;
  });

  it('keeps chunks and counts across a clean reboot, and gives the pool back on stop', async () => {
    const disk = formattedMemory();
    const first = await boot(disk);
    const hs = (await first.content.putMany(Array.from({ length: 20 }, (_, i) => patterned(3000 + i * 1000, 100 + i)))).hashes;
    await first.content.unref(hs.slice(0, 5));
    const stats = await first.content.stats();
    await first.sys.kernel.shutdown();
    stacks.splice(0);
    const free = disk.bytes.length; // (touch: the disk stays the same object)
    void free;
    const second = await boot(disk, { seed: 2 });
    const again = await second.content.stats();
    expect(again).toMatchObject({ chunkCount: 20, orphanCount: 5, logicalBytes: stats.logicalBytes, storedBytes: stats.storedBytes, anomalies: 0 });
    expect(again.mount.leftoverBlocks).toBe(0); // the pool went back to the block service on stop
    for (const [i, h] of hs.entries()) expect(await second.content.get(h)).toEqual(patterned(3000 + i * 1000, 100 + i));
  });
});

describe('content service restart', () => {
  it('a restarted content service (block and Axiom still up) mounts the same store', async () => {
    const { sys, content } = await boot(formattedMemory());
    const hs = (await content.putMany(Array.from({ length: 12 }, (_, i) => patterned(6000 + i, 600 + i)))).hashes;
    await content.unref(hs.slice(0, 3));
    await content.gc([]);
    const before = await content.stats();
    await sys.kernel.stop('content');
    await sys.kernel.spawn(contentManifest());
    const after = await content.stats();
    expect(after).toMatchObject({ chunkCount: 9, logicalBytes: before.logicalBytes, anomalies: 0, failed: null });
    // The bitmap read through the block protocol can be stale after a restart (the block
    // cache keeps the bitmap blocks it served at the first mount): the mount reports that
    // in mount.problems rather than failing.
    for (const [i, h] of hs.entries()) if (i >= 3) expect(await content.get(h)).toEqual(patterned(6000 + i, 600 + i));
    expect(hexOf(await content.put(patterned(6000, 600)))).toBe(hexOf(hs[0]));
  });
});

describe('content service integrity', () => {
  it('a bit flipped on the way from the disk, or in the image itself, is INTEGRITY naming hash and block', async () => {
    const disk = new FaultyBackend(formattedMemory().bytes);
    const first = await boot(disk);
    const data = patterned(20_000, 44);
    const h = await first.content.put(data);
    const other = await first.content.put(patterned(9000, 45));
    const { blockIndex, blockCount } = await first.content.stat(h);
    await first.sys.kernel.shutdown();
    stacks.splice(0);

    // Read path: the device returns one flipped bit (the stored bytes are right).
    const second = await boot(disk, { seed: 2 });
    disk.flipBitOnRead(blockIndex * 8 + 3, 1234);
    const err = await second.content.get(h).catch((e: Error & { code: string }) => e);
    expect((err as { code: string }).code).toBe('INTEGRITY');
    expect((err as Error).message).toContain(hexOf(h));
    expect((err as Error).message).toContain(`blocks [${blockIndex}, +${blockCount})`);
    expect(await second.content.get(other)).toEqual(patterned(9000, 45)); // the rest is served
    await second.sys.kernel.shutdown();
    stacks.splice(0);

    // The image: a byte of the chunk changed on the medium itself.
    disk.clearFaults();
    const image = disk.snapshotDurable();
    image[blockIndex * 4096 + 17] ^= 0x80;
    const third = await boot(new FaultyBackend(image), { seed: 3 });
    expect(await codeOf(third.content.get(h))).toBe('INTEGRITY');
    expect((await third.content.stats()).counters.integrityErrors).toBe(1);
    expect(await third.content.get(other)).toEqual(patterned(9000, 45));
  });
});
