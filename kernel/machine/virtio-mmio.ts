/**
 * The virtio-mmio transport, version 2 (virtio 1.x §4.2): the register file a driver
 * sees in one MMIO window, in front of any `VirtioDevice` (virtio-blk today).
 *
 * Offers `read(offset, width)` / `write(offset, width, value)`, dispatched from a table
 * of named registers (§4.2.2), the status handshake (§2.1, §3.1), 64-bit feature
 * negotiation through the select registers (§2.2), queue setup, notifications,
 * interrupts, ConfigGeneration, and DEVICE_NEEDS_RESET.
 *
 * Rules it keeps:
 * - A driver mistake never throws to the caller. Registers below 0x100 take only
 *   aligned 32-bit accesses (§4.2.2.2); config space takes aligned 1/2/4-byte accesses
 *   that lie inside one field whose feature the device offered (§2.5.1). A wrong
 *   access, an unknown register, a read of a write-only register, a write of a read-only
 *   one, addresses written while the queue is ready: each is logged as "driver bug" and
 *   ignored (reads return 0).
 * - Writing 0 to Status resets everything: queues, features, interrupt status (§4.2.2.1).
 * - FEATURES_OK is refused (the bit does not stick) if the driver accepted a feature
 *   that was not offered, did not accept VIRTIO_F_VERSION_1, or the device objects.
 * - QueueNotify only schedules work (`host.defer`); the device runs later, outside the
 *   driver's MMIO write, and never before DRIVER_OK (§2.1.2).
 * - A malformed ring or chain (ChainError) or a buffer outside memory (MemoryFault)
 *   sets DEVICE_NEEDS_RESET and, after DRIVER_OK, raises a configuration change
 *   interrupt (§2.1.2); the device then ignores notifications until reset.
 * - A used buffer notification is sent unless avail.flags has NO_INTERRUPT (§2.7.7.2).
 */

import { DRIVER_BUG_LOG_ENTRIES_MAX, REQUESTS_PER_RUN_MAX } from './limits.ts';
import { hex, MemoryFault } from './physical-memory.ts';
import type { PhysicalMemory } from './physical-memory.ts';
import type { TransportHost, VirtioDevice } from './virtio-device.ts';
import { ChainError, DeviceVirtqueue } from './virtqueue.ts';
import * as S from './virtio-spec.ts';

export type { TransportHost, VirtioDevice } from './virtio-device.ts';

type AddressField = 'descLow' | 'descHigh' | 'availLow' | 'availHigh' | 'usedLow' | 'usedHigh';

interface QueueState extends Record<AddressField, number> {
  sizeEntries: number;
  ready: boolean;
  vq: DeviceVirtqueue | null;
  kickPending: boolean;
}

interface Register {
  readonly name: string;
  readonly read?: () => number;
  readonly write?: (value: number) => void;
}

const DRIVER_STATUS_BITS =
  S.VIRTIO_STATUS_ACKNOWLEDGE | S.VIRTIO_STATUS_DRIVER | S.VIRTIO_STATUS_DRIVER_OK | S.VIRTIO_STATUS_FEATURES_OK | S.VIRTIO_STATUS_FAILED;
const INTERRUPT_BITS = S.VIRTIO_MMIO_INT_VRING | S.VIRTIO_MMIO_INT_CONFIG;

function newQueue(): QueueState {
  return { sizeEntries: 0, ready: false, descLow: 0, descHigh: 0, availLow: 0, availHigh: 0, usedLow: 0, usedHigh: 0, vq: null, kickPending: false };
}

function isGuestFault(err: unknown): err is ChainError | MemoryFault {
  return err instanceof ChainError || err instanceof MemoryFault;
}

export class MmioTransport {
  private status = 0;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private driverFeatures = 0n;
  private negotiated = 0n;
  private queueSel = 0;
  private queues: QueueState[];
  private interruptStatus = 0;
  private configGeneration = 0;
  private epoch = 0; // bumped by reset; deferred work from an older epoch does nothing
  private readonly registers = new Map<number, Register>();
  private readonly bugLog: string[] = [];
  readonly stats = { driverBugs: 0, notifies: 0, interrupts: 0, resets: 0, needsResets: 0 };

  constructor(
    readonly name: string,
    readonly device: VirtioDevice,
    private readonly memory: PhysicalMemory,
    private readonly host: TransportHost,
    private readonly onDriverBug?: (message: string) => void,
  ) {
    this.queues = Array.from({ length: device.queueCount }, newQueue);
    this.defineRegisters();
  }

  // ---- MmioDevice ------------------------------------------------------------------

  read(offset: number, width: 1 | 2 | 4): number {
    if (!this.checkAccess(offset, width, 'read')) return 0;
    if (offset >= S.VIRTIO_MMIO_CONFIG) return this.configRead(offset - S.VIRTIO_MMIO_CONFIG, width);
    const reg = this.registers.get(offset);
    if (reg?.read === undefined) {
      this.bug(reg ? `read of write-only register ${reg.name}` : `read of unknown register ${hex(offset)}`);
      return 0;
    }
    return reg.read() >>> 0;
  }

  write(offset: number, width: 1 | 2 | 4, value: number): void {
    if (!this.checkAccess(offset, width, 'write')) return;
    if (!Number.isInteger(value) || value < 0 || value >= 2 ** (8 * width)) {
      this.bug(`write of ${value} does not fit ${width} bytes at ${hex(offset)}`);
      return;
    }
    if (offset >= S.VIRTIO_MMIO_CONFIG) {
      this.configWrite(offset - S.VIRTIO_MMIO_CONFIG, width, value);
      return;
    }
    const reg = this.registers.get(offset);
    if (reg?.write === undefined) {
      this.bug(reg ? `write to read-only register ${reg.name}` : `write to unknown register ${hex(offset)}`);
      return;
    }
    try {
      reg.write(value);
    } catch (err) {
      if (!isGuestFault(err)) throw err; // our own bug: stop loudly
      this.needsReset(err.message);
    }
  }

  // ---- what the machine and tests may look at --------------------------------------

  /** The last DRIVER_BUG_LOG_ENTRIES_MAX driver-bug reports, oldest first. */
  get driverBugs(): readonly string[] {
    return this.bugLog;
  }

  get negotiatedFeatures(): bigint {
    return this.negotiated;
  }

  /** The device's configuration changed: new generation, and a config interrupt after DRIVER_OK. */
  configChanged(): void {
    this.configGeneration = (this.configGeneration + 1) >>> 0;
    if (this.status & S.VIRTIO_STATUS_DRIVER_OK) this.interrupt(S.VIRTIO_MMIO_INT_CONFIG);
  }

  /** Device reset (Status = 0), also used by the machine at power-on. */
  reset(): void {
    this.status = 0;
    this.deviceFeaturesSel = 0;
    this.driverFeaturesSel = 0;
    this.driverFeatures = 0n;
    this.negotiated = 0n;
    this.queueSel = 0;
    this.queues = Array.from({ length: this.device.queueCount }, newQueue);
    this.interruptStatus = 0;
    this.epoch++;
    this.stats.resets++;
    this.device.reset();
  }

  // ---- register table (§4.2.2) -----------------------------------------------------

  private defineRegisters(): void {
    const def = (offset: number, name: string, read?: () => number, write?: (value: number) => void) =>
      this.registers.set(offset, { name, read, write });
    const device = this.device;
    def(S.VIRTIO_MMIO_MAGIC_VALUE, 'MagicValue', () => S.VIRTIO_MMIO_MAGIC);
    def(S.VIRTIO_MMIO_VERSION, 'Version', () => S.VIRTIO_MMIO_VERSION_2);
    def(S.VIRTIO_MMIO_DEVICE_ID, 'DeviceID', () => device.deviceId);
    def(S.VIRTIO_MMIO_VENDOR_ID, 'VendorID', () => device.vendorId);
    def(S.VIRTIO_MMIO_DEVICE_FEATURES, 'DeviceFeatures', () => this.featureWord(device.deviceFeatures, this.deviceFeaturesSel));
    def(S.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 'DeviceFeaturesSel', undefined, (v) => (this.deviceFeaturesSel = v));
    def(S.VIRTIO_MMIO_DRIVER_FEATURES, 'DriverFeatures', undefined, (v) => this.writeDriverFeatures(v));
    def(S.VIRTIO_MMIO_DRIVER_FEATURES_SEL, 'DriverFeaturesSel', undefined, (v) => (this.driverFeaturesSel = v));
    def(S.VIRTIO_MMIO_QUEUE_SEL, 'QueueSel', undefined, (v) => (this.queueSel = v));
    def(S.VIRTIO_MMIO_QUEUE_NUM_MAX, 'QueueNumMax', () => (this.queueSel < device.queueCount ? device.queueSizeMax : 0));
    def(S.VIRTIO_MMIO_QUEUE_NUM, 'QueueNum', undefined, (v) => this.writeQueueNum(v));
    def(S.VIRTIO_MMIO_QUEUE_READY, 'QueueReady', () => (this.selectedQueue()?.ready ? 1 : 0), (v) => this.writeQueueReady(v));
    def(S.VIRTIO_MMIO_QUEUE_NOTIFY, 'QueueNotify', undefined, (v) => this.notify(v));
    def(S.VIRTIO_MMIO_INTERRUPT_STATUS, 'InterruptStatus', () => this.interruptStatus);
    def(S.VIRTIO_MMIO_INTERRUPT_ACK, 'InterruptACK', undefined, (v) => this.ack(v));
    def(S.VIRTIO_MMIO_STATUS, 'Status', () => this.status, (v) => this.writeStatus(v));
    const addr = (offset: number, name: string, field: AddressField) =>
      def(offset, name, undefined, (v) => this.writeQueueAddress(name, field, v));
    addr(S.VIRTIO_MMIO_QUEUE_DESC_LOW, 'QueueDescLow', 'descLow');
    addr(S.VIRTIO_MMIO_QUEUE_DESC_HIGH, 'QueueDescHigh', 'descHigh');
    addr(S.VIRTIO_MMIO_QUEUE_DRIVER_LOW, 'QueueDriverLow', 'availLow');
    addr(S.VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 'QueueDriverHigh', 'availHigh');
    addr(S.VIRTIO_MMIO_QUEUE_DEVICE_LOW, 'QueueDeviceLow', 'usedLow');
    addr(S.VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 'QueueDeviceHigh', 'usedHigh');
    def(S.VIRTIO_MMIO_CONFIG_GENERATION, 'ConfigGeneration', () => this.configGeneration);
  }

  private featureWord(features: bigint, sel: number): number {
    if (sel > 1) return 0; // §4.2.2: only words 0 and 1 exist here
    return Number((features >> BigInt(32 * sel)) & 0xffff_ffffn);
  }

  private writeDriverFeatures(value: number): void {
    if (this.status & S.VIRTIO_STATUS_FEATURES_OK) return this.bug('DriverFeatures written after FEATURES_OK (§3.1.1)');
    if (this.driverFeaturesSel > 1) {
      if (value !== 0) this.bug(`DriverFeatures word ${this.driverFeaturesSel} does not exist; ignored ${hex(value)}`);
      return;
    }
    const shift = BigInt(32 * this.driverFeaturesSel);
    this.driverFeatures = (this.driverFeatures & ~(0xffff_ffffn << shift)) | (BigInt(value) << shift);
  }

  private writeStatus(value: number): void {
    if (value === 0) return this.reset();
    const needsReset = this.status & S.VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    const written = value & ~S.VIRTIO_STATUS_DEVICE_NEEDS_RESET; // a read-modify-write may echo it back
    if (written & ~DRIVER_STATUS_BITS) this.bug(`Status write ${hex(value)} sets unknown bits`);
    const old = this.status & DRIVER_STATUS_BITS;
    if (old & ~written) this.bug(`Status write ${hex(value)} clears bits ${hex(old & ~written)} (§2.1.1: MUST NOT)`);
    let next = old | (written & DRIVER_STATUS_BITS);
    if (next & ~old & S.VIRTIO_STATUS_FEATURES_OK) {
      const refusal = this.checkFeatures(this.driverFeatures);
      if (refusal !== null) {
        this.bug(`FEATURES_OK refused: ${refusal}`);
        next &= ~S.VIRTIO_STATUS_FEATURES_OK;
      } else {
        this.negotiated = this.driverFeatures;
        this.device.featuresAccepted(this.negotiated);
      }
    }
    if (next & ~old & S.VIRTIO_STATUS_DRIVER_OK && !(next & S.VIRTIO_STATUS_FEATURES_OK)) {
      this.bug('DRIVER_OK without FEATURES_OK refused (§3.1.1)');
      next &= ~S.VIRTIO_STATUS_DRIVER_OK;
    }
    this.status = next | needsReset;
  }

  private checkFeatures(accepted: bigint): string | null {
    const unoffered = accepted & ~this.device.deviceFeatures;
    if (unoffered !== 0n) return `driver accepted features 0x${unoffered.toString(16)} that were not offered`;
    if (!S.hasFeature(accepted, S.VIRTIO_F_VERSION_1)) return 'driver did not accept VIRTIO_F_VERSION_1 (legacy is not supported)';
    return this.device.checkFeatures(accepted);
  }

  private selectedQueue(): QueueState | null {
    return this.queueSel < this.queues.length ? this.queues[this.queueSel] : null;
  }

  /** The selected queue if it may be configured now, else null after logging why not. */
  private configurableQueue(what: string): QueueState | null {
    const q = this.selectedQueue();
    if (q === null) this.bug(`${what} for queue ${this.queueSel}, which does not exist`);
    else if (q.ready) this.bug(`${what} while queue ${this.queueSel} is ready (§4.2.2.2: MUST NOT)`);
    else return q;
    return null;
  }

  private writeQueueNum(value: number): void {
    const q = this.configurableQueue('QueueNum');
    if (q === null) return;
    if (!S.isValidQueueSize(value) || value > this.device.queueSizeMax) {
      return this.bug(`QueueNum ${value} is not a power of two in [1, ${this.device.queueSizeMax}]`);
    }
    q.sizeEntries = value;
  }

  private writeQueueAddress(name: string, field: AddressField, value: number): void {
    const q = this.configurableQueue(name);
    if (q === null) return;
    q[field] = value;
  }

  private writeQueueReady(value: number): void {
    const q = this.selectedQueue();
    if (q === null) return this.bug(`QueueReady for queue ${this.queueSel}, which does not exist`);
    if (value === 0) {
      q.ready = false;
      q.vq = null;
      return;
    }
    if (value !== 1) return this.bug(`QueueReady ${value} is neither 0 nor 1`);
    if (q.ready) return;
    const join = (low: number, high: number) => high * 2 ** 32 + low;
    q.vq = new DeviceVirtqueue(this.memory, {
      sizeEntries: q.sizeEntries,
      descAddr: join(q.descLow, q.descHigh),
      availAddr: join(q.availLow, q.availHigh),
      usedAddr: join(q.usedLow, q.usedHigh),
    }); // a ChainError here reaches write(), which sets NEEDS_RESET
    q.ready = true;
  }

  private notify(queueIndex: number): void {
    this.stats.notifies++;
    const q = queueIndex < this.queues.length ? this.queues[queueIndex] : null;
    if (q === null) return this.bug(`QueueNotify for queue ${queueIndex}, which does not exist`);
    if (!(this.status & S.VIRTIO_STATUS_DRIVER_OK)) return this.bug('QueueNotify before DRIVER_OK (§3.1.1: MUST NOT)');
    if (!q.ready) return this.bug(`QueueNotify for queue ${queueIndex}, which is not ready`);
    if (this.status & S.VIRTIO_STATUS_DEVICE_NEEDS_RESET) return; // stopped until reset; already reported
    if (q.kickPending) return; // the pending run will see these buffers too
    q.kickPending = true;
    const epoch = this.epoch;
    this.host.defer(() => this.runQueue(queueIndex, epoch));
  }

  /** Deferred device work for one queue: everything available, up to a budget. */
  private runQueue(queueIndex: number, epoch: number): void {
    if (epoch !== this.epoch) return; // the device was reset since the notify
    const q = this.queues[queueIndex];
    q.kickPending = false;
    const vq = q.vq;
    const live = S.VIRTIO_STATUS_DRIVER_OK | S.VIRTIO_STATUS_DEVICE_NEEDS_RESET | S.VIRTIO_STATUS_FAILED;
    if (vq === null || !q.ready || (this.status & live) !== S.VIRTIO_STATUS_DRIVER_OK) return;
    const usedBefore = vq.usedIndex;
    let more = false;
    let failure: unknown = null;
    try {
      this.device.process(queueIndex, vq, REQUESTS_PER_RUN_MAX);
      more = vq.pendingAvail() > 0;
    } catch (err) {
      failure = err;
    }
    if (vq.usedIndex !== usedBefore && !vq.interruptSuppressed) this.interrupt(S.VIRTIO_MMIO_INT_VRING);
    if (failure !== null) {
      this.needsReset(failure instanceof Error ? failure.message : String(failure));
      if (!isGuestFault(failure)) throw failure; // a device bug, not the driver's: stop loudly
      return;
    }
    if (more) {
      q.kickPending = true;
      this.host.defer(() => this.runQueue(queueIndex, epoch));
    }
  }

  private ack(value: number): void {
    if (value & ~INTERRUPT_BITS) this.bug(`InterruptACK ${hex(value)} sets undefined bits`);
    this.interruptStatus &= ~value;
  }

  private interrupt(bit: number): void {
    this.interruptStatus |= bit;
    this.stats.interrupts++;
    this.host.raiseInterrupt();
  }

  private needsReset(reason: string): void {
    this.bug(`device needs reset: ${reason}`);
    if (this.status & S.VIRTIO_STATUS_DEVICE_NEEDS_RESET) return;
    this.status |= S.VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    this.stats.needsResets++;
    if (this.status & S.VIRTIO_STATUS_DRIVER_OK) this.interrupt(S.VIRTIO_MMIO_INT_CONFIG);
  }

  // ---- access checks and config space ----------------------------------------------

  private checkAccess(offset: number, width: number, op: string): boolean {
    if (!Number.isInteger(offset) || offset < 0 || offset >= S.VIRTIO_MMIO_CONFIG + this.device.configSizeBytes) {
      this.bug(`${op} at ${hex(offset)} is outside the registers and config space`);
      return false;
    }
    if (width !== 1 && width !== 2 && width !== 4) {
      this.bug(`${op} of width ${width} at ${hex(offset)}`);
      return false;
    }
    if (offset < S.VIRTIO_MMIO_CONFIG && width !== 4) {
      this.bug(`${width}-byte ${op} at ${hex(offset)}: registers take only 32-bit accesses (§4.2.2.2)`);
      return false;
    }
    if (offset % width !== 0 || offset + width > S.VIRTIO_MMIO_CONFIG + this.device.configSizeBytes) {
      this.bug(`unaligned or overlong ${width}-byte ${op} at ${hex(offset)}`);
      return false;
    }
    return true;
  }

  private configRead(offsetBytes: number, width: 1 | 2 | 4): number {
    const problem = this.configFieldProblem(offsetBytes, width);
    if (problem !== null) this.bug(`config read: ${problem}`); // still answered: the bytes are there
    return this.device.configRead(offsetBytes, width) >>> 0;
  }

  private configWrite(offsetBytes: number, width: 1 | 2 | 4, value: number): void {
    const problem = this.configFieldProblem(offsetBytes, width);
    if (problem !== null) return this.bug(`config write: ${problem}`);
    if (!this.device.configWrite(offsetBytes, width, value)) this.bug(`config write at ${offsetBytes}: field is read-only`);
    else this.configChanged();
  }

  /** Why this access breaks §4.2.2.2 / §2.5.1, or null if it is a proper field access. */
  private configFieldProblem(offsetBytes: number, width: number): string | null {
    const field = this.device.configFields.find((f) => offsetBytes >= f.offsetBytes && offsetBytes < f.offsetBytes + f.sizeBytes);
    if (field === undefined) return `offset ${offsetBytes} is padding, not a field`;
    if (width !== Math.min(field.sizeBytes, 4)) return `${width}-byte access to ${field.sizeBytes}-byte field ${field.name}`;
    if (field.featureBit !== null && !S.hasFeature(this.device.deviceFeatures, field.featureBit)) {
      return `field ${field.name} belongs to feature ${field.featureBit}, which is not offered`;
    }
    return null;
  }

  private bug(message: string): void {
    this.stats.driverBugs++;
    const line = `${this.name}: driver bug: ${message}`;
    if (this.bugLog.length >= DRIVER_BUG_LOG_ENTRIES_MAX) this.bugLog.shift();
    this.bugLog.push(line);
    this.onDriverBug?.(line);
  }
}
