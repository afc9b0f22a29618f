// Supervision in the isolated kernel: a service that throws out of its handler loop, or
// is killed, is restarted from its manifest while its clients get STOPPED for what was in
// flight; a service spinning in a loop misses heartbeats, is reported, and does not stop
// the others. Bounds are generous and nothing here asserts a duration: the claims are
// about the events reported and the answers received.
import { afterEach, describe, expect, it } from 'vitest';
import { IsolatedKernel } from '../../kernel/isolated/isolated-kernel.ts';
import { RESTARTS_MAX } from '../../kernel/isolated/limits.ts';
import { codeOf, fixture } from './helpers.ts';

afterEach(() => IsolatedKernel.shutdownAll());

describe('isolated kernel: supervision', () => {
  it('restarts a service that throws out of its handler loop; calls in flight get STOPPED', async () => {
    const ik = new IsolatedKernel();
    await ik.spawn(fixture('echoService', 'echo'));
    const app = ik.attach({ name: 'app', calls: ['echo'] });
    const thread0 = ik.ps().find((s) => s.name === 'echo')!.threadId;
    const inFlight = codeOf(app.call('echo', 'never'));
    const restarted = ik.nextEvent('restarted', 'echo');
    expect(await app.call('echo', 'escape')).toBe('armed');
    expect(await inFlight).toBe('STOPPED');
    await restarted;
    const crash = ik.events.find((e) => e.kind === 'crashed' && e.service === 'echo');
    expect(crash?.detail).toMatch(/escaped the handler loop/);
    expect(await app.call('echo', 'echo', 'back')).toBe('back');
    const info = ik.ps().find((s) => s.name === 'echo')!;
    expect(info.restarts).toBe(1);
    expect(info.threadId).not.toBe(thread0);
    await ik.shutdown();
  });

  it('kill(): ends the worker at once, fails what was in flight, and brings the service back', async () => {
    const ik = new IsolatedKernel();
    await ik.spawn(fixture('echoService', 'echo'));
    await ik.spawn(fixture('echoService', 'bystander'));
    const app = ik.attach({ name: 'app', calls: ['echo', 'bystander'] });
    const inFlight = Array.from({ length: 5 }, () => codeOf(app.call('echo', 'never')));
    expect(await app.call('echo', 'echo', 1)).toBe(1); // the calls above reached the worker
    const done = await ik.kill('echo');
    expect(done.kind).toBe('restarted');
    expect(await Promise.all(inFlight)).toEqual(Array(5).fill('STOPPED'));
    const episode = ik.events.filter((e) => ['killed', 'crashed', 'restarted'].includes(e.kind));
    expect(episode.map((e) => `${e.kind}:${e.service}`)).toEqual(['killed:echo', 'restarted:echo']);
    expect(await app.call('echo', 'echo', 2)).toBe(2);
    expect(await app.call('bystander', 'echo', 3)).toBe(3);
    await expect(ik.kill('nobody')).rejects.toThrow(/no running service/);
    await ik.shutdown();
  });

  it('gives up on a service restarted too often, and leaves it stopped', async () => {
    const ik = new IsolatedKernel();
    await ik.spawn(fixture('echoService', 'echo'));
    const app = ik.attach({ name: 'app', calls: ['echo'] });
    for (let i = 0; i < RESTARTS_MAX; i++) expect((await ik.kill('echo')).kind).toBe('restarted');
    expect((await ik.kill('echo')).kind).toBe('gave-up');
    expect(await codeOf(app.call('echo', 'echo', 1))).toBe('NOENDPOINT');
    expect(ik.ps().find((s) => s.name === 'echo')).toMatchObject({ state: 'stopped', threadId: 0, restarts: RESTARTS_MAX });
    await ik.shutdown();
  });

  it('a service spinning in a loop misses heartbeats and is reported, and the others keep running', async () => {
    const ik = new IsolatedKernel({ hangRestartMs: 0 });
    await ik.spawn(fixture('echoService', 'spinner'));
    await ik.spawn(fixture('echoService', 'echo'));
    const app = ik.attach({ name: 'app', calls: ['spinner', 'echo'] });
    const missed = ik.nextEvent('heartbeat-missed', 'spinner');
    let spinDone = false;
    const spin = app.call('spinner', 'spin', { ms: 4_000 }).then((r) => ((spinDone = true), r));
    // While it spins, the other service answers, call after call.
    let answered = 0;
    let missedSeen = false;
    void missed.then(() => (missedSeen = true));
    while (!missedSeen) {
      expect(await app.call('echo', 'echo', answered)).toBe(answered);
      answered++;
    }
    expect(spinDone).toBe(false);
    expect(answered).toBeGreaterThan(0);
    expect((await missed).detail).toMatch(/no heartbeat/);
    expect(ik.ps().find((s) => s.name === 'spinner')!.heartbeat).toBe('missed');
    expect(await spin).toBe('spun');
    await ik.nextEvent('heartbeat-recovered', 'spinner');
    expect(ik.ps().find((s) => s.name === 'spinner')!.heartbeat).toBe('ok');
    expect(ik.events.some((e) => e.service === 'echo')).toBe(false);
    await ik.shutdown();
  });

  it('kills and restarts a service that stays hung past hangRestartMs', async () => {
    const ik = new IsolatedKernel({ hangRestartMs: 2_500 });
    await ik.spawn(fixture('echoService', 'spinner'));
    const app = ik.attach({ name: 'app', calls: ['spinner'] });
    const restarted = ik.nextEvent('restarted', 'spinner');
    expect(await codeOf(app.call('spinner', 'spin', { ms: 600_000 }))).toBe('STOPPED');
    await restarted;
    expect(ik.events.find((e) => e.kind === 'killed')?.detail).toMatch(/hung/);
    expect(await app.call('spinner', 'echo', 'alive')).toBe('alive');
    await ik.shutdown();
  });
});
