/**
 * The isolated kernel mode: the Kernel (kernel.ts, on the real clock) stays on the main
 * thread and does what it does in the deterministic mode, routing, capability checks,
 * counters, trace, timeouts, grants, interrupt delivery and the machine's device work,
 * while every spawned service runs in its own worker thread with its own heap
 * (host.ts on this side, worker-runtime.ts on the other). Programs attached on the main
 * thread (the CLI, the shell, tests) call services exactly as before.
 *
 * Usage:
 *   const ik = new IsolatedKernel({ machine, seed });
 *   await ik.spawn(virtioBlkManifest(device));        // the manifest must have `entry`
 *   const user = ik.attach({ name: 'user', calls: ['virtio-blk'] });
 *   await ik.kill('virtio-blk');                      // resolves once it is back
 *   await ik.shutdown();                              // every worker is terminated
 *
 * Main-thread loop: one Reactor (transport.ts) drains every worker's ring, spins
 * briefly while a core is free and sleeps on the kernel's doorbell otherwise; the
 * Kernel's own scheduler runs between its turns as it always does.
 *
 * Invariants: one Kernel per IsolatedKernel, one worker per running service; spawn
 * refuses a manifest without `entry`; after shutdown() no worker of it is alive.
 */
import os from 'node:os';
import { Kernel, type ServiceStats } from '../kernel.ts';
import type { Machine } from '../machine/machine.ts';
import type { Manifest, ServiceContext } from '../service.ts';
import { KERNEL_BELL, KERNEL_GATE_AT, newKernelControl } from './control.ts';
import { GrantMirror } from './grant-mirror.ts';
import { WorkerHost, type HostShared, type HostStats } from './host.ts';
import { HANG_RESTART_MS_DEFAULT, IDLE_SPIN_US } from './limits.ts';
import { CoreGate, DoorbellWaiter } from './ring.ts';
import { Supervisor, type SupervisionEvent, type SupervisionEventKind } from './supervisor.ts';
import { Reactor, type ReactorSource } from './transport.ts';

export interface IsolatedKernelOptions {
  seed?: number;
  machine?: Machine;
  memorySizeBytes?: number;
  trace?: boolean;
  logSink?: (line: string) => void;
  /** Cores the spin gate counts (default: os.availableParallelism()). */
  cores?: number;
  /** Restart a service whose worker ends unasked (default true). */
  restart?: boolean;
  /** Kill and restart a service silent this long (ms); 0 reports misses only. */
  hangRestartMs?: number;
  onEvent?: (e: SupervisionEvent) => void;
}

/** One line of `ps`. */
export interface ServiceInfo extends ServiceStats {
  /** Worker thread id, or 0 for a program attached on the main thread. */
  threadId: number;
  restarts: number;
  heartbeat: 'ok' | 'missed' | '-';
  host?: HostStats;
}

export class IsolatedKernel {
  /** Every IsolatedKernel not yet shut down (tests end them all in afterEach). */
  static readonly live = new Set<IsolatedKernel>();

  readonly kernel: Kernel;
  readonly supervisor: Supervisor;
  private readonly hosts = new Map<string, WorkerHost>();
  private readonly manifests = new Map<string, Manifest>();
  private readonly sources = new Map<WorkerHost, ReactorSource>();
  private readonly reactor: Reactor;
  private readonly shared: HostShared;
  private readonly restart: boolean;
  private closed = false;

  constructor(options: IsolatedKernelOptions = {}) {
    this.restart = options.restart ?? true;
    this.kernel = new Kernel({
      seed: options.seed,
      clock: 'real',
      machine: options.machine,
      memorySizeBytes: options.memorySizeBytes,
      trace: options.trace,
      logSink: options.logSink,
    });
    const kernelControl = newKernelControl();
    const words = new Int32Array(kernelControl);
    const gate = CoreGate.init(words, KERNEL_GATE_AT, options.cores ?? os.availableParallelism());
    this.reactor = new Reactor(gate, new DoorbellWaiter(words, KERNEL_BELL), words, KERNEL_BELL, IDLE_SPIN_US, () => this.sources.values());
    this.shared = {
      kernelControl,
      physical: this.kernel.physical.buffer,
      epochAbsMs: performance.timeOrigin + performance.now() - this.kernel.nowMs(),
      poke: () => this.reactor.poke(),
      expectAnswer: () => this.reactor.expectAnswer(),
    };
    new GrantMirror(this.kernel.memory, (name) => this.hosts.get(name)).install();
    this.supervisor = new Supervisor({
      kernel: this.kernel,
      respawn: (m) => this.start(m),
      manifestOf: (name) => this.manifests.get(name),
      hostOf: (name) => this.hosts.get(name),
      restart: this.restart,
      hangRestartMs: options.hangRestartMs ?? HANG_RESTART_MS_DEFAULT,
      onEvent: options.onEvent,
    });
    this.reactor.start();
    this.supervisor.start();
    IsolatedKernel.live.add(this);
  }

  /** Starts a service in a new worker; resolves when its start() has returned there. */
  async spawn(manifest: Manifest): Promise<void> {
    if (this.closed) throw new Error('isolated kernel is shut down');
    if (!manifest.entry) throw new Error(`isolated: manifest '${manifest.name}' has no entry (module and export); a worker cannot receive a function`);
    if (this.manifests.has(manifest.name)) throw new Error(`service '${manifest.name}' exists already`);
    this.manifests.set(manifest.name, manifest);
    try {
      await this.start(manifest);
    } catch (e) {
      this.manifests.delete(manifest.name);
      throw e;
    }
  }

  private async start(manifest: Manifest): Promise<void> {
    if (this.closed) throw new Error('isolated kernel is shut down'); // no worker may outlive shutdown()
    const proxy: Manifest = {
      ...manifest,
      service: {
        start: async (kctx: ServiceContext) => {
          const host = new WorkerHost(manifest, kctx, this.shared, {
            onExit: (h, why) => this.onExit(h, why),
            onFault: (h, message) => this.supervisor.report('fault', h.name, message),
          });
          this.hosts.set(manifest.name, host);
          this.sources.set(host, { drain: () => host.drain(), hasData: () => host.channel.hasData() });
          void host.exited.then(() => this.sources.delete(host));
          try {
            await host.started();
          } catch (e) {
            await host.terminate();
            throw e;
          }
          return host.handlers();
        },
      },
    };
    await this.kernel.spawn(proxy);
  }

  private onExit(host: WorkerHost, why: string): void {
    if (this.hosts.get(host.name) !== host) return;
    void this.supervisor.onExit(host, why);
  }

  /** A context for a program on the main thread (calls only), as Kernel.attach. */
  attach(manifest: { name: string; calls: string[]; dma?: boolean }): ServiceContext {
    return this.kernel.attach(manifest);
  }

  /**
   * The shell's `kill SERVICE`: ends the service's worker at once. Resolves with the
   * event that closed the episode: `restarted`, `gave-up`, or `killed` when restarts are off.
   */
  async kill(name: string): Promise<SupervisionEvent> {
    const done: SupervisionEventKind[] = this.restart ? ['restarted', 'gave-up'] : ['killed'];
    const next = this.supervisor.next((e) => e.service === name && done.includes(e.kind));
    this.supervisor.kill(name, 'killed on request');
    return next;
  }

  get events(): readonly SupervisionEvent[] {
    return this.supervisor.events;
  }

  /** The next supervision event of `kind` (for `service`, if given). */
  nextEvent(kind: SupervisionEventKind, service?: string): Promise<SupervisionEvent> {
    return this.supervisor.next((e) => e.kind === kind && (service === undefined || e.service === service));
  }

  /** The shell's `ps`: every service and attached program, and services left stopped (given up on). */
  ps(): ServiceInfo[] {
    const live = this.kernel.serviceStats().map((s): ServiceInfo => {
      const host = this.hosts.get(s.name);
      return {
        ...s,
        threadId: host ? host.threadId : 0,
        restarts: this.supervisor.restarts(s.name),
        heartbeat: host ? (this.supervisor.heartbeatMissing(s.name) ? 'missed' : 'ok') : '-',
        host: host ? { ...host.stats } : undefined,
      };
    });
    const names = new Set(live.map((s) => s.name));
    const stopped = [...this.manifests.values()]
      .filter((m) => !names.has(m.name))
      .map((m): ServiceInfo => ({
        name: m.name,
        state: 'stopped',
        provides: [...m.provides],
        calls: [...m.calls],
        handled: 0,
        pendingCalls: 0,
        mailboxDepth: 0,
        internalErrors: 0,
        threadId: 0,
        restarts: this.supervisor.restarts(m.name),
        heartbeat: '-',
      }));
    return [...live, ...stopped];
  }

  /** Stops every service (each one's stop() runs in its worker), then ends every worker. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.supervisor.close();
    try {
      await this.kernel.shutdown();
    } finally {
      await Promise.all([...this.hosts.values()].map((h) => h.terminate()));
      this.reactor.stop();
      IsolatedKernel.live.delete(this);
    }
  }

  /**
   * A power cut: ends every worker at once, running no service's stop() (nothing is
   * flushed or checkpointed) and restarting nothing. The shell's `crash` uses it on the
   * old system before booting a new one on the same disk.
   */
  async abandon(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.supervisor.close();
    try {
      await Promise.all([...this.hosts.values()].map((h) => h.terminate()));
    } finally {
      this.reactor.stop();
      IsolatedKernel.live.delete(this);
    }
  }

  /** Ends every live IsolatedKernel (a test's afterEach safety net). */
  static async shutdownAll(): Promise<void> {
    await Promise.all([...IsolatedKernel.live].map((k) => k.shutdown()));
  }
}
