// The isolated kernel: services in worker threads behave as under the deterministic
// kernel (routing, typed errors, INTERNAL counted, no shared objects, timeouts,
// one-way sends), and capabilities and grants are enforced and counted across threads.
import { afterEach, describe, expect, it } from 'vitest';
import { IsolatedKernel } from '../../kernel/isolated/isolated-kernel.ts';
import { ServiceError } from '../../kernel/errors.ts';
import { codeOf, fixture, until } from './helpers.ts';

afterEach(() => IsolatedKernel.shutdownAll());

describe('isolated kernel: messages', () => {
  it('round-trips calls to a worker and carries typed errors back as values', async () => {
    const ik = new IsolatedKernel({ seed: 7 });
    await ik.spawn(fixture('echoService', 'echo'));
    const app = ik.attach({ name: 'app', calls: ['echo'] });
    const back = (await app.call('echo', 'echo', { a: 1, b: [1, 2, 3], c: new Uint8Array([9, 8]) })) as Record<string, unknown>;
    expect(back.a).toBe(1);
    expect(back.b).toEqual([1, 2, 3]);
    expect(back.c).toBeInstanceOf(Uint8Array);
    expect([...(back.c as Uint8Array)]).toEqual([9, 8]);
    expect(await app.call('echo', 'whoami')).toMatchObject({ name: 'echo', from: 'app' });
    const err = (await app.call('echo', 'fail').catch((e: unknown) => e)) as ServiceError;
    expect(err).toBeInstanceOf(ServiceError);
    expect(err.code).toBe('EINVAL');
    expect(ik.kernel.endpointCounters().get('echo')).toMatchObject({ messages: 3, errors: 1 });
    expect(ik.ps().find((s) => s.name === 'echo')!.threadId).toBeGreaterThan(0);
    await ik.shutdown();
  });

  it('turns a handler bug into INTERNAL, counts it, and keeps the service serving', async () => {
    const logs: string[] = [];
    const ik = new IsolatedKernel({ logSink: (l) => logs.push(l) });
    await ik.spawn(fixture('echoService', 'echo'));
    const app = ik.attach({ name: 'app', calls: ['echo'] });
    expect(await codeOf(app.call('echo', 'crash'))).toBe('INTERNAL');
    expect(await app.call('echo', 'echo', 5)).toBe(5);
    expect(ik.kernel.serviceStats().find((s) => s.name === 'echo')!.internalErrors).toBe(1);
    expect(logs.some((l) => l.includes('handler bug'))).toBe(true);
    await ik.shutdown();
  });

  it('never shares an object, times out on the real clock, and delivers one-way sends', async () => {
    const ik = new IsolatedKernel();
    await ik.spawn(fixture('echoService', 'echo'));
    const app = ik.attach({ name: 'app', calls: ['echo'] });
    const body = { list: [1, 2] };
    expect(((await app.call('echo', 'mutate', body)) as { list: number[] }).list).toEqual([1, 2, 99]);
    expect(body.list).toEqual([1, 2]);
    expect(await codeOf(app.call('echo', 'never', null, { timeoutMs: 100 }))).toBe('TIMEOUT');
    // The worker's clock is the kernel's clock (one epoch), read from another thread.
    const before = ik.kernel.nowMs();
    const inWorker = (await app.call('echo', 'sleep', { ms: 5 })) as number;
    expect(inWorker).toBeGreaterThanOrEqual(before - 1);
    expect(inWorker).toBeLessThanOrEqual(ik.kernel.nowMs() + 1);
    expect(await codeOf(app.call('echo', 'echo', new Uint8Array(9 * 1024 * 1024)))).toBe('TOOBIG');
    for (let i = 0; i < 10; i++) app.send('echo', 'note', { i });
    // A call after the sends is handled after them (one mailbox, one ring, in order).
    expect(await app.call('echo', 'messages')).toBe(10);
    await ik.shutdown();
  });

  it('carries a large body by postMessage in order with the ring', async () => {
    const ik = new IsolatedKernel();
    await ik.spawn(fixture('echoService', 'echo'));
    const app = ik.attach({ name: 'app', calls: ['echo'] });
    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 7) & 0xff);
    const results = await Promise.all([app.call('echo', 'echo', 1), app.call('echo', 'echo', big), app.call('echo', 'echo', 3)]);
    expect(results[0]).toBe(1);
    expect(Buffer.compare(results[1] as Uint8Array, big)).toBe(0);
    expect(results[2]).toBe(3);
    await ik.shutdown();
  });

  it('gets a synchronous call through while the worker\'s ring is backlogged', async () => {
    const ik = new IsolatedKernel();
    await ik.spawn(fixture('echoService', 'echo'));
    await ik.spawn(fixture('relayService', 'relay', { calls: ['echo'] }));
    const app = ik.attach({ name: 'app', calls: ['relay', 'echo'] });
    expect(await app.call('relay', 'flood', { endpoint: 'echo', count: 24, sizeBytes: 200_000 })).toBe(4096);
    expect(await app.call('echo', 'messages')).toBe(24);
    await ik.shutdown();
  });

  it('refuses a manifest without an entry, and reports a service whose start fails', async () => {
    const ik = new IsolatedKernel();
    const { entry: _entry, ...noEntry } = fixture('echoService', 'echo');
    await expect(ik.spawn(noEntry)).rejects.toThrow(/entry/);
    await expect(ik.spawn(fixture('failingService', 'failing'))).rejects.toThrow(/missing resource/);
    expect(ik.ps().some((s) => s.name === 'failing')).toBe(false);
    await ik.spawn(fixture('echoService', 'echo'));
    expect(await ik.attach({ name: 'app', calls: ['echo'] }).call('echo', 'echo', 1)).toBe(1);
    await ik.shutdown();
  });
});

describe('isolated kernel: capabilities across threads', () => {
  it('refuses and counts a worker call or send to an endpoint its manifest does not name', async () => {
    const ik = new IsolatedKernel();
    await ik.spawn(fixture('echoService', 'echo'));
    await ik.spawn(fixture('echoService', 'other'));
    await ik.spawn(fixture('relayService', 'relay', { calls: ['echo'] }));
    const app = ik.attach({ name: 'app', calls: ['relay'] });
    expect(await app.call('relay', 'call', { endpoint: 'echo', op: 'echo', body: 4 })).toBe(4);
    expect(await codeOf(app.call('relay', 'call', { endpoint: 'other', op: 'echo', body: 4 }))).toBe('NOCAP');
    expect(await codeOf(app.call('relay', 'call', { endpoint: 'other', op: 'echo', body: 4 }))).toBe('NOCAP');
    expect(await codeOf(app.call('relay', 'send', { endpoint: 'other', op: 'note' }))).toBe('NOCAP');
    await until(() => ik.kernel.endpointCounters().get('other')?.refused === 3, 30_000, 'the refused send to be counted');
    expect(ik.kernel.endpointCounters().get('other')).toMatchObject({ refused: 3, messages: 0 });
    expect(await app.call('relay', 'call', { endpoint: 'echo', op: 'whoami' })).toMatchObject({ from: 'relay' });
    await ik.shutdown();
  });

  it('refuses MMIO windows and interrupt lines a worker manifest does not name', async () => {
    const ik = new IsolatedKernel();
    await expect(ik.spawn(fixture('rogueService', 'rogue', { config: { base: 0x1000_1000 } }))).rejects.toThrow(/may not map MMIO/);
    await expect(ik.spawn(fixture('rogueService', 'rogue', { config: { line: 1 } }))).rejects.toThrow(/may not take interrupt line/);
    await ik.shutdown();
  });
});

describe('isolated kernel: grants across threads', () => {
  it('lends pages to a worker with bounds and rights, and counts every violation', async () => {
    const ik = new IsolatedKernel({ memorySizeBytes: 1 << 20 });
    await ik.spawn(fixture('memoryService', 'mem'));
    const owner = ik.attach({ name: 'owner', calls: ['mem'] });
    const region = owner.memory.alloc(8192);
    owner.memory.view(region).fill(3);
    const g = owner.memory.grant(region, 'mem', 'r', 4096, 4096);
    const faults0 = ik.kernel.memory.faultCount;
    expect(await owner.call('mem', 'readGrant', { grantId: g })).toEqual({ length: 4096, first: 3, sum: 3 * 4096 });
    expect(await owner.call('mem', 'grantSize', { grantId: g })).toBe(4096);
    expect(await codeOf(owner.call('mem', 'writeGrant', { grantId: g }))).toBe('GRANT');
    expect(await codeOf(owner.call('mem', 'readGrant', { grantId: g, offsetBytes: 4000, lengthBytes: 200 }))).toBe('GRANT');
    expect(await codeOf(owner.call('mem', 'readGrant', { grantId: g + 1000 }))).toBe('GRANT');
    expect(await codeOf(owner.call('mem', 'physAddr', { grantId: g }))).toBe('NOCAP'); // no DMA capability
    expect(ik.kernel.memory.faultCount - faults0).toBe(3);
    // Revocation reaches the worker before anything the owner does afterwards.
    owner.memory.revoke(g);
    expect(await codeOf(owner.call('mem', 'readGrant', { grantId: g }))).toBe('GRANT');
    const g2 = owner.memory.grant(region, 'mem', 'rw');
    expect(await owner.call('mem', 'writeGrant', { grantId: g2, fill: 9, offsetBytes: 0, lengthBytes: 16 })).toBe('written');
    expect(owner.memory.view(region, 0, 16).every((b) => b === 9)).toBe(true);
    owner.memory.free(region); // frees the region: its grants end with it
    expect(await codeOf(owner.call('mem', 'readGrant', { grantId: g2 }))).toBe('GRANT');
    expect(ik.kernel.memory.faultCount - faults0).toBe(5);
    await ik.shutdown();
  });

  it('lets one worker lend memory to another, checked by the kernel', async () => {
    const ik = new IsolatedKernel({ memorySizeBytes: 1 << 20 });
    await ik.spawn(fixture('memoryService', 'holder'));
    await ik.spawn(fixture('memoryService', 'lender', { calls: ['holder'] }));
    const app = ik.attach({ name: 'app', calls: ['holder', 'lender'] });
    await app.call('lender', 'alloc', { regionBytes: 4096, fill: 7 });
    const g = (await app.call('lender', 'grant', { endpoint: 'holder', rights: 'r' })) as number;
    expect(await app.call('holder', 'readGrant', { grantId: g })).toEqual({ length: 4096, first: 7, sum: 7 * 4096 });
    expect(await codeOf(app.call('lender', 'grant', { endpoint: 'nobody', rights: 'r' }))).toBe('NOCAP');
    const faults0 = ik.kernel.memory.faultCount;
    expect(await codeOf(app.call('holder', 'writeGrant', { grantId: g }))).toBe('GRANT');
    expect(await codeOf(app.call('lender', 'viewRegion', { offsetBytes: 4000, lengthBytes: 100 }))).toBe('GRANT');
    expect(ik.kernel.memory.faultCount - faults0).toBe(2);
    await ik.shutdown();
  });
});
