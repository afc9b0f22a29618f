/**
 * Boots the system in the isolated mode: the same machine and the same services as
 * tools/system.ts's bootSystem, but every service in its own worker thread under an
 * IsolatedKernel. This is what `strata boot --isolated` and `strata run --isolated`
 * call; it takes bootSystem's options (those that mean something here) and returns the
 * fields of its System plus the isolation hooks (`kill` for the shell's `kill SERVICE`,
 * `ps` for its `ps`). It starts the driver, then the manifests in `services` in order:
 * a layer joins once its manifest names an `entry` (module and export) and its config
 * is plain data a worker can receive.
 *
 * Differences from bootSystem, all forced by threads: the clock is always real (time
 * cannot be virtual across threads), and one seed no longer replays one interleaving
 * (it still seeds the Kernel's scheduler and every service's Random).
 */
import { Machine } from '../machine/machine.ts';
import { MEMORY_SIZE_BYTES_DEFAULT } from '../limits.ts';
import { virtioBlkManifest } from '../../drivers/virtio-blk/manifest.ts';
import { VIRTIO_BLK_ENDPOINT, VirtioBlkClient } from '../../drivers/virtio-blk/protocol.ts';
import { formatBytes } from '../../drivers/virtio-blk/driver.ts';
import type { Kernel } from '../kernel.ts';
import type { DiskBackend } from '../machine/disk/backend.ts';
import type { Manifest, ServiceContext } from '../service.ts';
import { IsolatedKernel, type ServiceInfo } from './isolated-kernel.ts';
import type { SupervisionEvent } from './supervisor.ts';

export interface IsolatedBootOptions {
  disk: DiskBackend;
  seed?: number;
  memorySizeBytes?: number;
  trace?: boolean;
  /** Receives each boot-log and kernel-log line as it happens. */
  log?: (line: string) => void;
  /** Leave FLUSH un-negotiated (write-through device); for tests of the write-cache model. */
  withoutFlush?: boolean;
  /** Endpoints the returned user context may call besides the driver's and those of `services`. */
  userCalls?: string[];
  /**
   * Services to start after the driver, in order (each manifest must name an `entry`);
   * the user context may call what they provide. This is how the layers above join.
   */
  services?: Manifest[];
  /** Kill and restart a service silent this long (ms); 0 reports misses only. */
  hangRestartMs?: number;
  /** Restart services whose worker ends unasked (default true). */
  restart?: boolean;
  onEvent?: (e: SupervisionEvent) => void;
}

/** bootSystem's System (the fields that exist in both modes) plus the isolation hooks. */
export interface IsolatedSystem {
  kernel: Kernel;
  machine: Machine;
  /** A user-program context on the main thread, for the CLI or a test. */
  user: ServiceContext;
  blk: VirtioBlkClient;
  /** The services started, bottom up ('driver', then each of `services` by name). */
  layers: string[];
  isolated: IsolatedKernel;
  /** The shell's `kill SERVICE`: resolves once the service is back (or given up). */
  kill(service: string): Promise<SupervisionEvent>;
  /** The shell's `ps`. */
  ps(): ServiceInfo[];
  shutdown(): Promise<void>;
}

export async function bootIsolated(options: IsolatedBootOptions): Promise<IsolatedSystem> {
  const t0 = performance.now();
  const log = (line: string) => options.log?.(`[${((performance.now() - t0) / 1000).toFixed(6).padStart(12)}] ${line}`);
  const memorySizeBytes = options.memorySizeBytes ?? MEMORY_SIZE_BYTES_DEFAULT;
  const machine = new Machine({ memorySizeBytes, disks: [options.disk] });
  log(`machine: ${formatBytes(memorySizeBytes)} physical memory, ${machine.devices.length} virtio-mmio device(s)`);
  for (const d of machine.devices) {
    log(`machine: ${d.name} at 0x${d.base.toString(16)} irq ${d.irqLine}, ${options.disk.kind} disk of ${formatBytes(options.disk.sizeBytes)}`);
  }
  const isolated = new IsolatedKernel({
    seed: options.seed,
    machine,
    trace: options.trace,
    logSink: log,
    hangRestartMs: options.hangRestartMs,
    restart: options.restart,
    onEvent: options.onEvent,
  });
  const kernel = isolated.kernel;
  log(`kernel: seed ${kernel.seed}, real clock, isolated mode (a worker thread per service)`);
  const device = machine.devices[0];
  const layers = ['driver'];
  try {
    await isolated.spawn(virtioBlkManifest(device, { config: { withoutFlush: options.withoutFlush } }));
    log(`kernel: service virtio-blk up in its own thread (endpoint ${VIRTIO_BLK_ENDPOINT}, mmio 0x${device.base.toString(16)}, irq ${device.irqLine}, dma)`);
    for (const m of options.services ?? []) {
      await isolated.spawn(m);
      layers.push(m.name);
      log(`kernel: service ${m.name} up in its own thread (endpoint ${m.provides.join(', ') || '-'})`);
    }
  } catch (e) {
    await isolated.shutdown();
    options.disk.close();
    throw e;
  }
  const calls = new Set([VIRTIO_BLK_ENDPOINT, ...(options.services ?? []).flatMap((m) => m.provides), ...(options.userCalls ?? [])]);
  const user = isolated.attach({ name: 'user', calls: [...calls] });
  const blk = new VirtioBlkClient(user);
  return {
    kernel,
    machine,
    user,
    blk,
    layers,
    isolated,
    kill: (service) => isolated.kill(service),
    ps: () => isolated.ps(),
    shutdown: async () => {
      await isolated.shutdown();
      options.disk.close();
    },
  };
}
