// The scheduler's fast path: picking again after a few microtask turns instead of a host
// turn per call, call timeouts kept in the kernel's one timer heap (one host timer in real
// mode). What must hold: same seed same trace, per-sender FIFO, a timeout fires exactly
// once and never while a handler's microtask chain is still running, STOPPED for a call
// whose callee stops, and real-mode timers fire (earliest first) and stay cancelled.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Kernel } from '../../kernel/kernel.ts';
import { ServiceError } from '../../kernel/errors.ts';
import { SCHEDULER_IDLE_SPIN_TURNS } from '../../kernel/limits.ts';
import type { Manifest } from '../../kernel/service.ts';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return (e as ServiceError).code;
  }
}

/** Waits `turns` microtask turns (no host turn). */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await undefined;
}

/** A service whose 'slow' op answers after `body` microtask turns and 'never' never answers. */
function slowService(name = 'slow', log?: string[]): Manifest {
  return {
    name,
    provides: [name],
    calls: [],
    service: {
      start: () => ({
        handle: async (req) => {
          if (req.op === 'never') return new Promise(() => {});
          await turns(req.body as number);
          log?.push(`${req.from}:${String(req.body)}`);
          return req.body;
        },
        onMessage: (m) => log?.push(`send:${String(m.body)}`),
      }),
    },
  };
}

describe('scheduler determinism', () => {
  /** Clients making calls whose handlers take a seeded number of turns, some past the spin limit. */
  async function run(seed: number, spec: number[]): Promise<{ trace: string[]; order: string[] }> {
    const order: string[] = [];
    const k = new Kernel({ seed, trace: true });
    await k.spawn(slowService('slow', order));
    await k.spawn({
      name: 'relay',
      provides: ['relay'],
      calls: ['slow'],
      service: { start: (ctx) => ({ handle: async (req) => (await ctx.call('slow', 'slow', req.body)) as number }) },
    });
    const app = k.attach({ name: 'app', calls: ['slow', 'relay'] });
    await Promise.all(
      spec.map(async (t, i) => {
        await turns(i % 5);
        return app.call(i % 2 ? 'relay' : 'slow', 'slow', t);
      }),
    );
    return { trace: k.trace.lines(), order };
  }

  it('gives the same trace and order for the same seed, whatever the handlers take', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 2 ** 31 }),
        fc.array(fc.nat(3 * SCHEDULER_IDLE_SPIN_TURNS), { minLength: 1, maxLength: 30 }),
        async (seed, spec) => {
          const a = await run(seed, spec);
          const b = await run(seed, spec);
          expect(b.trace).toEqual(a.trace);
          expect(b.order).toEqual(a.order);
          expect(a.order.length).toBe(spec.length);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('delivers one sender\'s messages in the order sent', async () => {
    const seen: string[] = [];
    const k = new Kernel({ seed: 9 });
    await k.spawn(slowService('slow', seen));
    const app = k.attach({ name: 'app', calls: ['slow'] });
    for (let i = 0; i < 50; i++) {
      app.send('slow', 'note', i);
      if (i % 7 === 0) await turns(3);
    }
    await k.idle();
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => `send:${i}`));
  });
});

describe('call timeouts', () => {
  it('does not fire while a handler chain longer than the spin limit is still running', async () => {
    const k = new Kernel();
    await k.spawn(slowService());
    const app = k.attach({ name: 'app', calls: ['slow'] });
    const n = 20 * SCHEDULER_IDLE_SPIN_TURNS;
    expect(await app.call('slow', 'slow', n, { timeoutMs: 1 })).toBe(n);
    expect(k.nowMs()).toBe(0);
  });

  it('fires exactly once, and a late answer is dropped', async () => {
    const k = new Kernel({ trace: true });
    let release: (() => void) | undefined;
    await k.spawn({
      name: 'late',
      provides: ['late'],
      calls: [],
      service: {
        start: (ctx) => ({
          handle: () =>
            new Promise((resolve) => {
              release = () => resolve('late');
              ctx.timers.setTimeout(() => release!(), 500);
            }),
        }),
      },
    });
    const app = k.attach({ name: 'app', calls: ['late'] });
    expect(await codeOf(app.call('late', 'x', null, { timeoutMs: 100 }))).toBe('TIMEOUT');
    await k.advanceTime(1000); // the handler answers at 500: nobody waits any more
    const timeouts = k.trace.lines().filter((l) => l.includes('TIMEOUT'));
    expect(timeouts).toHaveLength(1);
    expect(k.trace.lines().some((l) => l.includes(' reply '))).toBe(false);
    expect(k.endpointCounters().get('late')).toMatchObject({ messages: 1, errors: 1 });
    expect(k.serviceStats().find((s) => s.name === 'app')!.pendingCalls).toBe(0);
  });

  it('fires each of many timeouts once, in deadline order, on the virtual clock', async () => {
    const k = new Kernel();
    await k.spawn(slowService());
    const app = k.attach({ name: 'app', calls: ['slow'] });
    const when: string[] = [];
    const delays = [300, 100, 200, 100, 50];
    await Promise.all(
      delays.map(async (d, i) => {
        when.push(`${i}:${await codeOf(app.call('slow', 'never', null, { timeoutMs: d }))}@${k.nowMs()}`);
      }),
    );
    expect(when).toEqual(['4:TIMEOUT@50', '1:TIMEOUT@100', '3:TIMEOUT@100', '2:TIMEOUT@200', '0:TIMEOUT@300']);
  });

  it('refuses a timeout that is not a number of milliseconds', async () => {
    const k = new Kernel();
    await k.spawn(slowService());
    const app = k.attach({ name: 'app', calls: ['slow'] });
    expect(await codeOf(app.call('slow', 'slow', 1, { timeoutMs: Number.NaN }))).toBe('BADMSG');
    expect(await codeOf(app.call('slow', 'slow', 1, { timeoutMs: -5 }))).toBe('BADMSG');
    expect(await app.call('slow', 'slow', 1)).toBe(1);
  });

  it('fires on the real clock, an earlier deadline re-arming the one host timer', async () => {
    const k = new Kernel({ clock: 'real' });
    await k.spawn(slowService());
    const app = k.attach({ name: 'app', calls: ['slow'] });
    const long = codeOf(app.call('slow', 'never', null, { timeoutMs: 60_000 }));
    for (let i = 0; i < 100; i++) expect(await app.call('slow', 'slow', i % 3)).toBe(i % 3);
    expect(await codeOf(app.call('slow', 'never', null, { timeoutMs: 20 }))).toBe('TIMEOUT');
    await k.stop('slow');
    expect(await long).toBe('STOPPED');
  });

  it('runs real-clock service timers once each, earliest first, and never a cleared one', async () => {
    const k = new Kernel({ clock: 'real' });
    const fired: string[] = [];
    let done: () => void = () => {};
    const finished = new Promise<void>((resolve) => (done = resolve));
    await k.spawn({
      name: 'ticker',
      provides: [],
      calls: [],
      service: {
        start: (ctx) => {
          ctx.timers.setTimeout(() => (fired.push('b'), done()), 40);
          ctx.timers.setTimeout(() => fired.push('a'), 5);
          const gone = ctx.timers.setTimeout(() => fired.push('cleared'), 10);
          ctx.timers.clearTimeout(gone);
          return {};
        },
      },
    });
    await finished;
    await k.idle();
    expect(fired).toEqual(['a', 'b']);
  });
});

describe('STOPPED', () => {
  it('fails a waiting call when its callee stops, on the virtual clock', async () => {
    const k = new Kernel();
    await k.spawn(slowService());
    const app = k.attach({ name: 'app', calls: ['slow'] });
    // A background wait: idle() does not move time for it, so it cannot time out first.
    const p = codeOf(app.call('slow', 'never', null, { background: true }));
    await k.idle();
    await k.stop('slow');
    expect(await p).toBe('STOPPED');
    expect(k.serviceStats().find((s) => s.name === 'app')!.pendingCalls).toBe(0);
  });

  it('fails the calls of a stopped caller with STOPPED and drops their timeouts', async () => {
    const k = new Kernel();
    await k.spawn(slowService());
    const calls: Promise<string>[] = [];
    await k.spawn({
      name: 'client',
      provides: ['client'],
      calls: ['slow'],
      service: {
        start: (ctx) => ({
          handle: () => {
            calls.push(codeOf(ctx.call('slow', 'never', null, { timeoutMs: 100 })));
            return 'asked';
          },
        }),
      },
    });
    const app = k.attach({ name: 'app', calls: ['client'] });
    expect(await app.call('client', 'go')).toBe('asked');
    await k.stop('client');
    expect(await Promise.all(calls)).toEqual(['STOPPED']);
    await k.advanceTime(1000); // the dropped timeout must not fire into a stopped service
    expect(k.logLines.filter((l) => l.includes('client'))).toEqual([]);
  });
});
