/**
 * The kernel's side of one service worker: it starts the worker, carries the service's
 * calls and sends into the Kernel (main thread) under the service's own context, and
 * gives the Kernel handlers that forward to the worker. To the Kernel a worker service
 * is a service like any other, so routing, capability checks (NOCAP counted), message
 * limits, timeouts, the trace and STOPPED are the deterministic kernel's own code.
 *
 * MMIO, decided by measurement: the machine's devices stay on the main thread with the
 * kernel, and a driver's MMIO read is a synchronous call (control.ts, 17-34 us when the
 * kernel thread must be woken); its writes are posted, ordered in the ring, as PCI posts
 * writes and makes reads wait for them; interrupts are `irq` envelopes. Counted per
 * 1 MiB read by the virtio-blk driver: at queue depth 1, two posted writes (QueueNotify,
 * InterruptACK), one read (InterruptStatus) and one interrupt per request, about three
 * kernel wake-ups; at depth 8 the device completes four requests per interrupt and the
 * kernel wakes 0.1-0.3 times per request. Moving the device into the driver's worker
 * would make the reads free and save two of those wake-ups per interrupt, but the
 * device is hardware: it must outlive a killed driver (the supervisor resets it and the
 * next driver finds it), disks that are JavaScript objects on the main thread (memory,
 * fault-injecting, test disks) cannot move, and the tests and tools that inspect device
 * and disk would have to reach into a worker. Requests in flight amortise the cost.
 *
 * Invariants: every call the Kernel hands to the worker ends exactly once (the worker's
 * reply, or STOPPED when the worker dies); nothing is sent to a dead worker; a worker's
 * share of the core gate is taken back when it exits.
 */
import { Worker } from 'node:worker_threads';
import { ServiceError } from '../errors.ts';
import type { Region, Rights } from '../memory.ts';
import type { Manifest, MmioWindow, ServiceContext, ServiceHandlers } from '../service.ts';
import { KERNEL_GATE_AT, WORKER_BELL, WORKER_GATE_SHARE, WorkerControl, newWorkerControl } from './control.ts';
import { START_TIMEOUT_MS, STOP_TIMEOUT_MS } from './limits.ts';
import type { SysCall, ToKernel, ToWorker, WorkerBoot } from './protocol.ts';
import { CoreGate, newRingBuffer } from './ring.ts';
import { ChannelEnd } from './transport.ts';

const WORKER_BOOT_URL = new URL('./worker-boot.mjs', import.meta.url);
const WORKER_MAIN_URL = new URL('./worker-main.ts', import.meta.url).href;

/** What every host shares: the kernel's control block and the machine's memory. */
export interface HostShared {
  kernelControl: SharedArrayBuffer;
  physical: SharedArrayBuffer;
  epochAbsMs: number;
  /** Wakes the kernel's reactor: something arrived by postMessage. */
  poke(): void;
  /** A request went to a worker: the kernel's reactor may spin for the answer. */
  expectAnswer(): void;
}

export interface HostHooks {
  /** The worker ended without being asked to (crash, kill, fatal error). */
  onExit(host: WorkerHost, why: string): void;
  /** A guarded handler in the worker threw (counted, the service goes on). */
  onFault(host: WorkerHost, message: string): void;
}

export type HostState = 'starting' | 'running' | 'stopping' | 'dead';

export interface HostStats {
  callsIn: number;
  callsOut: number;
  sends: number;
  syncCalls: number;
  mmioReads: number;
  mmioWrites: number;
  irqs: number;
  faults: number;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

export class WorkerHost {
  readonly name: string;
  readonly control: WorkerControl;
  readonly channel: ChannelEnd<ToWorker, ToKernel>;
  readonly stats: HostStats = { callsIn: 0, callsOut: 0, sends: 0, syncCalls: 0, mmioReads: 0, mmioWrites: 0, irqs: 0, faults: 0 };
  /** MMIO bases this instance mapped (the supervisor resets those devices if it dies). */
  readonly mmioBases: number[] = [];
  state: HostState = 'starting';
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private readonly windows: MmioWindow[] = [];
  private lastError: string | undefined;
  private startWaiter: Pending | undefined;
  private stopWaiter: (() => void) | undefined;
  readonly exited: Promise<void>;

  constructor(
    manifest: Manifest,
    private readonly kctx: ServiceContext,
    private readonly shared: HostShared,
    private readonly hooks: HostHooks,
  ) {
    if (!manifest.entry) throw new Error(`isolated: manifest '${manifest.name}' names no entry module (a worker cannot receive a function)`);
    this.name = manifest.name;
    this.control = new WorkerControl(newWorkerControl());
    const boot: WorkerBoot = {
      name: manifest.name,
      calls: [...manifest.calls],
      dma: manifest.dma === true,
      entry: { ...manifest.entry },
      config: manifest.config,
      randomSeed: kctx.random.u32(),
      epochAbsMs: shared.epochAbsMs,
      physical: shared.physical,
      toWorker: newRingBuffer(),
      toKernel: newRingBuffer(),
      control: this.control.buffer,
      kernelControl: shared.kernelControl,
    };
    try {
      this.worker = new Worker(WORKER_BOOT_URL, { workerData: { main: WORKER_MAIN_URL, boot }, execArgv: [], name: `strata:${manifest.name}` });
    } catch (e) {
      throw new Error(`isolated: ${manifest.name}'s config cannot be sent to a worker (it must be plain data, no functions): ${(e as Error).message}`);
    }
    this.channel = new ChannelEnd<ToWorker, ToKernel>({
      outRing: boot.toWorker,
      inRing: boot.toKernel,
      port: this.worker,
      peerWords: this.control.words,
      peerBell: WORKER_BELL,
      onReadable: () => shared.poke(),
      onOverflow: () => this.kill(`its ring backlog passed the limit (it is not draining)`),
    });
    this.worker.on('error', (e) => (this.lastError = e instanceof Error ? `${e.name}: ${e.message}` : String(e)));
    this.exited = new Promise((resolve) => this.worker.once('exit', (code) => (this.onExit(code), resolve())));
  }

  get threadId(): number {
    return this.worker.threadId;
  }

  /** Resolves when the service's start() returned in the worker. */
  started(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.kill(`did not start in ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
      timer.unref();
      this.startWaiter = {
        resolve: (v) => (clearTimeout(timer), resolve(v as void)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
    });
  }

  /** The handlers the Kernel dispatches to: each forwards to the worker. */
  handlers(): ServiceHandlers {
    return {
      handle: (req) =>
        new Promise((resolve, reject) => {
          if (this.state === 'dead') return reject(new ServiceError('STOPPED', `${this.name} is not running`));
          this.stats.callsIn++;
          this.pending.set(req.id, { resolve, reject });
          this.channel.send({ k: 'call', id: req.id, from: req.from, endpoint: req.endpoint, op: req.op, body: req.body });
          this.shared.expectAnswer();
        }),
      onMessage: (msg) => {
        if (this.state === 'dead') return;
        this.channel.send({ k: 'send', from: msg.from, endpoint: msg.endpoint, op: msg.op, body: msg.body });
      },
      stop: () => this.stop(),
    };
  }

  /** Asks the service to stop (its stop() runs in the worker), then ends the worker. */
  async stop(): Promise<void> {
    if (this.state === 'dead') return;
    this.state = 'stopping';
    const stopped = new Promise<void>((resolve) => {
      this.stopWaiter = resolve;
      const timer = setTimeout(resolve, STOP_TIMEOUT_MS);
      timer.unref();
    });
    this.channel.send({ k: 'stop' });
    await Promise.race([stopped, this.exited]);
    await this.terminate();
  }

  /** Ends the worker at once (kill): the exit is reported like a crash unless stopping. */
  kill(why: string): void {
    if (this.state === 'dead') return;
    this.lastError ??= why;
    void this.worker.terminate();
  }

  async terminate(): Promise<void> {
    if (this.state !== 'dead') await this.worker.terminate();
    await this.exited;
  }

  /** The kernel lent this service a grant: tell the worker before anything can name it. */
  pushGrant(grantId: number, addr: number, sizeBytes: number, rights: Rights): void {
    if (this.state !== 'dead') this.channel.send({ k: 'grant', grantId, addr, sizeBytes, rights });
  }

  dropGrant(grantId: number): void {
    if (this.state !== 'dead') this.channel.send({ k: 'drop', grantId });
  }

  private onExit(code: number): void {
    const wasRunning = this.state === 'running';
    this.state = 'dead';
    this.channel.close();
    new CoreGate(new Int32Array(this.shared.kernelControl), KERNEL_GATE_AT).release({ words: this.control.words, at: WORKER_GATE_SHARE });
    const why = this.lastError ?? `exited with code ${code}`;
    this.startWaiter?.reject(new Error(`${this.name} did not start: ${why}`));
    this.startWaiter = undefined;
    for (const p of this.pending.values()) p.reject(new ServiceError('STOPPED', `${this.name} ended (${why}) before answering`));
    this.pending.clear();
    // A worker that dies while starting fails its spawn (the caller hears of it there).
    if (wasRunning) this.hooks.onExit(this, why);
  }

  // ---- what the worker sends ---------------------------------------------------------

  /** Handles what the worker's ring holds; returns how many records. */
  drain(): number {
    return this.channel.drain((m) => this.onRecord(m));
  }

  private onRecord(m: ToKernel): void {
    switch (m.k) {
      case 'started':
        this.state = 'running';
        this.startWaiter?.resolve(undefined);
        this.startWaiter = undefined;
        return;
      case 'startFailed':
        this.startWaiter?.reject(new Error(m.message));
        this.startWaiter = undefined;
        this.state = 'stopping'; // a failed start is reported by spawn, not as a crash
        void this.terminate();
        return;
      case 'reply': {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.ok) return p.resolve(m.value);
        // A plain Error makes the Kernel count an internal error and answer INTERNAL,
        // exactly as when a handler throws in the deterministic mode.
        return p.reject(m.internal ? new Error(m.message) : new ServiceError(m.code, m.message));
      }
      case 'call':
        return this.forwardCall(m);
      case 'send':
        this.stats.sends++;
        try {
          this.kctx.send(m.endpoint, m.op, m.body);
        } catch (e) {
          // Refusals are counted and traced by the Kernel; NOCAP was thrown in the worker too.
          if (!(e instanceof ServiceError && e.code === 'NOCAP')) this.kctx.log(`send to ${m.endpoint}.${m.op} failed: ${(e as Error).message}`);
        }
        return;
      case 'mmioW':
        this.stats.mmioWrites++;
        this.windows[m.handle]?.write(m.offset, m.width, m.value);
        return;
      case 'sys':
        return this.answer(m.call);
      case 'log':
        return this.kctx.log(m.message);
      case 'fault':
        this.stats.faults++;
        return this.hooks.onFault(this, m.message);
      case 'stopped':
        this.stopWaiter?.();
        return;
    }
  }

  private forwardCall(m: Extract<ToKernel, { k: 'call' }>): void {
    this.stats.callsOut++;
    const options = m.timeoutMs === undefined ? undefined : { timeoutMs: m.timeoutMs };
    this.kctx.call(m.endpoint, m.op, m.body, options).then(
      (value) => {
        if (this.state === 'dead') return;
        try {
          this.channel.send({ k: 'reply', cid: m.cid, ok: true, value });
        } catch (e) {
          this.channel.send({ k: 'reply', cid: m.cid, ok: false, code: 'INTERNAL', message: `reply cannot be encoded: ${(e as Error).message}` });
        }
      },
      (e: unknown) => {
        if (this.state === 'dead') return;
        const se = e instanceof ServiceError ? e : new ServiceError('INTERNAL', String(e));
        this.channel.send({ k: 'reply', cid: m.cid, ok: false, code: se.code, message: se.message });
      },
    );
  }

  private irq(line: number): void {
    if (this.state === 'dead') return;
    this.stats.irqs++;
    this.channel.send({ k: 'irq', line });
    this.shared.expectAnswer(); // the driver's InterruptStatus read follows at once
  }

  private answer(call: SysCall): void {
    this.stats.syncCalls++;
    try {
      this.control.answer({ ok: true, value: this.sys(call) ?? null });
    } catch (e) {
      const se = e instanceof ServiceError ? e : new ServiceError('INTERNAL', e instanceof Error ? e.message : String(e));
      this.control.answer({ ok: false, code: se.code, message: se.message });
    }
  }

  /** Runs one synchronous call under the service's own kernel context (all checks there). */
  private sys(c: SysCall): unknown {
    const mem = this.kctx.memory;
    const region = (regionId: number): Region => ({ regionId, addr: 0, sizeBytes: 0 });
    switch (c.op) {
      case 'alloc': {
        const r = mem.alloc(c.sizeBytes);
        return { regionId: r.regionId, addr: r.addr, sizeBytes: r.sizeBytes };
      }
      case 'free':
        return mem.free(region(c.regionId));
      case 'view': {
        const v = mem.view(region(c.regionId), c.offsetBytes, c.lengthBytes);
        return { addr: v.byteOffset, lengthBytes: v.length };
      }
      case 'grant':
        return mem.grant(region(c.regionId), c.endpoint, c.rights, c.offsetBytes, c.lengthBytes);
      case 'revoke':
        return mem.revoke(c.grantId);
      case 'grantSize':
        return mem.grantSize(c.grantId);
      case 'grantView': {
        const v = mem.grantView(c.grantId, c.need, c.offsetBytes, c.lengthBytes);
        return { addr: v.byteOffset, lengthBytes: v.length };
      }
      case 'physAddr':
        return mem.physAddr(c.ref, c.offsetBytes, c.lengthBytes, c.need);
      case 'mmioMap': {
        const w = this.kctx.mmio(c.base);
        this.windows.push(w);
        this.mmioBases.push(c.base);
        return this.windows.length - 1;
      }
      case 'mmioR': {
        const w = this.windows[c.handle];
        if (!w) throw new ServiceError('BADMSG', `no MMIO mapping ${c.handle}`);
        this.stats.mmioReads++;
        return w.read(c.offset, c.width);
      }
      case 'irq':
        return this.kctx.onInterrupt(c.line, () => this.irq(c.line));
    }
  }
}
