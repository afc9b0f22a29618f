/**
 * The microkernel: spawns services from manifests, routes messages between endpoints,
 * enforces capabilities, schedules, keeps time, lends memory and delivers interrupts.
 * It never interprets a payload.
 *
 * Scheduling. Every service has a FIFO mailbox (calls, replies, sends, interrupts and
 * its timers); the machine's devices have one queue for deferred device work. A step
 * takes the head of one non-empty queue, chosen by a seeded PRNG, and runs it; the
 * service's handler runs synchronously up to its first await, and its continuations run
 * as microtasks before the next real yield. With no real I/O in between (disk backends
 * are synchronous) the same seed gives the same interleaving and the same trace.
 *
 * Time. In 'virtual' mode the clock moves only when nothing is runnable: it jumps to the
 * next timer, and only while some call is waiting for a reply (so an idle system with a
 * periodic timer does not spin forever); `advanceTime(ms)` moves it on request. In
 * 'real' mode the clock is the host's monotonic clock and timers are host timers.
 *
 * Invariants: a message is encoded at send and decoded at delivery (no shared objects);
 * a call to an endpoint not in the caller's manifest is refused with NOCAP and counted;
 * every pending call ends exactly once (reply, error, TIMEOUT or STOPPED).
 */
import { encode, decode } from './codec.ts';
import { ServiceError, type WireError } from './errors.ts';
import { Random } from './random.ts';
import { Deque } from './deque.ts';
import { TimerHeap, type TimerEntry } from './timers.ts';
import { Trace, type EndpointCounters } from './trace.ts';
import { MemoryManager, type Region, type Rights } from './memory.ts';
import { PhysicalMemory } from './machine/physical-memory.ts';
import type { Machine } from './machine/machine.ts';
import {
  CALL_TIMEOUT_MS_DEFAULT,
  CALL_TIMEOUT_MS_MAX,
  MAILBOX_DEPTH_MAX,
  MEMORY_SIZE_BYTES_DEFAULT,
  MESSAGE_SIZE_BYTES_MAX,
  SCHEDULER_IDLE_SPIN_TURNS,
  SCHEDULER_STEPS_PER_YIELD,
} from './limits.ts';
import type {
  CallOptions,
  Manifest,
  MemoryRef,
  MmioWindow,
  ServiceContext,
  ServiceHandlers,
  ServiceMemory,
} from './service.ts';

export interface KernelOptions {
  seed?: number;
  clock?: 'virtual' | 'real';
  /** The emulated machine; without one the kernel makes bare physical memory. */
  machine?: Machine;
  memorySizeBytes?: number;
  trace?: boolean;
  /** Where ctx.log lines and kernel notices go (default: kept in `kernel.logLines`). */
  logSink?: (line: string) => void;
}

type Event =
  | { kind: 'call'; from: string; endpoint: string; op: string; id: number; body: Uint8Array }
  | { kind: 'reply'; from: string; id: number; ok: boolean; body: Uint8Array }
  | { kind: 'send'; from: string; endpoint: string; op: string; body: Uint8Array }
  | { kind: 'irq'; line: number }
  | { kind: 'timeout'; call: PendingCall }
  | { kind: 'run'; fn: () => void };

/**
 * A call waiting for its reply. It is also its own timeout timer (one object per call, no
 * closure): when it falls due, `fire` queues the TIMEOUT as a step of the caller.
 */
class PendingCall implements TimerEntry {
  constructor(
    private readonly kernel: Kernel,
    readonly caller: ServiceRecord,
    readonly id: number,
    readonly timerId: number,
    readonly deadlineMs: number,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: ServiceError) => void,
    readonly endpoint: string,
    readonly op: string,
    /** Name of the service that received the call (fails with STOPPED if it stops). */
    readonly callee: string,
    /** A long poll: does not keep virtual time moving (CallOptions.background). */
    readonly background: boolean,
    /** The endpoint's counters, looked up once at call time. */
    readonly counters: EndpointCounters,
  ) {
    this.owner = caller.name;
  }

  /** The timer's owner: the caller (its timers go when it stops). */
  readonly owner: string;

  fire(): void {
    this.kernel.callTimedOut(this);
  }
}

type ServiceState = 'starting' | 'running' | 'stopped';

interface RunQueue {
  events: Deque<Event>;
  service?: ServiceRecord;
  queued: boolean;
}

interface ServiceRecord {
  name: string;
  manifest: Manifest;
  state: ServiceState;
  handlers: ServiceHandlers;
  queue: RunQueue;
  pending: Map<number, PendingCall>;
  irqHandlers: Map<number, () => void>;
  irqQueued: Set<number>;
  random: Random;
  calls: Set<string>;
  handled: number;
  internalErrors: number;
}

export interface ServiceStats {
  name: string;
  state: ServiceState;
  provides: string[];
  calls: string[];
  handled: number;
  pendingCalls: number;
  mailboxDepth: number;
  internalErrors: number;
}

export class Kernel {
  readonly memory: MemoryManager;
  readonly physical: PhysicalMemory;
  readonly machine?: Machine;
  readonly trace = new Trace();
  readonly logLines: string[] = [];
  readonly clockMode: 'virtual' | 'real';
  readonly seed: number;

  private readonly random: Random;
  private readonly schedRandom: Random;
  private readonly services = new Map<string, ServiceRecord>();
  private readonly endpoints = new Map<string, ServiceRecord>();
  private readonly irqOwners = new Map<number, ServiceRecord>();
  private readonly deviceQueue: RunQueue = { events: new Deque(), queued: false };
  private readonly runnable: RunQueue[] = [];
  /** Every timer and every call's timeout, on the kernel's clock (virtual or real). */
  private readonly timers = new TimerHeap();
  /** Real mode: the one host timer, armed for the earliest deadline in `timers`. */
  private hostTimer?: NodeJS.Timeout;
  private hostTimerDeadlineMs = Infinity;
  private readonly logSink?: (line: string) => void;
  private nextCallId = 0;
  private nextTimerId = 0;
  private virtualNowMs = 0;
  private readonly realEpochMs = performance.now();
  private pumping = false;
  private pumpScheduled = false;
  private idleWaiters: (() => void)[] = [];
  /** The service whose event `pick` returned last (undefined: the device queue). */
  private pickedRec?: ServiceRecord;
  private readonly pumpFromHost = (): void => void this.pump();
  private readonly onHostTimer = (): void => this.hostTimerFired();
  stepCount = 0;

  constructor(options: KernelOptions = {}) {
    this.seed = (options.seed ?? 1) >>> 0;
    this.random = new Random(this.seed);
    this.schedRandom = this.random.fork('scheduler');
    this.clockMode = options.clock ?? 'virtual';
    this.machine = options.machine;
    this.physical = options.machine?.memory ?? new PhysicalMemory(options.memorySizeBytes ?? MEMORY_SIZE_BYTES_DEFAULT);
    this.memory = new MemoryManager(this.physical);
    this.memory.onFault = (service, message) => this.notice(`grant fault in ${service}: ${message}`);
    this.trace.enabled = options.trace ?? false;
    this.logSink = options.logSink;
    options.machine?.attach({
      raiseInterrupt: (line) => this.raiseInterrupt(line),
      defer: (work) => this.enqueue(this.deviceQueue, { kind: 'run', fn: work }),
    });
  }

  // ---- time -------------------------------------------------------------------------

  nowMs(): number {
    return this.clockMode === 'virtual' ? this.virtualNowMs : performance.now() - this.realEpochMs;
  }

  private setTimer(owner: string, delayMs: number, fire: () => void): number {
    if (!Number.isFinite(delayMs) || delayMs < 0) throw new ServiceError('BADMSG', `timer delay ${delayMs}`);
    const timerId = ++this.nextTimerId;
    this.addTimer({ timerId, deadlineMs: this.nowMs() + delayMs, owner, fire });
    return timerId;
  }

  private addTimer(entry: TimerEntry): void {
    this.timers.push(entry);
    if (this.clockMode === 'real' && entry.deadlineMs < this.hostTimerDeadlineMs) this.armHostTimer();
  }

  /**
   * Cancelling only marks the entry dead; in real mode the host timer stays armed and, if
   * it fires for a dead deadline, finds nothing due and re-arms for the next live one.
   * That is one host timer per earliest deadline, not one per call.
   */
  private clearTimer(timerId: number): void {
    this.timers.cancel(timerId);
  }

  /** Real mode: (re)arms the host timer for the earliest live deadline, if it is earlier than the armed one. */
  private armHostTimer(): void {
    const next = this.timers.peekDeadlineMs();
    if (next === undefined || next >= this.hostTimerDeadlineMs) return;
    if (this.hostTimer) clearTimeout(this.hostTimer);
    this.hostTimerDeadlineMs = next;
    this.hostTimer = setTimeout(this.onHostTimer, Math.max(0, next - this.nowMs()));
    this.hostTimer.unref?.();
  }

  private hostTimerFired(): void {
    this.hostTimer = undefined;
    this.hostTimerDeadlineMs = Infinity;
    const nowMs = this.nowMs();
    for (let t = this.timers.popDue(nowMs); t; t = this.timers.popDue(nowMs)) t.fire();
    this.armHostTimer();
  }

  /** Virtual mode: lets `ms` of time pass, firing every timer that falls due on the way. */
  async advanceTime(ms: number): Promise<void> {
    if (this.clockMode !== 'virtual') throw new Error('advanceTime needs the virtual clock');
    const target = this.virtualNowMs + ms;
    for (;;) {
      await this.idle();
      const next = this.timers.peekDeadlineMs();
      if (next === undefined || next > target) break;
      this.virtualNowMs = Math.max(this.virtualNowMs, next);
      this.fireDueTimers();
    }
    this.virtualNowMs = target;
    await this.idle();
  }

  private fireDueTimers(): void {
    for (let t = this.timers.popDue(this.virtualNowMs); t; t = this.timers.popDue(this.virtualNowMs)) t.fire();
  }

  // ---- services ---------------------------------------------------------------------

  /** Spawns a service and resolves when its start() has returned. */
  async spawn<C>(manifest: Manifest<C>): Promise<ServiceContext> {
    const rec = this.register(manifest as Manifest);
    const ctx = this.contextFor(rec);
    try {
      rec.handlers = await manifest.service.start(ctx, manifest.config as C);
    } catch (e) {
      this.teardown(rec, `start failed: ${(e as Error).message}`);
      throw e;
    }
    rec.state = 'running';
    if (rec.queue.events.length) this.markRunnable(rec.queue);
    return ctx;
  }

  /** A context for a program outside the kernel (a test, the CLI, the shell): calls only. */
  attach(manifest: { name: string; calls: string[]; dma?: boolean }): ServiceContext {
    const rec = this.register({ ...manifest, provides: [], service: { start: () => ({}) } });
    rec.state = 'running';
    return this.contextFor(rec);
  }

  private register(manifest: Manifest): ServiceRecord {
    if (!/^[a-z][a-z0-9-]{0,63}$/.test(manifest.name)) throw new Error(`bad service name '${manifest.name}'`);
    if (this.services.has(manifest.name)) throw new Error(`service '${manifest.name}' exists already`);
    for (const ep of manifest.provides) {
      if (this.endpoints.has(ep)) throw new Error(`endpoint '${ep}' is provided by '${this.endpoints.get(ep)!.name}' already`);
    }
    const queue: RunQueue = { events: new Deque(), queued: false };
    const rec: ServiceRecord = {
      name: manifest.name,
      manifest,
      state: 'starting',
      handlers: {},
      queue,
      pending: new Map(),
      irqHandlers: new Map(),
      irqQueued: new Set(),
      random: this.random.fork(`service:${manifest.name}`),
      calls: new Set(manifest.calls),
      handled: 0,
      internalErrors: 0,
    };
    queue.service = rec;
    this.services.set(rec.name, rec);
    for (const ep of manifest.provides) this.endpoints.set(ep, rec);
    return rec;
  }

  /** Stops every service in reverse spawn order, calling each one's stop(). */
  async shutdown(): Promise<void> {
    for (const rec of [...this.services.values()].reverse()) await this.stop(rec.name);
  }

  async stop(name: string): Promise<void> {
    const rec = this.services.get(name);
    if (!rec || rec.state === 'stopped') return;
    try {
      await rec.handlers.stop?.();
    } catch (e) {
      this.notice(`${name}: stop failed: ${(e as Error).message}`);
    }
    this.teardown(rec, 'stopped');
  }

  private teardown(rec: ServiceRecord, why: string): void {
    rec.state = 'stopped';
    for (const [id, p] of rec.pending) {
      this.clearTimer(p.timerId);
      rec.pending.delete(id);
      p.reject(new ServiceError('STOPPED', `${rec.name} ${why}`));
    }
    // Every call it received and has not answered (queued or in progress) fails with STOPPED.
    rec.queue.events.clear();
    for (const other of this.services.values()) {
      for (const [id, p] of other.pending) {
        if (p.callee !== rec.name) continue;
        this.clearTimer(p.timerId);
        other.pending.delete(id);
        this.trace.counter(p.endpoint).errors++;
        p.reject(new ServiceError('STOPPED', `${rec.name} ${why} before answering ${p.endpoint}.${p.op}`));
      }
    }
    for (const [line, owner] of this.irqOwners) if (owner === rec) this.irqOwners.delete(line);
    for (const ep of rec.manifest.provides) this.endpoints.delete(ep);
    this.timers.cancelOwner(rec.name);
    this.memory.releaseAll(rec.name);
    this.services.delete(rec.name);
  }

  serviceStats(): ServiceStats[] {
    return [...this.services.values()].map((r) => ({
      name: r.name,
      state: r.state,
      provides: [...r.manifest.provides],
      calls: [...r.manifest.calls],
      handled: r.handled,
      pendingCalls: r.pending.size,
      mailboxDepth: r.queue.events.length,
      internalErrors: r.internalErrors,
    }));
  }

  endpointCounters(): Map<string, EndpointCounters> {
    return this.trace.counters;
  }

  // ---- messages ---------------------------------------------------------------------

  private call(rec: ServiceRecord, endpoint: string, op: string, body: unknown, options?: CallOptions): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const target = this.route(rec, endpoint, op);
      if (target instanceof ServiceError) return reject(target);
      const bytes = this.encodeBody(rec.name, endpoint, op, body);
      if (bytes instanceof ServiceError) return reject(bytes);
      const timeoutMs = Math.min(options?.timeoutMs ?? CALL_TIMEOUT_MS_DEFAULT, CALL_TIMEOUT_MS_MAX);
      if (!Number.isFinite(timeoutMs) || timeoutMs < 0) return reject(new ServiceError('BADMSG', `call timeout ${timeoutMs}`));
      const id = ++this.nextCallId;
      const c = this.trace.counter(endpoint);
      const background = options?.background === true;
      const p = new PendingCall(this, rec, id, ++this.nextTimerId, this.nowMs() + timeoutMs, resolve, reject, endpoint, op, target.name, background, c);
      this.addTimer(p);
      rec.pending.set(id, p);
      c.messages++;
      c.bytes += bytes.length;
      this.trace.record(this.nowMs(), 'call', rec.name, endpoint, op, id, bytes.length);
      this.enqueue(target.queue, { kind: 'call', from: rec.name, endpoint, op, id, body: bytes });
    });
  }

  /** A call's timeout fell due: the TIMEOUT is delivered as a step of the caller. */
  callTimedOut(p: PendingCall): void {
    this.enqueue(p.caller.queue, { kind: 'timeout', call: p });
  }

  private timeoutCall(rec: ServiceRecord, id: number): void {
    const p = rec.pending.get(id);
    if (!p) return;
    rec.pending.delete(id);
    p.counters.errors++;
    this.trace.record(this.nowMs(), 'error', p.endpoint, rec.name, p.op, id, 0, 'TIMEOUT');
    p.reject(new ServiceError('TIMEOUT', `${p.endpoint}.${p.op} gave no reply in time`));
  }

  private send(rec: ServiceRecord, endpoint: string, op: string, body: unknown): void {
    const target = this.route(rec, endpoint, op);
    if (target instanceof ServiceError) throw target;
    const bytes = this.encodeBody(rec.name, endpoint, op, body);
    if (bytes instanceof ServiceError) throw bytes;
    const c = this.trace.counter(endpoint);
    c.messages++;
    c.bytes += bytes.length;
    this.trace.record(this.nowMs(), 'send', rec.name, endpoint, op, 0, bytes.length);
    this.enqueue(target.queue, { kind: 'send', from: rec.name, endpoint, op, body: bytes });
  }

  /** Capability check and endpoint lookup; refusals are counted and traced. */
  private route(rec: ServiceRecord, endpoint: string, op: string): ServiceRecord | ServiceError {
    let error: ServiceError | undefined;
    const target = this.endpoints.get(endpoint);
    if (rec.state === 'stopped') error = new ServiceError('STOPPED', `${rec.name} is stopped`);
    else if (!rec.calls.has(endpoint)) error = new ServiceError('NOCAP', `${rec.name} holds no capability for '${endpoint}'`);
    else if (!target || target.state === 'stopped') error = new ServiceError('NOENDPOINT', `no service provides '${endpoint}'`);
    else if (target.queue.events.length >= MAILBOX_DEPTH_MAX) error = new ServiceError('MAILBOXFULL', `${target.name}'s mailbox is full`);
    if (!error) return target!;
    const c = this.trace.counter(endpoint);
    c.refused++;
    c.errors++;
    this.trace.record(this.nowMs(), 'refused', rec.name, endpoint, op, 0, 0, error.code);
    return error;
  }

  private encodeBody(from: string, endpoint: string, op: string, body: unknown): Uint8Array | ServiceError {
    let bytes: Uint8Array;
    try {
      bytes = encode(body);
    } catch (e) {
      return new ServiceError('BADMSG', `${from} -> ${endpoint}.${op}: body cannot be encoded: ${(e as Error).message}`);
    }
    if (bytes.length > MESSAGE_SIZE_BYTES_MAX) {
      this.trace.counter(endpoint).errors++;
      return new ServiceError('TOOBIG', `${endpoint}.${op}: ${bytes.length} bytes exceeds ${MESSAGE_SIZE_BYTES_MAX}; use a grant`);
    }
    return bytes;
  }

  private reply(fromName: string, toName: string, id: number, ok: boolean, value: unknown): void {
    const to = this.services.get(toName);
    if (!to || to.state === 'stopped') return; // caller gone
    const p = to.pending.get(id);
    if (!p) return; // timed out (or stopped) already
    let bytes: Uint8Array;
    try {
      bytes = encode(ok ? value : (value as WireError));
    } catch (e) {
      ok = false;
      bytes = encode({ code: 'INTERNAL', message: `reply cannot be encoded: ${(e as Error).message}` });
    }
    if (bytes.length > MESSAGE_SIZE_BYTES_MAX) {
      ok = false;
      bytes = encode({ code: 'TOOBIG', message: `reply of ${bytes.length} bytes exceeds ${MESSAGE_SIZE_BYTES_MAX}` });
    }
    if (!ok) p.counters.errors++;
    p.counters.bytes += bytes.length;
    this.trace.record(this.nowMs(), ok ? 'reply' : 'error', fromName, toName, p.op, id, bytes.length);
    this.enqueue(to.queue, { kind: 'reply', from: fromName, id, ok, body: bytes });
  }

  private raiseInterrupt(line: number): void {
    const owner = this.irqOwners.get(line);
    if (!owner) {
      this.trace.record(this.nowMs(), 'irq', 'machine', '-', `irq${line}`, 0, 0, 'unowned');
      return;
    }
    if (owner.irqQueued.has(line)) return; // level-triggered: one pending notification is enough
    owner.irqQueued.add(line);
    this.trace.record(this.nowMs(), 'irq', 'machine', owner.name, `irq${line}`, 0, 0);
    this.enqueue(owner.queue, { kind: 'irq', line });
  }

  // ---- scheduling -------------------------------------------------------------------

  private enqueue(queue: RunQueue, ev: Event): void {
    queue.events.push(ev);
    if (!queue.service || queue.service.state === 'running') this.markRunnable(queue);
    this.schedulePump();
  }

  private markRunnable(queue: RunQueue): void {
    if (!queue.queued) {
      queue.queued = true;
      this.runnable.push(queue);
    }
    this.schedulePump();
  }

  private schedulePump(): void {
    if (this.pumping || this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(this.pumpFromHost);
  }

  /** Takes the next event (from a queue chosen by the seeded PRNG); its service is left in `pickedRec`. */
  private pick(): Event | undefined {
    while (this.runnable.length) {
      const i = this.runnable.length === 1 ? 0 : this.schedRandom.below(this.runnable.length);
      const queue = this.runnable[i];
      const ev = queue.events.shift();
      if (queue.events.length === 0 || (queue.service && queue.service.state !== 'running')) {
        queue.queued = false;
        this.runnable[i] = this.runnable[this.runnable.length - 1];
        this.runnable.pop();
      }
      if (!ev) continue;
      if (queue.service && queue.service.state === 'stopped') continue;
      this.pickedRec = queue.service;
      return ev;
    }
    return undefined;
  }

  /**
   * The scheduler loop. Where it yields, and why:
   *  - after each step, one microtask turn (`await undefined`): the step's continuations
   *    (a handler past its first await, a caller resuming on its reply) run a little
   *    before the next pick. Only our own code runs in microtasks, in FIFO order, so how
   *    far each chain got is a pure function of the code and the seed: deterministic.
   *  - every SCHEDULER_STEPS_PER_YIELD steps, one host turn (setImmediate) so host I/O
   *    and host timers are not starved by a busy system.
   *  - when nothing is runnable, first up to SCHEDULER_IDLE_SPIN_TURNS microtask turns,
   *    picking again as soon as a chain makes something runnable. A call is usually
   *    answered (and a caller's next call made) within a few turns, so a call costs no
   *    host event-loop turn; this is as deterministic as the turn after each step.
   *  - only if that finds nothing, one host turn, so every microtask chain settles
   *    before the system is called idle (virtual time jumps to the next timer then, and
   *    idle waiters are released): a chain still running must not see a timeout fire.
   */
  private async pump(): Promise<void> {
    this.pumpScheduled = false;
    if (this.pumping) return;
    this.pumping = true;
    try {
      let steps = 0;
      for (;;) {
        const ev = this.pick();
        if (ev) {
          this.stepCount++;
          this.dispatch(this.pickedRec, ev);
          if (++steps % SCHEDULER_STEPS_PER_YIELD === 0) await yieldToHost();
          else await undefined;
          continue;
        }
        for (let turn = 0; turn < SCHEDULER_IDLE_SPIN_TURNS && this.runnable.length === 0; turn++) await undefined;
        if (this.runnable.length) continue;
        await yieldToHost(); // let every microtask chain settle before calling the system idle
        if (this.runnable.length) continue;
        if (this.clockMode === 'virtual' && this.someoneWaits()) {
          const next = this.timers.peekDeadlineMs();
          if (next !== undefined) {
            this.virtualNowMs = Math.max(this.virtualNowMs, next);
            this.fireDueTimers();
            continue;
          }
        }
        break;
      }
    } finally {
      this.pumping = false;
    }
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private someoneWaits(): boolean {
    for (const rec of this.services.values()) for (const p of rec.pending.values()) if (!p.background) return true;
    return false;
  }

  /** Resolves when nothing is runnable (and, in virtual mode, no call waits on a timer). */
  idle(): Promise<void> {
    if (!this.pumping && !this.pumpScheduled && this.runnable.length === 0) return yieldToHost();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private dispatch(rec: ServiceRecord | undefined, ev: Event): void {
    if (!rec) {
      if (ev.kind === 'run') this.runGuarded('machine', ev.fn);
      return;
    }
    switch (ev.kind) {
      case 'call':
        return this.dispatchCall(rec, ev);
      case 'reply': {
        const p = rec.pending.get(ev.id);
        if (!p) return;
        rec.pending.delete(ev.id);
        this.clearTimer(p.timerId);
        let value: unknown;
        try {
          value = decode(ev.body);
        } catch {
          return p.reject(new ServiceError('BADMSG', `reply from ${ev.from} could not be decoded`));
        }
        return ev.ok ? p.resolve(value) : p.reject(ServiceError.fromWire(value));
      }
      case 'send': {
        let body: unknown;
        try {
          body = decode(ev.body);
        } catch {
          this.trace.counter(ev.endpoint).errors++;
          return;
        }
        rec.handled++;
        return this.runGuarded(rec.name, () => rec.handlers.onMessage?.({ from: ev.from, endpoint: ev.endpoint, op: ev.op, body }));
      }
      case 'timeout':
        return this.timeoutCall(rec, ev.call.id);
      case 'irq': {
        rec.irqQueued.delete(ev.line);
        const h = rec.irqHandlers.get(ev.line);
        if (h) this.runGuarded(rec.name, h);
        return;
      }
      case 'run':
        return this.runGuarded(rec.name, ev.fn);
    }
  }

  private dispatchCall(rec: ServiceRecord, ev: Extract<Event, { kind: 'call' }>): void {
    rec.handled++;
    let body: unknown;
    try {
      body = decode(ev.body);
    } catch {
      return this.reply(rec.name, ev.from, ev.id, false, { code: 'BADMSG', message: `${ev.endpoint}.${ev.op}: body is not valid msgpack` });
    }
    const handle = rec.handlers.handle;
    if (!handle) return this.reply(rec.name, ev.from, ev.id, false, { code: 'BADOP', message: `${ev.endpoint} answers no calls` });
    let result: unknown;
    try {
      result = handle.call(rec.handlers, { from: ev.from, endpoint: ev.endpoint, op: ev.op, body, id: ev.id });
    } catch (e) {
      return this.replyError(rec, ev, e);
    }
    if (result instanceof Promise) {
      result.then(
        (v) => this.reply(rec.name, ev.from, ev.id, true, v),
        (e) => this.replyError(rec, ev, e),
      );
    } else {
      this.reply(rec.name, ev.from, ev.id, true, result);
    }
  }

  private replyError(rec: ServiceRecord, ev: Extract<Event, { kind: 'call' }>, e: unknown): void {
    this.reply(rec.name, ev.from, ev.id, false, this.wireError(rec, ev.endpoint, ev.op, e));
  }

  private wireError(rec: ServiceRecord, endpoint: string, op: string, e: unknown): WireError {
    if (e instanceof ServiceError) return e.toWire();
    rec.internalErrors++;
    const message = e instanceof Error ? e.message : String(e);
    this.notice(`${rec.name}: ${endpoint}.${op} threw: ${message}`);
    return { code: 'INTERNAL', message: `${rec.name}: ${message}` };
  }

  private runGuarded(owner: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      const rec = this.services.get(owner);
      if (rec) rec.internalErrors++;
      this.notice(`${owner}: ${(e as Error).message}`);
    }
  }

  /** Runs `fn` as a step of the given queue (used for timers). */
  private runAs(rec: ServiceRecord, fn: () => void): void {
    this.enqueue(rec.queue, { kind: 'run', fn });
  }

  // ---- contexts ---------------------------------------------------------------------

  private contextFor(rec: ServiceRecord): ServiceContext {
    const kernel = this;
    const memory: ServiceMemory = {
      alloc: (sizeBytes) => kernel.memory.alloc(rec.name, sizeBytes),
      free: (region: Region) => kernel.memory.free(rec.name, region.regionId),
      view: (region, offsetBytes, lengthBytes) => kernel.memory.view(rec.name, region.regionId, offsetBytes, lengthBytes),
      grant: (region, endpoint, rights: Rights, offsetBytes, lengthBytes) => {
        const target = kernel.endpoints.get(endpoint);
        if (!rec.calls.has(endpoint)) throw new ServiceError('NOCAP', `${rec.name} holds no capability for '${endpoint}'`);
        if (!target) throw new ServiceError('NOENDPOINT', `no service provides '${endpoint}'`);
        return kernel.memory.grant(rec.name, region.regionId, target.name, rights, offsetBytes, lengthBytes);
      },
      revoke: (grantId) => kernel.memory.revoke(rec.name, grantId),
      grantSize: (grantId) => kernel.memory.grantSize(rec.name, grantId),
      grantView: (grantId, need, offsetBytes, lengthBytes) => kernel.memory.grantView(rec.name, grantId, need, offsetBytes, lengthBytes),
      physAddr: (ref: MemoryRef, offsetBytes, lengthBytes, need) => {
        if (!rec.manifest.dma) throw new ServiceError('NOCAP', `${rec.name} has no DMA capability`);
        return kernel.memory.physAddr(rec.name, ref, offsetBytes, lengthBytes, need);
      },
    };
    return {
      name: rec.name,
      call: <T>(endpoint: string, op: string, body?: unknown, options?: CallOptions) =>
        kernel.call(rec, endpoint, op, body, options) as Promise<T>,
      send: (endpoint, op, body) => kernel.send(rec, endpoint, op, body),
      clock: { nowMs: () => kernel.nowMs() },
      timers: {
        setTimeout: (fn, delayMs) => kernel.setTimer(rec.name, delayMs, () => kernel.runAs(rec, fn)),
        clearTimeout: (timerId) => kernel.clearTimer(timerId),
      },
      random: rec.random,
      memory,
      mmio: (base) => kernel.mapMmio(rec, base),
      onInterrupt: (line, handler) => {
        if (!rec.manifest.irqs?.includes(line)) throw new ServiceError('NOCAP', `${rec.name} may not take interrupt line ${line}`);
        const owner = kernel.irqOwners.get(line);
        if (owner && owner !== rec) throw new ServiceError('NOCAP', `interrupt line ${line} belongs to ${owner.name}`);
        kernel.irqOwners.set(line, rec);
        rec.irqHandlers.set(line, handler);
      },
      log: (message) => kernel.log(`${rec.name}: ${message}`),
    };
  }

  private mapMmio(rec: ServiceRecord, base: number): MmioWindow {
    if (!rec.manifest.mmio?.includes(base)) throw new ServiceError('NOCAP', `${rec.name} may not map MMIO at 0x${base.toString(16)}`);
    if (!this.machine) throw new ServiceError('NOENDPOINT', 'this kernel has no machine');
    return this.machine.device(base).mmio;
  }

  log(line: string): void {
    this.logLines.push(line);
    if (this.logLines.length > 10_000) this.logLines.shift();
    this.logSink?.(line);
  }

  private notice(line: string): void {
    this.log(`kernel: ${line}`);
  }
}

function yieldToHost(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
