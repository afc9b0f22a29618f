/**
 * Supervision (MINIX 3's reincarnation server, in spirit): notices a service whose
 * worker ended without being asked to (it threw out of its handler loop, hit a fatal
 * error, or was killed) and restarts it from its manifest; notices a service that stops
 * beating (spinning in a loop) and reports it, and after hangRestartMs kills and
 * restarts it. Other services keep running throughout: each has its own thread.
 *
 * A restart, in order: (1) reset the devices the dead instance had mapped, so no DMA
 * lands in memory that is about to be freed (the kernel's bus reset: the device stops
 * and forgets its queues; its data and write cache are kept); (2) stop the service in
 * the Kernel, which fails every call in flight to it with STOPPED, drops its endpoints,
 * frees its memory and revokes every grant it held; (3) spawn it again from its
 * manifest (a driver re-initialises its device: reset, feature negotiation, queues).
 * Clients re-issue what failed (reads and writes are idempotent) after re-granting
 * memory, because grants lent to the dead instance died with it.
 *
 * Limits: at most RESTARTS_MAX restarts per service inside RESTART_WINDOW_MS, then it
 * stays stopped and a `gave-up` event says so. Heartbeat rules: a worker bumps a shared
 * word every HEARTBEAT_INTERVAL_MS; a miss is HEARTBEAT_MISS_MS without a bump while it
 * is not blocked on the kernel; a round in which the kernel's own thread was stalled
 * (its check ran late) reports nothing, since the workers may have been waiting on it.
 */
import type { Kernel } from '../kernel.ts';
import type { Manifest } from '../service.ts';
import type { WorkerHost } from './host.ts';
import { HEARTBEAT_CHECK_MS, HEARTBEAT_MISS_MS, RESTART_BACKOFF_MS, RESTART_WINDOW_MS, RESTARTS_MAX, SUPERVISION_EVENTS_MAX } from './limits.ts';

export type SupervisionEventKind =
  | 'crashed' // the worker ended on its own (threw, fatal error)
  | 'killed' // the worker was ended by kill() or for hanging
  | 'restarted'
  | 'restart-failed'
  | 'gave-up'
  | 'heartbeat-missed'
  | 'heartbeat-recovered'
  | 'fault'; // a guarded handler threw (counted; the service goes on)

export interface SupervisionEvent {
  kind: SupervisionEventKind;
  service: string;
  /** Kernel clock (real milliseconds since boot). */
  atMs: number;
  detail: string;
}

export interface SupervisorDeps {
  kernel: Kernel;
  /** Starts the service again from its manifest (resolves when it runs). */
  respawn(manifest: Manifest): Promise<void>;
  manifestOf(name: string): Manifest | undefined;
  hostOf(name: string): WorkerHost | undefined;
  restart: boolean;
  hangRestartMs: number;
  onEvent?: (e: SupervisionEvent) => void;
}

interface Beat {
  value: number;
  changedAtMs: number;
  missing: boolean;
}

export class Supervisor {
  readonly events: SupervisionEvent[] = [];
  private readonly restartsAt = new Map<string, number[]>();
  private readonly killing = new Map<string, string>();
  private readonly beats = new Map<string, Beat>();
  private readonly waiters: { match: (e: SupervisionEvent) => boolean; resolve: (e: SupervisionEvent) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastCheckMs = 0;
  private closing = false;

  constructor(private readonly d: SupervisorDeps) {}

  start(): void {
    this.lastCheckMs = performance.now();
    this.timer = setInterval(() => this.checkHeartbeats(), HEARTBEAT_CHECK_MS);
    this.timer.unref();
  }

  close(): void {
    this.closing = true;
    if (this.timer) clearInterval(this.timer);
  }

  report(kind: SupervisionEventKind, service: string, detail: string): void {
    const e: SupervisionEvent = { kind, service, atMs: this.d.kernel.nowMs(), detail };
    if (this.events.length >= SUPERVISION_EVENTS_MAX) this.events.shift();
    this.events.push(e);
    this.d.kernel.log(`kernel: supervisor: ${service} ${kind}${detail ? `: ${detail}` : ''}`);
    this.d.onEvent?.(e);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.waiters[i].match(e)) this.waiters.splice(i, 1)[0].resolve(e);
    }
  }

  /** The next event (from now on) that `match` accepts. */
  next(match: (e: SupervisionEvent) => boolean): Promise<SupervisionEvent> {
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  /** Ends a service's worker now; the exit is handled like a crash (restart if enabled). */
  kill(name: string, why: string): void {
    const host = this.d.hostOf(name);
    if (!host || host.state === 'dead') throw new Error(`no running service '${name}'`);
    this.killing.set(name, why);
    host.kill(why);
  }

  /** A worker ended without being asked to. */
  async onExit(host: WorkerHost, why: string): Promise<void> {
    const name = host.name;
    const killedFor = this.killing.get(name);
    this.killing.delete(name);
    this.beats.delete(name);
    this.report(killedFor ? 'killed' : 'crashed', name, killedFor ?? why);
    this.resetDevices(host);
    await this.d.kernel.stop(name); // STOPPED to every call in flight; memory and grants released
    const manifest = this.d.manifestOf(name);
    if (this.closing || !this.d.restart || !manifest) return;
    await this.restart(manifest);
  }

  private async restart(manifest: Manifest): Promise<void> {
    const name = manifest.name;
    for (;;) {
      const now = performance.now();
      const recent = (this.restartsAt.get(name) ?? []).filter((t) => now - t < RESTART_WINDOW_MS);
      if (recent.length >= RESTARTS_MAX) {
        this.report('gave-up', name, `${recent.length} restarts in ${RESTART_WINDOW_MS / 1000} s; left stopped`);
        return;
      }
      recent.push(now);
      this.restartsAt.set(name, recent);
      try {
        await this.d.respawn(manifest);
        this.report('restarted', name, `restart ${recent.length} in this window`);
        return;
      } catch (e) {
        this.report('restart-failed', name, (e as Error).message);
        if (this.closing) return;
        await new Promise((r) => setTimeout(r, RESTART_BACKOFF_MS * recent.length));
      }
    }
  }

  restarts(name: string): number {
    return this.restartsAt.get(name)?.length ?? 0;
  }

  heartbeatMissing(name: string): boolean {
    return this.beats.get(name)?.missing ?? false;
  }

  /** Resets every device the dead instance mapped (kernel/machine: MmioTransport.reset). */
  private resetDevices(host: WorkerHost): void {
    const machine = this.d.kernel.machine;
    if (!machine) return;
    for (const base of host.mmioBases) {
      const i = machine.devices.findIndex((dev) => dev.base === base);
      if (i >= 0) machine.transports[i].reset();
    }
  }

  private checkHeartbeats(): void {
    const now = performance.now();
    const stalled = now - this.lastCheckMs > 4 * HEARTBEAT_CHECK_MS;
    this.lastCheckMs = now;
    for (const s of this.d.kernel.serviceStats()) {
      const host = this.d.hostOf(s.name);
      if (!host || host.state !== 'running') continue;
      const value = host.control.heartbeat();
      let b = this.beats.get(s.name);
      if (!b) this.beats.set(s.name, (b = { value, changedAtMs: now, missing: false }));
      if (value !== b.value || host.control.inSyncCall() || stalled) {
        b.value = value;
        b.changedAtMs = now;
        if (b.missing) {
          b.missing = false;
          this.report('heartbeat-recovered', s.name, '');
        }
        continue;
      }
      const silentMs = now - b.changedAtMs;
      if (!b.missing && silentMs >= HEARTBEAT_MISS_MS) {
        b.missing = true;
        this.report('heartbeat-missed', s.name, `no heartbeat for ${Math.round(silentMs)} ms (spinning or blocked)`);
      }
      if (b.missing && this.d.hangRestartMs > 0 && silentMs >= this.d.hangRestartMs && !this.killing.has(s.name)) {
        this.kill(s.name, `hung: no heartbeat for ${Math.round(silentMs)} ms`);
      }
    }
  }
}
