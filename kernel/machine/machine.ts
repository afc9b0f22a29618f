/**
 * The emulated machine: physical memory plus one virtio-mmio block device per disk.
 *
 * Disk i is `virtio-blk{i}`, its registers at MMIO_BASE_ADDR + i * MMIO_WINDOW_SIZE_BYTES
 * and its interrupt on line VIRTIO_IRQ_LINE_FIRST + i. The kernel reaches a device only
 * through its MMIO window (`device(base).mmio` or `mmioRead/mmioWrite`); the device
 * reaches the kernel only through the MachineHost it is attached to: `raiseInterrupt`
 * and `defer` (device work runs later, as a scheduler step, never inside an MMIO write).
 *
 * Before `attach`, interrupts and deferred work are held in order (at most
 * PENDING_BEFORE_ATTACH_MAX, then a loud error) and handed to the host when it attaches.
 * A machine attaches to exactly one host. MMIO accesses never throw for a driver's
 * mistake: an unmapped address is a logged driver bug that reads as 0.
 */

import { MEMORY_SIZE_BYTES_DEFAULT, MMIO_BASE_ADDR, MMIO_WINDOW_SIZE_BYTES, VIRTIO_IRQ_LINE_FIRST } from '../limits.ts';
import type { DiskBackend } from './disk/backend.ts';
import { DRIVER_BUG_LOG_ENTRIES_MAX, MACHINE_DISKS_MAX, PENDING_BEFORE_ATTACH_MAX } from './limits.ts';
import { hex, PhysicalMemory } from './physical-memory.ts';
import { VirtioBlkDevice } from './virtio-blk.ts';
import { MmioTransport } from './virtio-mmio.ts';

export interface MachineHost {
  raiseInterrupt(line: number): void;
  defer(work: () => void): void;
}

export interface MmioDevice {
  read(offset: number, width: 1 | 2 | 4): number;
  write(offset: number, width: 1 | 2 | 4, value: number): void;
}

export interface MachineDevice {
  name: string;
  base: number;
  sizeBytes: number;
  irqLine: number;
  mmio: MmioDevice;
}

export interface MachineOptions {
  memorySizeBytes?: number;
  disks: DiskBackend[];
  /** GET_ID strings; disk i defaults to `strata-disk{i}`. */
  diskSerials?: string[];
  /** Called with every driver-bug report (they are also kept per transport). */
  onDriverBug?: (line: string) => void;
}

type Pending = { kind: 'irq'; line: number } | { kind: 'defer'; work: () => void };

export class Machine {
  readonly memory: PhysicalMemory;
  readonly devices: readonly MachineDevice[];
  /** The block device behind devices[i] (counters, backend). */
  readonly blockDevices: readonly VirtioBlkDevice[];
  /** The transport behind devices[i] (driver-bug log, stats, reset). */
  readonly transports: readonly MmioTransport[];
  private host: MachineHost | null = null;
  private pending: Pending[] = [];
  private readonly unmappedBugs: string[] = [];
  private readonly onDriverBug: ((line: string) => void) | undefined;

  constructor(opts: MachineOptions) {
    const disks = opts.disks;
    if (disks.length > MACHINE_DISKS_MAX) throw new RangeError(`Machine: ${disks.length} disks, at most ${MACHINE_DISKS_MAX}`);
    if (opts.diskSerials !== undefined && opts.diskSerials.length > disks.length) {
      throw new RangeError(`Machine: ${opts.diskSerials.length} serials for ${disks.length} disks`);
    }
    this.memory = new PhysicalMemory(opts.memorySizeBytes ?? MEMORY_SIZE_BYTES_DEFAULT);
    this.onDriverBug = opts.onDriverBug;
    const devices: MachineDevice[] = [];
    const blockDevices: VirtioBlkDevice[] = [];
    const transports: MmioTransport[] = [];
    disks.forEach((disk, i) => {
      const name = `virtio-blk${i}`;
      const irqLine = VIRTIO_IRQ_LINE_FIRST + i;
      const blk = new VirtioBlkDevice(disk, this.memory, { serial: opts.diskSerials?.[i] ?? `strata-disk${i}` });
      const transport = new MmioTransport(
        name,
        blk,
        this.memory,
        { raiseInterrupt: () => this.raise(irqLine), defer: (work) => this.defer(work) },
        opts.onDriverBug,
      );
      devices.push({ name, base: MMIO_BASE_ADDR + i * MMIO_WINDOW_SIZE_BYTES, sizeBytes: MMIO_WINDOW_SIZE_BYTES, irqLine, mmio: transport });
      blockDevices.push(blk);
      transports.push(transport);
    });
    this.devices = devices;
    this.blockDevices = blockDevices;
    this.transports = transports;
  }

  /** Connects the machine to its host; work and interrupts held so far are delivered now, in order. */
  attach(host: MachineHost): void {
    if (this.host !== null) throw new Error('Machine.attach: the machine is already attached to a host');
    this.host = host;
    const held = this.pending;
    this.pending = [];
    for (const item of held) {
      if (item.kind === 'irq') host.raiseInterrupt(item.line);
      else host.defer(item.work);
    }
  }

  get attached(): boolean {
    return this.host !== null;
  }

  /** The device whose window starts at `base`; throws if nothing is mapped there. */
  device(base: number): MachineDevice {
    const found = this.devices.find((d) => d.base === base);
    if (found === undefined) {
      const mapped = this.devices.map((d) => hex(d.base)).join(', ') || 'none';
      throw new RangeError(`Machine.device: no device is mapped at ${hex(base)} (mapped: ${mapped})`);
    }
    return found;
  }

  /** A read from the MMIO bus at a physical address; unmapped reads are 0. */
  mmioRead(addr: number, width: 1 | 2 | 4): number {
    const device = this.deviceAt(addr);
    return device === undefined ? 0 : device.mmio.read(addr - device.base, width);
  }

  /** A write to the MMIO bus at a physical address; unmapped writes are dropped. */
  mmioWrite(addr: number, width: 1 | 2 | 4, value: number): void {
    const device = this.deviceAt(addr);
    device?.mmio.write(addr - device.base, width, value);
  }

  /** Driver-bug reports for MMIO accesses that hit no device. */
  get unmappedAccesses(): readonly string[] {
    return this.unmappedBugs;
  }

  private deviceAt(addr: number): MachineDevice | undefined {
    const device = this.devices.find((d) => addr >= d.base && addr < d.base + d.sizeBytes);
    if (device === undefined) {
      const line = `machine: driver bug: MMIO access at ${hex(addr)} hits no device`;
      if (this.unmappedBugs.length >= DRIVER_BUG_LOG_ENTRIES_MAX) this.unmappedBugs.shift();
      this.unmappedBugs.push(line);
      this.onDriverBug?.(line);
    }
    return device;
  }

  private raise(line: number): void {
    if (this.host !== null) this.host.raiseInterrupt(line);
    else this.hold({ kind: 'irq', line });
  }

  private defer(work: () => void): void {
    if (this.host !== null) this.host.defer(work);
    else this.hold({ kind: 'defer', work });
  }

  private hold(item: Pending): void {
    if (this.pending.length >= PENDING_BEFORE_ATTACH_MAX) {
      throw new Error(`Machine: ${PENDING_BEFORE_ATTACH_MAX} interrupts/deferred work items are waiting for a host; call attach() first`);
    }
    this.pending.push(item);
  }
}
