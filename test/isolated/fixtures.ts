// Test services for the isolated kernel, loaded inside workers by module and export name
// (so this file must not import vitest). Each is an ordinary ServiceDefinition: the same
// objects also run under the deterministic kernel as `service`.
import { ServiceError } from '../../kernel/errors.ts';
import type { Rights } from '../../kernel/memory.ts';
import type { ServiceDefinition } from '../../kernel/service.ts';

/** echo: answers, fails, crashes, hangs and spins on request. */
export const echoService: ServiceDefinition = {
  start: (ctx) => {
    let messages = 0;
    return {
      handle: (req) => {
        switch (req.op) {
          case 'echo':
            return req.body;
          case 'whoami':
            return { name: ctx.name, from: req.from, id: req.id };
          case 'fail':
            throw new ServiceError('EINVAL', 'asked to fail');
          case 'crash':
            throw new Error('handler bug');
          case 'never':
            return new Promise(() => {});
          case 'messages':
            return messages;
          case 'spin': {
            // A service stuck in a loop: it never yields, so it cannot beat either
            // (isolated mode only: on the virtual clock time would not move).
            const until = ctx.clock.nowMs() + (req.body as { ms: number }).ms;
            while (ctx.clock.nowMs() < until) {
              /* spin */
            }
            return 'spun';
          }
          case 'escape':
            // An exception that escapes every handler: the worker ends.
            ctx.timers.setTimeout(() => Promise.reject(new Error('escaped the handler loop')), 0);
            return 'armed';
          case 'mutate': {
            const b = req.body as { list: number[] };
            b.list.push(99);
            return b;
          }
          case 'sleep':
            return new Promise((resolve) => ctx.timers.setTimeout(() => resolve(ctx.clock.nowMs()), (req.body as { ms: number }).ms));
          default:
            throw new ServiceError('BADOP', req.op);
        }
      },
      onMessage: () => {
        messages++;
      },
    };
  },
};

/** relay: calls or sends to whatever the request names (its manifest decides what is allowed). */
export const relayService: ServiceDefinition = {
  start: (ctx) => ({
    handle: async (req) => {
      const b = req.body as { endpoint: string; op: string; body?: unknown };
      if (req.op === 'call') return ctx.call(b.endpoint, b.op, b.body);
      if (req.op === 'send') {
        ctx.send(b.endpoint, b.op, b.body);
        return 'sent';
      }
      if (req.op === 'flood') {
        // Fill this worker's ring past its size, then make a synchronous call at once.
        const f = req.body as { endpoint: string; count: number; sizeBytes: number };
        for (let i = 0; i < f.count; i++) ctx.send(f.endpoint, 'note', new Uint8Array(f.sizeBytes));
        return ctx.memory.alloc(4096).sizeBytes;
      }
      throw new ServiceError('BADOP', req.op);
    },
  }),
};

interface MemOp {
  regionBytes?: number;
  endpoint?: string;
  rights?: Rights;
  grantId?: number;
  need?: Rights;
  offsetBytes?: number;
  lengthBytes?: number;
  fill?: number;
}

/** mem: allocates, grants and touches memory on request (regions kept by id). */
export const memoryService: ServiceDefinition = {
  start: (ctx) => {
    const regions = new Map<number, ReturnType<typeof ctx.memory.alloc>>();
    return {
      handle: (req) => {
        const b = (req.body ?? {}) as MemOp;
        switch (req.op) {
          case 'alloc': {
            const r = ctx.memory.alloc(b.regionBytes ?? 4096);
            regions.set(r.regionId, r);
            ctx.memory.view(r).fill(b.fill ?? 0);
            return r.regionId;
          }
          case 'grant': {
            const r = regions.get(b.grantId ?? -1) ?? [...regions.values()][0];
            return ctx.memory.grant(r, b.endpoint!, b.rights!, b.offsetBytes, b.lengthBytes);
          }
          case 'readGrant': {
            const v = ctx.memory.grantView(b.grantId!, b.need ?? 'r', b.offsetBytes, b.lengthBytes);
            return { length: v.length, first: v[0], sum: v.reduce((s, x) => s + x, 0) };
          }
          case 'writeGrant': {
            ctx.memory.grantView(b.grantId!, 'w', b.offsetBytes, b.lengthBytes).fill(b.fill ?? 1);
            return 'written';
          }
          case 'grantSize':
            return ctx.memory.grantSize(b.grantId!);
          case 'viewRegion': {
            const r = [...regions.values()][0];
            return ctx.memory.view(r, b.offsetBytes, b.lengthBytes).length;
          }
          case 'physAddr':
            return ctx.memory.physAddr({ grantId: b.grantId! }, b.offsetBytes ?? 0, b.lengthBytes ?? 1, b.need ?? 'r');
          default:
            throw new ServiceError('BADOP', req.op);
        }
      },
    };
  },
};

/** rogue: maps an MMIO window and takes an interrupt line its manifest may not name. */
export const rogueService: ServiceDefinition<{ base?: number; line?: number }> = {
  start: (ctx, config) => {
    if (config.base !== undefined) ctx.mmio(config.base);
    if (config.line !== undefined) ctx.onInterrupt(config.line, () => {});
    return {};
  },
};

/** failing: its start() throws. */
export const failingService: ServiceDefinition = {
  start: () => {
    throw new Error('cannot start: missing resource');
  },
};
