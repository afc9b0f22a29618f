// Test-only helpers: drive the emulated device register by register and build split
// virtqueue chains by hand in physical memory, with no driver and no kernel.
import { expect } from 'vitest';
import type { DiskBackend } from '../../kernel/machine/disk/backend.ts';
import { Machine } from '../../kernel/machine/machine.ts';
import type { MachineDevice } from '../../kernel/machine/machine.ts';
import type { PhysicalMemory } from '../../kernel/machine/physical-memory.ts';
import { SyncHost } from '../../kernel/machine/test-host.ts';
import * as S from '../../kernel/machine/virtio-spec.ts';

export const MEMORY_SIZE_BYTES = 4 * 1024 * 1024;
export const QUEUE_SIZE = 256;
export const DESC_ADDR = 0x1000;
export const AVAIL_ADDR = 0x2000;
export const USED_ADDR = 0x3000;
export const BUFFERS_ADDR = 0x10000;

export interface Rig {
  machine: Machine;
  host: SyncHost;
  dev: MachineDevice;
  memory: PhysicalMemory;
  q: HandQueue;
  alloc: BumpAlloc;
}

export function rd(dev: MachineDevice, offset: number): number {
  return dev.mmio.read(offset, 4);
}
export function wr(dev: MachineDevice, offset: number, value: number): void {
  dev.mmio.write(offset, 4, value);
}

export function deviceFeatures(dev: MachineDevice): bigint {
  wr(dev, S.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
  const low = rd(dev, S.VIRTIO_MMIO_DEVICE_FEATURES);
  wr(dev, S.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
  const high = rd(dev, S.VIRTIO_MMIO_DEVICE_FEATURES);
  return (BigInt(high) << 32n) | BigInt(low);
}

export function writeDriverFeatures(dev: MachineDevice, features: bigint): void {
  wr(dev, S.VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
  wr(dev, S.VIRTIO_MMIO_DRIVER_FEATURES, Number(features & 0xffff_ffffn));
  wr(dev, S.VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
  wr(dev, S.VIRTIO_MMIO_DRIVER_FEATURES, Number(features >> 32n));
}

/** §3.1.1 steps 1-8 plus §4.2.3.2 queue setup; returns the status read back at the end. */
export function handshake(dev: MachineDevice, features: bigint, queueSize = QUEUE_SIZE): number {
  wr(dev, S.VIRTIO_MMIO_STATUS, 0);
  wr(dev, S.VIRTIO_MMIO_STATUS, S.VIRTIO_STATUS_ACKNOWLEDGE);
  wr(dev, S.VIRTIO_MMIO_STATUS, S.VIRTIO_STATUS_ACKNOWLEDGE | S.VIRTIO_STATUS_DRIVER);
  writeDriverFeatures(dev, features);
  wr(dev, S.VIRTIO_MMIO_STATUS, S.VIRTIO_STATUS_ACKNOWLEDGE | S.VIRTIO_STATUS_DRIVER | S.VIRTIO_STATUS_FEATURES_OK);
  expect(rd(dev, S.VIRTIO_MMIO_STATUS) & S.VIRTIO_STATUS_FEATURES_OK).toBe(S.VIRTIO_STATUS_FEATURES_OK);
  setupQueue(dev, queueSize);
  wr(dev, S.VIRTIO_MMIO_STATUS, rd(dev, S.VIRTIO_MMIO_STATUS) | S.VIRTIO_STATUS_DRIVER_OK);
  return rd(dev, S.VIRTIO_MMIO_STATUS);
}

export function setupQueue(dev: MachineDevice, queueSize: number, addrs = { desc: DESC_ADDR, avail: AVAIL_ADDR, used: USED_ADDR }): void {
  wr(dev, S.VIRTIO_MMIO_QUEUE_SEL, 0);
  expect(rd(dev, S.VIRTIO_MMIO_QUEUE_READY)).toBe(0);
  wr(dev, S.VIRTIO_MMIO_QUEUE_NUM, queueSize);
  wr(dev, S.VIRTIO_MMIO_QUEUE_DESC_LOW, addrs.desc);
  wr(dev, S.VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
  wr(dev, S.VIRTIO_MMIO_QUEUE_DRIVER_LOW, addrs.avail);
  wr(dev, S.VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
  wr(dev, S.VIRTIO_MMIO_QUEUE_DEVICE_LOW, addrs.used);
  wr(dev, S.VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
  wr(dev, S.VIRTIO_MMIO_QUEUE_READY, 1);
}

export const FULL_FEATURES =
  S.featureBit(S.VIRTIO_F_VERSION_1) |
  S.featureBit(S.VIRTIO_BLK_F_FLUSH) |
  S.featureBit(S.VIRTIO_BLK_F_BLK_SIZE) |
  S.featureBit(S.VIRTIO_BLK_F_SEG_MAX) |
  S.featureBit(S.VIRTIO_BLK_F_SIZE_MAX) |
  S.featureBit(S.VIRTIO_BLK_F_DISCARD) |
  S.featureBit(S.VIRTIO_BLK_F_WRITE_ZEROES);

/** A machine with one disk, handshaken with `features`, queue 0 ready, host attached. */
export function rig(disk: DiskBackend, features: bigint = FULL_FEATURES, queueSize = QUEUE_SIZE): Rig {
  const machine = new Machine({ memorySizeBytes: MEMORY_SIZE_BYTES, disks: [disk], diskSerials: ['test-serial-0'] });
  const host = new SyncHost();
  machine.attach(host);
  const dev = machine.devices[0];
  const status = handshake(dev, features, queueSize);
  expect(status).toBe(S.VIRTIO_STATUS_ACKNOWLEDGE | S.VIRTIO_STATUS_DRIVER | S.VIRTIO_STATUS_FEATURES_OK | S.VIRTIO_STATUS_DRIVER_OK);
  const q = new HandQueue(machine.memory, queueSize);
  return { machine, host, dev, memory: machine.memory, q, alloc: new BumpAlloc(machine.memory) };
}

export class BumpAlloc {
  private next = BUFFERS_ADDR;
  constructor(private readonly memory: PhysicalMemory) {}
  take(lengthBytes: number, alignBytes = 16): number {
    this.next = Math.ceil(this.next / alignBytes) * alignBytes;
    const addr = this.next;
    this.next += lengthBytes;
    if (this.next > this.memory.sizeBytes) throw new Error('test memory exhausted');
    return addr;
  }
  reset(): void {
    this.next = BUFFERS_ADDR;
  }
}

export interface Desc {
  addr: number;
  lengthBytes: number;
  writable?: boolean;
  /** Extra raw flag bits (e.g. INDIRECT) for malformed-chain tests. */
  extraFlags?: number;
}

/** The driver's half of a split virtqueue, written by hand. */
export class HandQueue {
  private availIdx = 0;
  private nextDesc = 0;
  constructor(
    private readonly memory: PhysicalMemory,
    readonly size: number,
  ) {}

  writeDesc(index: number, addr: number, lengthBytes: number, flags: number, next: number): void {
    const at = DESC_ADDR + index * S.VIRTQ_DESC_SIZE_BYTES;
    this.memory.write64(at + S.VIRTQ_DESC_ADDR_OFFSET, addr);
    this.memory.write32(at + S.VIRTQ_DESC_LEN_OFFSET, lengthBytes);
    this.memory.write16(at + S.VIRTQ_DESC_FLAGS_OFFSET, flags);
    this.memory.write16(at + S.VIRTQ_DESC_NEXT_OFFSET, next);
  }

  /** Writes a chain into consecutive free descriptors; returns its head. */
  chain(descs: Desc[]): number {
    const head = this.nextDesc % this.size;
    descs.forEach((d, i) => {
      const index = (head + i) % this.size;
      const last = i === descs.length - 1;
      const flags = (d.writable ? S.VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : S.VIRTQ_DESC_F_NEXT) | (d.extraFlags ?? 0);
      this.writeDesc(index, d.addr, d.lengthBytes, flags, last ? 0 : (index + 1) % this.size);
    });
    this.nextDesc += descs.length;
    return head;
  }

  /** Puts `head` in the available ring and bumps avail.idx (entry first, then idx). */
  publish(head: number): void {
    this.memory.write16(AVAIL_ADDR + S.VIRTQ_AVAIL_RING_OFFSET + (this.availIdx % this.size) * 2, head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.memory.write16(AVAIL_ADDR + S.VIRTQ_AVAIL_IDX_OFFSET, this.availIdx);
  }

  setAvailFlags(flags: number): void {
    this.memory.write16(AVAIL_ADDR + S.VIRTQ_AVAIL_FLAGS_OFFSET, flags);
  }

  usedIdx(): number {
    return this.memory.read16(USED_ADDR + S.VIRTQ_USED_IDX_OFFSET);
  }

  usedElem(i: number): { id: number; lengthBytes: number } {
    const at = USED_ADDR + S.VIRTQ_USED_RING_OFFSET + (i % this.size) * S.VIRTQ_USED_ELEM_SIZE_BYTES;
    return { id: this.memory.read32(at + S.VIRTQ_USED_ELEM_ID_OFFSET), lengthBytes: this.memory.read32(at + S.VIRTQ_USED_ELEM_LEN_OFFSET) };
  }

  /** Forget descriptor positions (after a device reset, the driver starts over). */
  restart(): void {
    this.availIdx = 0;
    this.nextDesc = 0;
  }
}

export interface BuiltRequest {
  head: number;
  statusAddr: number;
  dataAddr: number;
}

/** A well-formed request: header | data (readable for OUT-like, writable for IN-like) | status. */
export function request(
  r: Rig,
  type: number,
  sector: number,
  data: { out?: Uint8Array; inBytes?: number } = {},
): BuiltRequest {
  const headerAddr = r.alloc.take(S.VIRTIO_BLK_REQ_HEADER_SIZE_BYTES);
  r.memory.write32(headerAddr + S.VIRTIO_BLK_REQ_TYPE_OFFSET, type);
  r.memory.write32(headerAddr + S.VIRTIO_BLK_REQ_RESERVED_OFFSET, 0);
  r.memory.write64(headerAddr + S.VIRTIO_BLK_REQ_SECTOR_OFFSET, sector);
  const descs: Desc[] = [{ addr: headerAddr, lengthBytes: S.VIRTIO_BLK_REQ_HEADER_SIZE_BYTES }];
  let dataAddr = -1;
  if (data.out !== undefined) {
    dataAddr = r.alloc.take(data.out.length);
    r.memory.bytes.set(data.out, dataAddr);
    descs.push({ addr: dataAddr, lengthBytes: data.out.length });
  }
  if (data.inBytes !== undefined) {
    dataAddr = r.alloc.take(data.inBytes);
    r.memory.bytes.fill(0xee, dataAddr, dataAddr + data.inBytes); // garbage the device must overwrite
    descs.push({ addr: dataAddr, lengthBytes: data.inBytes, writable: true });
  }
  const statusAddr = r.alloc.take(1, 1);
  r.memory.write8(statusAddr, 0xff);
  descs.push({ addr: statusAddr, lengthBytes: 1, writable: true });
  const head = r.q.chain(descs);
  r.q.publish(head);
  return { head, statusAddr, dataAddr };
}

/** Notifies queue 0 and lets the device run. */
export function kick(r: Rig): void {
  wr(r.dev, S.VIRTIO_MMIO_QUEUE_NOTIFY, 0);
  r.host.run();
}

export function pattern(lengthBytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(lengthBytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < lengthBytes; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export function segment(sector: number, sectorCount: number, flags = 0): Uint8Array {
  const out = new Uint8Array(S.VIRTIO_BLK_DWZ_SEGMENT_SIZE_BYTES);
  const view = new DataView(out.buffer);
  view.setUint32(S.VIRTIO_BLK_DWZ_SECTOR_OFFSET, sector % 2 ** 32, true);
  view.setUint32(S.VIRTIO_BLK_DWZ_SECTOR_OFFSET + 4, Math.floor(sector / 2 ** 32), true);
  view.setUint32(S.VIRTIO_BLK_DWZ_NUM_SECTORS_OFFSET, sectorCount, true);
  view.setUint32(S.VIRTIO_BLK_DWZ_FLAGS_OFFSET, flags, true);
  return out;
}

/** Index of the first differing byte, or -1 if equal (fast; toEqual on big arrays is slow). */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}
