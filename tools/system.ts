/**
 * Assembles a running system: the machine with its disks, the kernel, and the services
 * in dependency order (today: the virtio-blk driver; later layers add theirs here).
 * Used by `strata boot`, the benchmarks and the tests, so all of them boot the same way.
 *
 * The boot log is written in the manner of a real OS: one line per step with the time
 * since power-on. Time in the log is host time (it reports how long boot took); the
 * kernel's own clock is virtual unless `clock: 'real'` is asked for.
 */
import { Kernel } from '../kernel/kernel.ts';
import { Machine } from '../kernel/machine/machine.ts';
import type { DiskBackend } from '../kernel/machine/disk/backend.ts';
import type { ServiceContext } from '../kernel/service.ts';
import { virtioBlkManifest } from '../drivers/virtio-blk/manifest.ts';
import { VIRTIO_BLK_ENDPOINT, VirtioBlkClient } from '../drivers/virtio-blk/protocol.ts';
import { formatBytes } from '../drivers/virtio-blk/driver.ts';
import { MEMORY_SIZE_BYTES_DEFAULT } from '../kernel/limits.ts';

export interface BootOptions {
  disk: DiskBackend;
  seed?: number;
  clock?: 'virtual' | 'real';
  memorySizeBytes?: number;
  trace?: boolean;
  /** Receives each boot-log and kernel-log line as it happens. */
  log?: (line: string) => void;
  /** Leave FLUSH un-negotiated (write-through device); for tests of the write-cache model. */
  withoutFlush?: boolean;
  /** Endpoints the returned user context may call (defaults to the driver's). */
  userCalls?: string[];
}

export interface System {
  kernel: Kernel;
  machine: Machine;
  /** A user-program context for the CLI or a test. */
  user: ServiceContext;
  blk: VirtioBlkClient;
  shutdown(): Promise<void>;
}

export async function bootSystem(options: BootOptions): Promise<System> {
  const t0 = performance.now();
  const log = (line: string) => options.log?.(`[${((performance.now() - t0) / 1000).toFixed(6).padStart(12)}] ${line}`);
  const memorySizeBytes = options.memorySizeBytes ?? MEMORY_SIZE_BYTES_DEFAULT;
  const machine = new Machine({ memorySizeBytes, disks: [options.disk] });
  log(`machine: ${formatBytes(memorySizeBytes)} physical memory, ${machine.devices.length} virtio-mmio device(s)`);
  for (const d of machine.devices) {
    log(`machine: ${d.name} at 0x${d.base.toString(16)} irq ${d.irqLine}, ${options.disk.kind} disk of ${formatBytes(options.disk.sizeBytes)}`);
  }
  const kernel = new Kernel({ seed: options.seed, clock: options.clock, machine, trace: options.trace, logSink: log });
  log(`kernel: seed ${kernel.seed}, ${kernel.clockMode} clock, scheduler seeded`);
  const device = machine.devices[0];
  await kernel.spawn(virtioBlkManifest(device, { config: { withoutFlush: options.withoutFlush } }));
  log(`kernel: service virtio-blk up (endpoint ${VIRTIO_BLK_ENDPOINT}, mmio 0x${device.base.toString(16)}, irq ${device.irqLine}, dma)`);
  const user = kernel.attach({ name: 'user', calls: options.userCalls ?? [VIRTIO_BLK_ENDPOINT] });
  const blk = new VirtioBlkClient(user);
  return {
    kernel,
    machine,
    user,
    blk,
    shutdown: async () => {
      await kernel.shutdown();
      options.disk.close();
    },
  };
}
