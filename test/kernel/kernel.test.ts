// Kernel: routing, capabilities, errors as values, timeouts on the virtual clock,
// timers, one-way sends, no shared objects across the boundary, and seeded determinism.
import { describe, expect, it } from 'vitest';
import { Kernel } from '../../kernel/kernel.ts';
import { ServiceError } from '../../kernel/errors.ts';
import type { Manifest, ServiceContext } from '../../kernel/service.ts';

function echoService(name = 'echo', extra: Partial<Manifest> = {}): Manifest {
  return {
    name,
    provides: [name],
    calls: [],
    service: {
      start: () => ({
        handle: (req) => {
          switch (req.op) {
            case 'echo':
              return req.body;
            case 'fail':
              throw new ServiceError('EINVAL', 'asked to fail');
            case 'crash':
              throw new Error('handler bug');
            case 'never':
              return new Promise(() => {});
            case 'mutate': {
              const b = req.body as { list: number[] };
              b.list.push(99);
              return b;
            }
            default:
              throw new ServiceError('BADOP', req.op);
          }
        },
      }),
    },
    ...extra,
  };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return (e as ServiceError).code;
  }
}

describe('kernel message passing', () => {
  it('round-trips a call and carries typed errors back as values', async () => {
    const k = new Kernel({ seed: 7 });
    await k.spawn(echoService());
    const app = k.attach({ name: 'app', calls: ['echo'] });
    const back = (await app.call('echo', 'echo', { a: 1, b: [1, 2, 3], c: new Uint8Array([9, 8]) })) as Record<string, unknown>;
    expect(back.a).toBe(1);
    expect(back.b).toEqual([1, 2, 3]);
    expect(back.c).toBeInstanceOf(Uint8Array);
    expect([...(back.c as Uint8Array)]).toEqual([9, 8]);
    const err = (await app.call('echo', 'fail').catch((e: unknown) => e)) as ServiceError;
    expect(err).toBeInstanceOf(ServiceError);
    expect(err.code).toBe('EINVAL');
    expect(k.endpointCounters().get('echo')).toMatchObject({ messages: 2, errors: 1 });
  });

  it('refuses and counts a call to an endpoint the manifest does not name', async () => {
    const k = new Kernel();
    await k.spawn(echoService());
    await k.spawn(echoService('other'));
    const app = k.attach({ name: 'app', calls: ['echo'] });
    expect(await codeOf(app.call('other', 'echo', 1))).toBe('NOCAP');
    expect(await codeOf(app.call('other', 'echo', 1))).toBe('NOCAP');
    expect(k.endpointCounters().get('other')).toMatchObject({ refused: 2, errors: 2, messages: 0 });
    const app2 = k.attach({ name: 'app2', calls: ['missing'] });
    expect(await codeOf(app2.call('missing', 'x'))).toBe('NOENDPOINT');
    expect(() => app.send('other', 'x', 1)).toThrow(/NOCAP|capability/);
  });

  it('turns a handler bug into INTERNAL and keeps the service serving', async () => {
    const logs: string[] = [];
    const k = new Kernel({ logSink: (l) => logs.push(l) });
    await k.spawn(echoService());
    const app = k.attach({ name: 'app', calls: ['echo'] });
    expect(await codeOf(app.call('echo', 'crash'))).toBe('INTERNAL');
    expect(await app.call('echo', 'echo', 5)).toBe(5);
    expect(k.serviceStats().find((s) => s.name === 'echo')!.internalErrors).toBe(1);
    expect(logs.some((l) => l.includes('handler bug'))).toBe(true);
  });

  it('times out a call with no reply, on the virtual clock', async () => {
    const k = new Kernel();
    await k.spawn(echoService());
    const app = k.attach({ name: 'app', calls: ['echo'] });
    const t0 = k.nowMs();
    expect(await codeOf(app.call('echo', 'never', null, { timeoutMs: 250 }))).toBe('TIMEOUT');
    expect(k.nowMs() - t0).toBe(250);
  });

  it('lets a background long poll wait without moving virtual time', async () => {
    const k = new Kernel();
    await k.spawn(echoService());
    const app = k.attach({ name: 'app', calls: ['echo'] });
    const poll = codeOf(app.call('echo', 'never', null, { timeoutMs: 60_000, background: true })); // handled from the start
    await k.idle();
    expect(k.nowMs()).toBe(0); // idle: nothing else waits, so time stays put
    // A foreground wait moves time; the poll's timeout fires on the way.
    expect(await codeOf(app.call('echo', 'never', null, { timeoutMs: 90_000 }))).toBe('TIMEOUT');
    expect(await poll).toBe('TIMEOUT');
    expect(k.nowMs()).toBe(90_000);
  });

  it('never shares an object between sender and receiver', async () => {
    const k = new Kernel();
    await k.spawn(echoService());
    const app = k.attach({ name: 'app', calls: ['echo'] });
    const body = { list: [1, 2] };
    const back = (await app.call('echo', 'mutate', body)) as { list: number[] };
    expect(back.list).toEqual([1, 2, 99]);
    expect(body.list).toEqual([1, 2]);
  });

  it('refuses a body larger than the message limit with TOOBIG', async () => {
    const k = new Kernel();
    await k.spawn(echoService());
    const app = k.attach({ name: 'app', calls: ['echo'] });
    expect(await codeOf(app.call('echo', 'echo', new Uint8Array(9 * 1024 * 1024)))).toBe('TOOBIG');
  });

  it('delivers one-way sends and service timers in virtual time order', async () => {
    const k = new Kernel();
    const seen: string[] = [];
    let ctxOf: ServiceContext | undefined;
    await k.spawn({
      name: 'sink',
      provides: ['sink'],
      calls: [],
      service: {
        start: (ctx) => {
          ctxOf = ctx;
          ctx.timers.setTimeout(() => seen.push(`t100@${ctx.clock.nowMs()}`), 100);
          ctx.timers.setTimeout(() => seen.push(`t50@${ctx.clock.nowMs()}`), 50);
          const cancelled = ctx.timers.setTimeout(() => seen.push('never'), 70);
          ctx.timers.clearTimeout(cancelled);
          return { onMessage: (m) => seen.push(`msg:${m.op}:${JSON.stringify(m.body)}`) };
        },
      },
    });
    const app = k.attach({ name: 'app', calls: ['sink'] });
    app.send('sink', 'hello', { n: 1 });
    await k.idle();
    expect(seen).toEqual(['msg:hello:{"n":1}']);
    await k.advanceTime(200);
    expect(seen).toEqual(['msg:hello:{"n":1}', 't50@50', 't100@100']);
    expect(ctxOf!.clock.nowMs()).toBe(200);
  });

  it('fails a pending call with STOPPED when the callee stops', async () => {
    // Real clock: on the virtual clock the waiting call would (rightly) time out first.
    const k = new Kernel({ clock: 'real' });
    await k.spawn(echoService());
    const app = k.attach({ name: 'app', calls: ['echo'] });
    const p = app.call('echo', 'never');
    await k.idle();
    await k.stop('echo');
    expect(await codeOf(p)).toBe('STOPPED');
    expect(await codeOf(app.call('echo', 'echo', 1))).toBe('NOENDPOINT');
  });
});

describe('kernel determinism', () => {
  async function workload(seed: number): Promise<string[]> {
    const k = new Kernel({ seed, trace: true });
    // Three relays that forward to a counter; many concurrent clients.
    await k.spawn({
      name: 'counter',
      provides: ['counter'],
      calls: [],
      service: {
        start: (ctx) => {
          let n = 0;
          return {
            handle: async (req) => {
              if (ctx.random.below(2)) await Promise.resolve();
              n += req.body as number;
              return n;
            },
          };
        },
      },
    });
    for (const r of ['r1', 'r2', 'r3']) {
      await k.spawn({
        name: r,
        provides: [r],
        calls: ['counter'],
        service: { start: (ctx) => ({ handle: (req) => ctx.call('counter', 'add', req.body) }) },
      });
    }
    const app = k.attach({ name: 'app', calls: ['r1', 'r2', 'r3'] });
    await Promise.all(Array.from({ length: 60 }, (_, i) => app.call(`r${(i % 3) + 1}`, 'add', i)));
    return k.trace.lines();
  }

  it('gives the same trace for the same seed, byte for byte', async () => {
    const a = await workload(42);
    const b = await workload(42);
    expect(a.length).toBeGreaterThan(200);
    expect(b).toEqual(a);
  });

  it('gives a different interleaving for a different seed', async () => {
    const a = await workload(1);
    const b = await workload(2);
    expect(b).not.toEqual(a);
  });
});
