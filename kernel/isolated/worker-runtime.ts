/**
 * The runtime inside a service's worker: builds the ServiceContext the service sees
 * (the same interface as in the deterministic kernel, kernel/service.ts), starts the
 * service from its module, and dispatches what the kernel sends.
 *
 * What runs where: calls and sends go to the kernel, which routes them (capabilities,
 * counters, timeouts, STOPPED) exactly as in the deterministic mode; MMIO reads,
 * interrupt registration and memory changes are synchronous calls to the kernel
 * (control.ts); MMIO writes are posted; clock, randomness and timers are local (real
 * time, a Random stream the kernel seeded), as the context contract allows.
 *
 * Error handling mirrors kernel.ts: a handler that throws a ServiceError answers it;
 * anything else answers INTERNAL and the kernel counts it; interrupt, one-way-message
 * and timer handlers are guarded (the fault is reported and counted, the service goes
 * on). An exception that escapes all of that, or an unhandled rejection, ends the
 * worker: the kernel notices the exit and restarts the service (supervisor.ts).
 */
import { ServiceError } from '../errors.ts';
import { Random } from '../random.ts';
import type { CallOptions, MmioWindow, ServiceContext, ServiceDefinition, ServiceHandlers } from '../service.ts';
import { KERNEL_BELL, KERNEL_GATE_AT, WORKER_BELL, WORKER_GATE_SHARE, WorkerControlClient } from './control.ts';
import { HEARTBEAT_INTERVAL_MS, IDLE_SPIN_US } from './limits.ts';
import type { SysCall, ToKernel, ToWorker, Width, WorkerBoot } from './protocol.ts';
import { CoreGate, DoorbellWaiter } from './ring.ts';
import { ChannelEnd, Reactor, type PortLike } from './transport.ts';
import { WorkerMemory } from './worker-memory.ts';

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: ServiceError) => void;
}

export class WorkerRuntime {
  private readonly channel: ChannelEnd<ToKernel, ToWorker>;
  private readonly reactor: Reactor;
  private readonly control: WorkerControlClient;
  private readonly memory: WorkerMemory;
  private readonly pending = new Map<number, Pending>();
  private readonly irqHandlers = new Map<number, () => void>();
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private handlers: ServiceHandlers = {};
  private nextCallId = 0;
  private nextTimerId = 0;
  private readonly ctx: ServiceContext;

  constructor(
    private readonly boot: WorkerBoot,
    port: PortLike,
  ) {
    const kernelWords = new Int32Array(boot.kernelControl);
    const gate = new CoreGate(kernelWords, KERNEL_GATE_AT, { words: new Int32Array(boot.control, 0, WORKER_GATE_SHARE + 1), at: WORKER_GATE_SHARE });
    this.control = new WorkerControlClient(boot.control, gate);
    this.channel = new ChannelEnd<ToKernel, ToWorker>({
      outRing: boot.toKernel,
      inRing: boot.toWorker,
      port,
      peerWords: kernelWords,
      peerBell: KERNEL_BELL,
      onReadable: () => this.reactor.poke(),
      onOverflow: () => console.error(`isolated ${boot.name}: the kernel is not draining this worker's ring`),
    });
    const source = { drain: () => this.channel.drain((m) => this.dispatch(m)), hasData: () => this.channel.hasData() };
    this.reactor = new Reactor(gate, new DoorbellWaiter(this.control.words, WORKER_BELL), this.control.words, WORKER_BELL, IDLE_SPIN_US, () => [source]);
    this.memory = new WorkerMemory(boot.physical, boot.dma, (call) => this.sys(call));
    this.ctx = this.context();
  }

  /** Starts the receive loop and the heartbeat, then the service; reports the outcome. */
  async run(): Promise<void> {
    this.reactor.start();
    setInterval(() => this.control.beat(), HEARTBEAT_INTERVAL_MS);
    this.control.beat();
    try {
      const mod = (await import(this.boot.entry.module)) as Record<string, unknown>;
      const def = mod[this.boot.entry.export] as ServiceDefinition | undefined;
      if (!def || typeof def.start !== 'function') {
        throw new Error(`${this.boot.entry.module} exports no service definition '${this.boot.entry.export}'`);
      }
      this.handlers = await def.start(this.ctx, this.boot.config);
    } catch (e) {
      this.channel.send({ k: 'startFailed', message: e instanceof Error ? e.message : String(e) });
      return;
    }
    this.channel.send({ k: 'started' });
  }

  private sys(call: SysCall): unknown {
    return this.control.call(() => {
      this.channel.send({ k: 'sys', call });
      this.channel.flushBlocking();
    });
  }

  private post(msg: ToKernel): void {
    this.channel.send(msg);
  }

  private fault(where: string, e: unknown): void {
    this.post({ k: 'fault', message: `${where}: ${e instanceof Error ? e.message : String(e)}` });
  }

  // ---- what the kernel sends ---------------------------------------------------------

  private dispatch(m: ToWorker): void {
    switch (m.k) {
      case 'call':
        return this.onCall(m);
      case 'send':
        try {
          this.handlers.onMessage?.({ from: m.from, endpoint: m.endpoint, op: m.op, body: m.body });
        } catch (e) {
          this.fault(`${m.endpoint}.${m.op}`, e);
        }
        return;
      case 'reply': {
        const p = this.pending.get(m.cid);
        if (!p) return;
        this.pending.delete(m.cid);
        return m.ok ? p.resolve(m.value) : p.reject(new ServiceError(m.code, m.message));
      }
      case 'irq': {
        const h = this.irqHandlers.get(m.line);
        try {
          h?.();
        } catch (e) {
          this.fault(`interrupt ${m.line}`, e);
        }
        return;
      }
      case 'grant':
        return this.memory.held(m.grantId, { addr: m.addr, sizeBytes: m.sizeBytes, rights: m.rights });
      case 'drop':
        return this.memory.dropped(m.grantId);
      case 'stop':
        void this.stop();
        return;
    }
  }

  private onCall(m: Extract<ToWorker, { k: 'call' }>): void {
    const reply = (value: unknown) => {
      try {
        this.post({ k: 'reply', id: m.id, ok: true, value });
      } catch (e) {
        this.post({ k: 'reply', id: m.id, ok: false, code: 'INTERNAL', message: `reply cannot be encoded: ${(e as Error).message}`, internal: false });
      }
    };
    const fail = (e: unknown) => {
      if (e instanceof ServiceError) this.post({ k: 'reply', id: m.id, ok: false, code: e.code, message: e.message, internal: false });
      else this.post({ k: 'reply', id: m.id, ok: false, code: 'INTERNAL', message: e instanceof Error ? e.message : String(e), internal: true });
    };
    const handle = this.handlers.handle;
    if (!handle) return fail(new ServiceError('BADOP', `${m.endpoint} answers no calls`));
    let result: unknown;
    try {
      result = handle.call(this.handlers, { from: m.from, endpoint: m.endpoint, op: m.op, body: m.body, id: m.id });
    } catch (e) {
      return fail(e);
    }
    if (result instanceof Promise) result.then(reply, fail);
    else reply(result);
  }

  private async stop(): Promise<void> {
    try {
      await this.handlers.stop?.();
    } catch (e) {
      this.fault('stop', e);
    }
    for (const t of this.timers.values()) clearTimeout(t);
    this.post({ k: 'stopped' });
  }

  // ---- the context the service sees --------------------------------------------------

  private context(): ServiceContext {
    const boot = this.boot;
    const random = new Random(boot.randomSeed);
    return {
      name: boot.name,
      call: <T>(endpoint: string, op: string, body?: unknown, options?: CallOptions) => this.call(endpoint, op, body, options) as Promise<T>,
      send: (endpoint, op, body) => this.send(endpoint, op, body),
      clock: { nowMs: () => performance.timeOrigin + performance.now() - boot.epochAbsMs },
      timers: {
        setTimeout: (fn, delayMs) => this.setTimer(fn, delayMs),
        clearTimeout: (timerId) => {
          clearTimeout(this.timers.get(timerId));
          this.timers.delete(timerId);
        },
      },
      random,
      memory: this.memory,
      mmio: (base) => this.mmio(base),
      onInterrupt: (line, handler) => {
        this.sys({ op: 'irq', line });
        this.irqHandlers.set(line, handler);
      },
      log: (message) => this.post({ k: 'log', message }),
    };
  }

  private call(endpoint: string, op: string, body: unknown, options?: CallOptions): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const cid = ++this.nextCallId;
      try {
        this.post({ k: 'call', cid, endpoint, op, body, timeoutMs: options?.timeoutMs });
      } catch (e) {
        return reject(new ServiceError('BADMSG', `${this.boot.name} -> ${endpoint}.${op}: body cannot be encoded: ${(e as Error).message}`));
      }
      this.pending.set(cid, { resolve, reject });
      this.reactor.expectAnswer();
    });
  }

  /**
   * One-way send. The kernel routes it (and counts a refusal); a send is not answered,
   * so only what the worker can know at once is thrown here: no capability (NOCAP) and a
   * body that cannot be encoded (BADMSG). NOENDPOINT and MAILBOXFULL are logged by the kernel.
   */
  private send(endpoint: string, op: string, body: unknown): void {
    try {
      this.post({ k: 'send', endpoint, op, body });
    } catch (e) {
      throw new ServiceError('BADMSG', `${this.boot.name} -> ${endpoint}.${op}: body cannot be encoded: ${(e as Error).message}`);
    }
    if (!this.boot.calls.includes(endpoint)) throw new ServiceError('NOCAP', `${this.boot.name} holds no capability for '${endpoint}'`);
  }

  private setTimer(fn: () => void, delayMs: number): number {
    if (!Number.isFinite(delayMs) || delayMs < 0) throw new ServiceError('BADMSG', `timer delay ${delayMs}`);
    const timerId = ++this.nextTimerId;
    const handle = setTimeout(() => {
      this.timers.delete(timerId);
      try {
        fn();
      } catch (e) {
        this.fault('timer', e);
      }
    }, delayMs);
    this.timers.set(timerId, handle);
    return timerId;
  }

  private mmio(base: number): MmioWindow {
    const handle = this.sys({ op: 'mmioMap', base }) as number;
    return {
      read: (offset: number, width: Width) => this.sys({ op: 'mmioR', handle, offset, width }) as number,
      write: (offset: number, width: Width, value: number) => this.post({ k: 'mmioW', handle, offset, width, value }),
    };
  }
}
