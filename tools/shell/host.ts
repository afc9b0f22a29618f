/**
 * The machine room behind the shell: boots a system on one disk, and reboots it
 * cleanly or after cutting the power, always on the same disk.
 *
 * `ShellHost.start({disk, boot})` wraps the disk so its power can be cut (power.ts) and
 * calls `boot(socket, log)` (tools/system.ts's bootSystem, or a test's builder) with a
 * fresh PowerSocket each time. Boot-log lines go to `log` while a boot runs and are
 * returned in the report; afterwards services' log lines stay in the kernel's log
 * (`dmesg` shows them) rather than interleaving with command output.
 *
 * - reboot(): a clean stop (fs sync, every service's stop(): flush, checkpoint), then
 *   boot again. A failed sync is reported, not fatal: the services still stop cleanly.
 * - crash(mode): the power is cut at once: the socket dies before any more code of the
 *   old system can reach the disk, the disk keeps only what `mode` lets survive of its
 *   unflushed writes, the old kernel is abandoned without running a single stop(), and
 *   a new system boots and recovers from what is on the disk.
 * - shutdown(): the clean stop, then the disk is closed.
 *
 * Invariant: exactly one system is current; an abandoned one never reaches the disk.
 */
import type { DiskBackend } from '../../kernel/machine/disk/backend.ts';
import { ServiceError } from '../../kernel/errors.ts';
import { backendsFor, type ShellBackends, type ShellSystem } from './backends.ts';
import { crashable, PowerSupply, type CrashMode, type PowerCutReport } from './power.ts';

/** Boots one system on `disk`; boot-log lines go to `log`. */
export type BootFn = (disk: DiskBackend, log: (line: string) => void) => Promise<ShellSystem>;

export interface ShellHostOptions {
  disk: DiskBackend;
  boot: BootFn;
  /** Receives boot-log lines as they happen (the first boot's included). */
  log?: (line: string) => void;
  /** Backends the system's endpoints do not give (tests, layers without a protocol.ts yet). */
  backends?: (system: ShellSystem) => Partial<ShellBackends>;
  /** The image, when there is one (history lives beside it). */
  imagePath?: string;
}

export interface BootReport {
  bootLog: string[];
  powerCut?: PowerCutReport;
  /** Why the sync before a clean stop failed (the stop went on: services still flushed). */
  syncError?: string;
}

export interface ShutdownReport {
  syncError?: string;
}

export class ShellHost {
  private current: ShellSystem;
  private currentBackends: ShellBackends;
  private stopped = false;
  /** Where boot-log lines go; the shell points it at its output after the first boot. */
  log: (line: string) => void;
  bootCount = 1;

  private constructor(
    private readonly options: ShellHostOptions,
    private readonly power: PowerSupply,
    first: ShellSystem,
    readonly firstBootLog: string[],
  ) {
    this.current = first;
    this.currentBackends = backendsFor(first, options.backends?.(first));
    this.log = options.log ?? (() => {});
  }

  static async start(options: ShellHostOptions): Promise<ShellHost> {
    const power = new PowerSupply(crashable(options.disk));
    const lines: string[] = [];
    let system: ShellSystem;
    try {
      system = await ShellHost.bootOnce(options, power, (l) => {
        lines.push(l);
        options.log?.(l);
      });
    } catch (e) {
      power.close();
      throw e;
    }
    return new ShellHost(options, power, system, lines);
  }

  private static async bootOnce(options: ShellHostOptions, power: PowerSupply, log: (line: string) => void): Promise<ShellSystem> {
    let booting = true;
    const socket = power.plug();
    try {
      return await options.boot(socket, (line) => {
        if (booting) log(line);
      });
    } catch (e) {
      socket.unplug();
      throw e;
    } finally {
      booting = false;
    }
  }

  get system(): ShellSystem {
    this.checkRunning();
    return this.current;
  }

  get backends(): ShellBackends {
    this.checkRunning();
    return this.currentBackends;
  }

  get imagePath(): string | undefined {
    return this.options.imagePath;
  }

  get running(): boolean {
    return !this.stopped;
  }

  private checkRunning(): void {
    if (this.stopped) throw new Error('ShellHost: the system was shut down');
  }

  private async bootAgain(): Promise<string[]> {
    const lines: string[] = [];
    const system = await ShellHost.bootOnce(this.options, this.power, (l) => {
      lines.push(l);
      this.log(l);
    });
    this.current = system;
    this.currentBackends = backendsFor(system, this.options.backends?.(system));
    this.bootCount++;
    return lines;
  }

  /**
   * Syncs the filesystem (if there is one) and stops every service; the disk stays open.
   * A failed sync does not stop the stop: every service's stop() still flushes what it
   * holds; the failure is reported.
   */
  private async stopCleanly(): Promise<ShutdownReport> {
    const fs = this.currentBackends.fs;
    let syncError: string | undefined;
    try {
      await fs?.sync();
    } catch (e) {
      syncError = e instanceof ServiceError ? `${e.message} (${e.code})` : String(e);
    }
    await this.current.shutdown();
    return syncError === undefined ? {} : { syncError };
  }

  async reboot(): Promise<BootReport> {
    this.checkRunning();
    const stopped = await this.stopCleanly();
    try {
      return { bootLog: await this.bootAgain(), ...stopped };
    } catch (e) {
      this.stopped = true;
      this.power.close();
      throw e;
    }
  }

  async crash(mode: CrashMode): Promise<BootReport> {
    this.checkRunning();
    const old = this.current;
    old.kernel.trace.enabled = false;
    old.kernel.trace.sink = undefined;
    const powerCut = this.power.cut(mode);
    // The old kernel is left as the power left it: no stop(), no flush. Its socket is dead.
    try {
      return { bootLog: await this.bootAgain(), powerCut };
    } catch (e) {
      this.stopped = true;
      this.power.close();
      throw e;
    }
  }

  async shutdown(): Promise<ShutdownReport> {
    if (this.stopped) return {};
    this.stopped = true;
    try {
      return await this.stopCleanly();
    } finally {
      this.power.close();
    }
  }
}
