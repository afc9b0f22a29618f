/**
 * The virtio-mmio register file as the driver sees it (virtio 1.x §4.2.2): named
 * accessors over an MMIO window, so driver.ts reads as the specification's steps.
 *
 * Registers below 0x100 are 32-bit; the device config space at 0x100 is read with the
 * width of each field, inside a ConfigGeneration loop (§2.5.1, §4.2.2.2) so a config
 * change in the middle of the read cannot give a torn value.
 */
import type { MmioWindow } from '../../kernel/service.ts';
import * as V from '../../kernel/machine/virtio-spec.ts';
import { BLK_REQUEST_SIZE_BYTES_MAX, SECTOR_SIZE_BYTES } from '../../kernel/limits.ts';

export interface DeviceConfig {
  capacitySectors: number;
  sizeMaxBytes: number;
  segMax: number;
  blkSizeBytes: number;
  maxDiscardSectors: number;
  maxWriteZeroesSectors: number;
}

const RESET_POLLS_MAX = 1000;
const CONFIG_GENERATION_RETRIES_MAX = 100;

export class DeviceRegisters {
  constructor(private readonly mmio: MmioWindow) {}

  private r(offset: number): number {
    return this.mmio.read(offset, 4) >>> 0;
  }
  private w(offset: number, value: number): void {
    this.mmio.write(offset, 4, value >>> 0);
  }

  /** Checks magic, version and device id; throws a message a person can act on. */
  probe(): void {
    const magic = this.r(V.VIRTIO_MMIO_MAGIC_VALUE);
    if (magic !== V.VIRTIO_MMIO_MAGIC) throw new Error(`no virtio-mmio device here (magic 0x${magic.toString(16)})`);
    const version = this.r(V.VIRTIO_MMIO_VERSION);
    if (version !== V.VIRTIO_MMIO_VERSION_2) throw new Error(`virtio-mmio version ${version} is not supported (need 2)`);
    const id = this.r(V.VIRTIO_MMIO_DEVICE_ID);
    if (id !== V.VIRTIO_ID_BLOCK) throw new Error(`device id ${id} is not a block device (${V.VIRTIO_ID_BLOCK})`);
  }

  status(): number {
    return this.r(V.VIRTIO_MMIO_STATUS);
  }

  /** Adds one status bit to those already set (§3.1.1 sets them cumulatively). */
  setStatus(bit: number): void {
    this.w(V.VIRTIO_MMIO_STATUS, this.status() | bit);
  }

  /** Writes 0 and waits for the device to read back 0 (§4.2.3.1 / §2.4). */
  reset(): void {
    this.w(V.VIRTIO_MMIO_STATUS, 0);
    for (let i = 0; i < RESET_POLLS_MAX; i++) if (this.status() === 0) return;
    throw new Error('device did not complete reset');
  }

  deviceFeatures(): bigint {
    this.w(V.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    const lo = BigInt(this.r(V.VIRTIO_MMIO_DEVICE_FEATURES));
    this.w(V.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    const hi = BigInt(this.r(V.VIRTIO_MMIO_DEVICE_FEATURES));
    return (hi << 32n) | lo;
  }

  setDriverFeatures(features: bigint): void {
    this.w(V.VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    this.w(V.VIRTIO_MMIO_DRIVER_FEATURES, Number(features & 0xffffffffn));
    this.w(V.VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    this.w(V.VIRTIO_MMIO_DRIVER_FEATURES, Number((features >> 32n) & 0xffffffffn));
  }

  /** Reads the fields we use; a feature not negotiated gives the specification's default. */
  readConfig(features: bigint): DeviceConfig {
    for (let attempt = 0; attempt < CONFIG_GENERATION_RETRIES_MAX; attempt++) {
      const before = this.r(V.VIRTIO_MMIO_CONFIG_GENERATION);
      const c = (offset: number, width: 1 | 2 | 4) => this.mmio.read(V.VIRTIO_MMIO_CONFIG + offset, width) >>> 0;
      const has = (bit: number) => V.hasFeature(features, bit);
      const capacityLo = c(V.VIRTIO_BLK_CFG_CAPACITY, 4);
      const capacityHi = c(V.VIRTIO_BLK_CFG_CAPACITY + 4, 4);
      const cfg: DeviceConfig = {
        capacitySectors: capacityHi * 2 ** 32 + capacityLo,
        // Without SIZE_MAX the device states no per-segment limit: ours is the request limit.
        sizeMaxBytes: has(V.VIRTIO_BLK_F_SIZE_MAX) ? c(V.VIRTIO_BLK_CFG_SIZE_MAX, 4) : BLK_REQUEST_SIZE_BYTES_MAX,
        // Without SEG_MAX a request may carry only one data segment.
        segMax: has(V.VIRTIO_BLK_F_SEG_MAX) ? c(V.VIRTIO_BLK_CFG_SEG_MAX, 4) : 1,
        blkSizeBytes: has(V.VIRTIO_BLK_F_BLK_SIZE) ? c(V.VIRTIO_BLK_CFG_BLK_SIZE, 4) : SECTOR_SIZE_BYTES,
        maxDiscardSectors: has(V.VIRTIO_BLK_F_DISCARD) ? c(V.VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, 4) : 0,
        maxWriteZeroesSectors: has(V.VIRTIO_BLK_F_WRITE_ZEROES) ? c(V.VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS, 4) : 0,
      };
      if (this.r(V.VIRTIO_MMIO_CONFIG_GENERATION) !== before) continue;
      if (cfg.sizeMaxBytes < SECTOR_SIZE_BYTES || cfg.sizeMaxBytes % SECTOR_SIZE_BYTES) throw new Error(`size_max ${cfg.sizeMaxBytes} is not whole sectors`);
      if (cfg.segMax < 1) throw new Error(`seg_max ${cfg.segMax} is below 1`);
      return cfg;
    }
    throw new Error('config space kept changing while being read');
  }

  selectQueue(queueIndex: number): void {
    this.w(V.VIRTIO_MMIO_QUEUE_SEL, queueIndex);
  }
  queueReady(): number {
    return this.r(V.VIRTIO_MMIO_QUEUE_READY);
  }
  queueNumMax(): number {
    return this.r(V.VIRTIO_MMIO_QUEUE_NUM_MAX);
  }
  setQueueNum(size: number): void {
    this.w(V.VIRTIO_MMIO_QUEUE_NUM, size);
  }
  setQueueAddresses(descPhys: number, availPhys: number, usedPhys: number): void {
    const pair = (lo: number, value: number) => {
      this.w(lo, value % 2 ** 32);
      this.w(lo + 4, Math.floor(value / 2 ** 32));
    };
    pair(V.VIRTIO_MMIO_QUEUE_DESC_LOW, descPhys);
    pair(V.VIRTIO_MMIO_QUEUE_DRIVER_LOW, availPhys);
    pair(V.VIRTIO_MMIO_QUEUE_DEVICE_LOW, usedPhys);
  }
  setQueueReady(ready: 0 | 1): void {
    this.w(V.VIRTIO_MMIO_QUEUE_READY, ready);
  }
  notify(queueIndex: number): void {
    this.w(V.VIRTIO_MMIO_QUEUE_NOTIFY, queueIndex);
  }
  interruptStatus(): number {
    return this.r(V.VIRTIO_MMIO_INTERRUPT_STATUS);
  }
  ackInterrupt(bits: number): void {
    this.w(V.VIRTIO_MMIO_INTERRUPT_ACK, bits);
  }
}
