/**
 * The Axiom service: owns the log region and serves the ops of protocol.ts.
 *
 * It gets its LogDevice from its config (`device(ctx)`), so the same service runs over
 * the block service (axiom/block-device.ts: the Axiom region through BlockClient), over a
 * disk backend in tools, or over memory in tests. On start it recovers the log (and
 * formats an empty region if `formatIfEmpty`), with the kernel's clock and timers
 * injected into the engine so group-commit waits run on virtual time under the
 * deterministic scheduler.
 *
 * Recovery runs after start() returns (the kernel delivers no replies during start, and
 * recovery reads through the block service); requests wait for it.
 *
 * A bad request (wrong shape, unknown record type, malformed payload) is answered with an
 * error value and nothing else happens; other clients' proposals keep committing. The
 * commit point is the engine's: a propose reply is sent only after the flush.
 */

import { ServiceError } from '../kernel/errors.ts';
import type { Manifest, ServiceContext, ServiceDefinition } from '../kernel/service.ts';
import type { LogDevice } from './device.ts';
import { axiomError } from './errors.ts';
import { LOG_ID_SIZE_BYTES, WAITERS_MAX } from './limits.ts';
import { AxiomLog, type AxiomOptions } from './log.ts';
import { AXIOM_ENDPOINT, parseAxiomRequest, type AxiomInfo, type AxiomOp, type AxiomRequest } from './protocol.ts';

export interface AxiomServiceConfig {
  /** The service's region, e.g. `(ctx) => blockLogDevice(new BlockClient(ctx))`. */
  device(ctx: ServiceContext): LogDevice | Promise<LogDevice>;
  /** Format the region if it holds no log yet (never over a damaged one). */
  formatIfEmpty?: boolean;
  /** Engine options; clock and timers come from the service context. */
  options?: Omit<AxiomOptions, 'clock' | 'timers'>;
  /** Used when formatting: the largest checkpoint image the log will take. */
  checkpointImageSizeBytesMax?: number;
}

interface Waiter {
  afterSeq: number;
  timerId: number;
  resolve(committedSeq: number): void;
}

type Handler<Op extends AxiomOp> = (req: Extract<AxiomRequest, { op: Op }>) => unknown | Promise<unknown>;

async function openOrFormat(ctx: ServiceContext, device: LogDevice, config: AxiomServiceConfig): Promise<AxiomLog> {
  const options: AxiomOptions = { ...config.options, clock: ctx.clock, timers: ctx.timers };
  try {
    return await AxiomLog.open(device, options);
  } catch (e) {
    if (!(e instanceof ServiceError) || e.code !== 'NOTFORMATTED' || !config.formatIfEmpty) throw e;
  }
  const logId = ctx.random.fill(new Uint8Array(LOG_ID_SIZE_BYTES));
  await AxiomLog.format(device, { logId, hasher: config.options?.hasher, checkpointImageSizeBytesMax: config.checkpointImageSizeBytesMax });
  ctx.log(`formatted a new log in a region of ${device.blockCount} blocks`);
  return AxiomLog.open(device, options);
}

export const axiomService: ServiceDefinition<AxiomServiceConfig> = {
  start(ctx, config) {
    // The kernel delivers no replies to a service still in start(), and opening the log
    // calls the block service; so recovery runs after start returns, and requests wait for
    // it (a failed recovery is every request's error, and the boot log's).
    const ready = openService(ctx, config);
    ready.catch((e: unknown) => ctx.log(`recovery failed: ${(e as Error).message}`));
    return {
      async handle(req) {
        const parsed = parseAxiomRequest(req.op, req.body);
        const server = await ready;
        return server.handle(parsed);
      },
      async stop() {
        const server = await ready.catch(() => null);
        await server?.stop();
      },
    };
  },
};

interface Server {
  handle(req: AxiomRequest): unknown | Promise<unknown>;
  stop(): Promise<void>;
}

async function openService(ctx: ServiceContext, config: AxiomServiceConfig): Promise<Server> {
  const device = await config.device(ctx);
  const log = await openOrFormat(ctx, device, config);
  const r = log.recovery;
  ctx.log(`recovered: records ${r.startSeq}..${r.committedSeq} (${r.transactionsFound} transactions) from checkpoint ${r.checkpointSeq}; end: ${r.stop.reason} at ${r.stop.seq}; ${r.discardedRecords} uncommitted records discarded`);

  const waiters = new Set<Waiter>();
  log.subscribe(() => {
    for (const w of waiters) {
      if (log.committedSeq <= w.afterSeq) continue;
      waiters.delete(w);
      ctx.timers.clearTimeout(w.timerId);
      w.resolve(log.committedSeq);
    }
  });

  const handlers: { [Op in AxiomOp]: Handler<Op> } = {
    propose: (req) => log.propose(req.records),
    checkpoint: (req) => log.checkpoint(req.image),
    read: async (req) => ({ records: await log.read(req.fromSeq, req.limitRecords), startSeq: log.startSeq, committedSeq: log.committedSeq }),
    wait: (req) => {
      if (log.committedSeq > req.afterSeq || req.timeoutMs === 0) return { committedSeq: log.committedSeq };
      if (waiters.size >= WAITERS_MAX) throw axiomError('BUSY', `${WAITERS_MAX} clients are waiting already`);
      return new Promise((resolve) => {
        const w: Waiter = {
          afterSeq: req.afterSeq,
          resolve: (committedSeq) => resolve({ committedSeq }),
          timerId: ctx.timers.setTimeout(() => {
            waiters.delete(w);
            resolve({ committedSeq: log.committedSeq });
          }, req.timeoutMs),
        };
        waiters.add(w);
      });
    },
    checkpointImage: async () => (await log.checkpointImage()) ?? { seq: 0 },
    info: (): AxiomInfo => {
      const a = log.anchorInfo();
      return {
        logIdHex: Array.from(a.logId, (b) => b.toString(16).padStart(2, '0')).join(''),
        epoch: a.epoch,
        startSeq: a.startSeq,
        checkpointSeq: a.checkpointSeq,
        committedSeq: log.committedSeq,
        recovery: log.recovery,
      };
    },
    stats: () => log.stats(),
    verify: () => log.verify(),
  };

  return {
    handle: (req) => (handlers[req.op] as Handler<typeof req.op>)(req),
    async stop() {
      await log.close();
      for (const w of waiters) {
        ctx.timers.clearTimeout(w.timerId);
        w.resolve(log.committedSeq);
      }
      waiters.clear();
    },
  };
}

/** A manifest for the Axiom service; `calls` names what `device(ctx)` needs (e.g. 'block'). */
export function axiomManifest(config: AxiomServiceConfig, opts: { name?: string; endpoint?: string; calls?: string[] } = {}): Manifest<AxiomServiceConfig> {
  return {
    name: opts.name ?? 'axiom',
    provides: [opts.endpoint ?? AXIOM_ENDPOINT],
    calls: opts.calls ?? [],
    config,
    service: axiomService,
  };
}
