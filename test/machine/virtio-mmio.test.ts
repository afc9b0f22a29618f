// The virtio-mmio transport driven register by register, with no driver (§4.2.2, §3.1).
import { describe, expect, it } from 'vitest';
import { BLK_DISCARD_SECTORS_MAX, BLK_DISCARD_SEG_MAX, BLK_SEG_MAX, BLK_SIZE_MAX_BYTES, BLK_WRITE_ZEROES_SECTORS_MAX,
  BLK_WRITE_ZEROES_SEG_MAX, MMIO_BASE_ADDR, VIRTIO_IRQ_LINE_FIRST, VIRTQUEUE_SIZE_MAX } from '../../kernel/limits.ts';
import type { DiskBackend } from '../../kernel/machine/disk/backend.ts';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { BLK_DISCARD_SECTOR_ALIGNMENT } from '../../kernel/machine/limits.ts';
import { Machine } from '../../kernel/machine/machine.ts';
import { SyncHost } from '../../kernel/machine/test-host.ts';
import * as S from '../../kernel/machine/virtio-spec.ts';
import { deviceFeatures, FULL_FEATURES, handshake, kick, rd, request, rig, setupQueue, wr, writeDriverFeatures } from './helpers.ts';

const SECTOR = 512;
const DISK_BYTES = 2048 * SECTOR;
const ACK_DRIVER = S.VIRTIO_STATUS_ACKNOWLEDGE | S.VIRTIO_STATUS_DRIVER;

function bare(disk: DiskBackend = new MemoryBackend(DISK_BYTES)) {
  const machine = new Machine({ memorySizeBytes: 4 * 1024 * 1024, disks: [disk] });
  const host = new SyncHost();
  machine.attach(host);
  return { machine, host, dev: machine.devices[0], transport: machine.transports[0] };
}

function cfg(dev: ReturnType<typeof bare>['dev'], offset: number, width: 1 | 2 | 4 = 4): number {
  return dev.mmio.read(S.VIRTIO_MMIO_CONFIG + offset, width);
}

describe('virtio-mmio identity and features', () => {
  it('reports magic, version 2, block device id, vendor, and queue sizes', () => {
    const { dev } = bare();
    expect(rd(dev, S.VIRTIO_MMIO_MAGIC_VALUE)).toBe(0x74726976);
    expect(rd(dev, S.VIRTIO_MMIO_VERSION)).toBe(2);
    expect(rd(dev, S.VIRTIO_MMIO_DEVICE_ID)).toBe(2);
    expect(rd(dev, S.VIRTIO_MMIO_VENDOR_ID)).toBe(S.STRATA_VIRTIO_VENDOR_ID);
    wr(dev, S.VIRTIO_MMIO_QUEUE_SEL, 0);
    expect(rd(dev, S.VIRTIO_MMIO_QUEUE_NUM_MAX)).toBe(VIRTQUEUE_SIZE_MAX);
    wr(dev, S.VIRTIO_MMIO_QUEUE_SEL, 1);
    expect(rd(dev, S.VIRTIO_MMIO_QUEUE_NUM_MAX)).toBe(0); // only one request queue without MQ
    expect(dev.base).toBe(MMIO_BASE_ADDR);
    expect(dev.irqLine).toBe(VIRTIO_IRQ_LINE_FIRST);
  });

  it('offers exactly VERSION_1, SIZE_MAX, SEG_MAX, BLK_SIZE, FLUSH, DISCARD, WRITE_ZEROES through the select registers', () => {
    const { dev } = bare();
    expect(deviceFeatures(dev)).toBe(FULL_FEATURES);
    wr(dev, S.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    expect(rd(dev, S.VIRTIO_MMIO_DEVICE_FEATURES)).toBe((1 << 1) | (1 << 2) | (1 << 6) | (1 << 9) | (1 << 13) | (1 << 14));
    wr(dev, S.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    expect(rd(dev, S.VIRTIO_MMIO_DEVICE_FEATURES)).toBe(1); // bit 32
    wr(dev, S.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
    expect(rd(dev, S.VIRTIO_MMIO_DEVICE_FEATURES)).toBe(0);
    const ro = bare(new MemoryBackend(DISK_BYTES, { readOnly: true }));
    expect(deviceFeatures(ro.dev)).toBe(FULL_FEATURES | S.featureBit(S.VIRTIO_BLK_F_RO));
  });
});

describe('virtio-mmio status handshake and feature negotiation (§3.1.1)', () => {
  it('runs the full handshake and negotiates the accepted subset', () => {
    const { dev, transport, machine } = bare();
    const accepted = S.featureBit(S.VIRTIO_F_VERSION_1) | S.featureBit(S.VIRTIO_BLK_F_FLUSH);
    const status = handshake(dev, accepted);
    expect(status).toBe(ACK_DRIVER | S.VIRTIO_STATUS_FEATURES_OK | S.VIRTIO_STATUS_DRIVER_OK);
    expect(transport.negotiatedFeatures).toBe(accepted);
    expect(machine.blockDevices[0].writeThrough).toBe(false);
    expect(transport.driverBugs).toEqual([]);
  });

  it.each([
    ['without VERSION_1', S.featureBit(S.VIRTIO_BLK_F_FLUSH), /VERSION_1/],
    ['with a feature not offered (MQ)', S.featureBit(S.VIRTIO_F_VERSION_1) | S.featureBit(S.VIRTIO_BLK_F_MQ), /not offered/],
    ['with INDIRECT_DESC, never offered', S.featureBit(S.VIRTIO_F_VERSION_1) | S.featureBit(S.VIRTIO_F_INDIRECT_DESC), /not offered/],
  ])('refuses FEATURES_OK %s, and then DRIVER_OK', (_name, features, reason) => {
    const { dev, transport } = bare();
    wr(dev, S.VIRTIO_MMIO_STATUS, 0);
    wr(dev, S.VIRTIO_MMIO_STATUS, S.VIRTIO_STATUS_ACKNOWLEDGE);
    wr(dev, S.VIRTIO_MMIO_STATUS, ACK_DRIVER);
    writeDriverFeatures(dev, features);
    wr(dev, S.VIRTIO_MMIO_STATUS, ACK_DRIVER | S.VIRTIO_STATUS_FEATURES_OK);
    expect(rd(dev, S.VIRTIO_MMIO_STATUS)).toBe(ACK_DRIVER); // §3.1.1 step 6: the bit did not stick
    expect(transport.driverBugs.at(-1)).toMatch(reason);
    wr(dev, S.VIRTIO_MMIO_STATUS, ACK_DRIVER | S.VIRTIO_STATUS_DRIVER_OK);
    expect(rd(dev, S.VIRTIO_MMIO_STATUS)).toBe(ACK_DRIVER);
    expect(transport.negotiatedFeatures).toBe(0n);
  });

  it('ignores feature words past 1, features written after FEATURES_OK, and reports status bits cleared', () => {
    const { dev, transport } = bare();
    wr(dev, S.VIRTIO_MMIO_STATUS, ACK_DRIVER);
    wr(dev, S.VIRTIO_MMIO_DRIVER_FEATURES_SEL, 2);
    wr(dev, S.VIRTIO_MMIO_DRIVER_FEATURES, 1);
    expect(transport.driverBugs.at(-1)).toMatch(/word 2 does not exist/);
    writeDriverFeatures(dev, S.featureBit(S.VIRTIO_F_VERSION_1));
    wr(dev, S.VIRTIO_MMIO_STATUS, ACK_DRIVER | S.VIRTIO_STATUS_FEATURES_OK);
    writeDriverFeatures(dev, FULL_FEATURES);
    expect(transport.driverBugs.at(-1)).toMatch(/after FEATURES_OK/);
    expect(transport.negotiatedFeatures).toBe(S.featureBit(S.VIRTIO_F_VERSION_1));
    wr(dev, S.VIRTIO_MMIO_STATUS, S.VIRTIO_STATUS_ACKNOWLEDGE);
    expect(transport.driverBugs.at(-1)).toMatch(/clears bits/);
    expect(rd(dev, S.VIRTIO_MMIO_STATUS)).toBe(ACK_DRIVER | S.VIRTIO_STATUS_FEATURES_OK);
  });

  it('writing 0 to Status resets status, features, queues and interrupt status', () => {
    const r = rig(new MemoryBackend(DISK_BYTES));
    request(r, S.VIRTIO_BLK_T_GET_ID, 0, { inBytes: 20 });
    kick(r);
    expect(rd(r.dev, S.VIRTIO_MMIO_INTERRUPT_STATUS)).toBe(S.VIRTIO_MMIO_INT_VRING);
    wr(r.dev, S.VIRTIO_MMIO_STATUS, 0);
    expect(rd(r.dev, S.VIRTIO_MMIO_STATUS)).toBe(0);
    expect(rd(r.dev, S.VIRTIO_MMIO_INTERRUPT_STATUS)).toBe(0);
    wr(r.dev, S.VIRTIO_MMIO_QUEUE_SEL, 0);
    expect(rd(r.dev, S.VIRTIO_MMIO_QUEUE_READY)).toBe(0);
    expect(r.machine.transports[0].negotiatedFeatures).toBe(0n);
  });

  it('a reset between a notify and its deferred run cancels that run', () => {
    const r = rig(new MemoryBackend(DISK_BYTES));
    const req = request(r, S.VIRTIO_BLK_T_GET_ID, 0, { inBytes: 20 });
    wr(r.dev, S.VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    wr(r.dev, S.VIRTIO_MMIO_STATUS, 0);
    expect(r.host.run()).toBe(1);
    expect(r.memory.read8(req.statusAddr)).toBe(0xff); // untouched
    expect(r.q.usedIdx()).toBe(0);
    expect(r.host.interrupts).toEqual([]);
  });
});

describe('virtio-mmio queue setup', () => {
  it('accepts only power-of-two QueueNum up to QueueNumMax', () => {
    const { dev, transport } = bare();
    wr(dev, S.VIRTIO_MMIO_QUEUE_SEL, 0);
    for (const bad of [0, 3, 100, 512]) {
      wr(dev, S.VIRTIO_MMIO_QUEUE_NUM, bad);
      expect(transport.driverBugs.at(-1)).toMatch(new RegExp(`QueueNum ${bad} `));
    }
    const before = transport.stats.driverBugs;
    wr(dev, S.VIRTIO_MMIO_QUEUE_NUM, 64);
    expect(transport.stats.driverBugs).toBe(before);
  });

  it('refuses queue addresses written while the queue is ready, and keeps using the old ones', () => {
    const r = rig(new MemoryBackend(DISK_BYTES));
    wr(r.dev, S.VIRTIO_MMIO_QUEUE_DESC_LOW, 0x8000);
    wr(r.dev, S.VIRTIO_MMIO_QUEUE_NUM, 16);
    expect(r.machine.transports[0].driverBugs.slice(-2).every((l) => /while queue 0 is ready/.test(l))).toBe(true);
    const req = request(r, S.VIRTIO_BLK_T_GET_ID, 0, { inBytes: 20 });
    kick(r);
    expect(r.memory.read8(req.statusAddr)).toBe(S.VIRTIO_BLK_S_OK);
  });

  it('a queue made ready with an unusable layout sets DEVICE_NEEDS_RESET', () => {
    const { dev, transport } = bare();
    wr(dev, S.VIRTIO_MMIO_STATUS, ACK_DRIVER);
    writeDriverFeatures(dev, S.featureBit(S.VIRTIO_F_VERSION_1));
    wr(dev, S.VIRTIO_MMIO_STATUS, ACK_DRIVER | S.VIRTIO_STATUS_FEATURES_OK);
    setupQueue(dev, 256, { desc: 0x1008, avail: 0x2000, used: 0x3000 }); // descriptor table not 16-aligned
    expect(rd(dev, S.VIRTIO_MMIO_STATUS) & S.VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBe(S.VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    expect(transport.driverBugs.at(-1)).toMatch(/16-byte aligned/);
    wr(dev, S.VIRTIO_MMIO_STATUS, 0);
    setupQueue(dev, 256, { desc: 0x1000, avail: 0x2000, used: 4 * 1024 * 1024 - 16 }); // used ring past the end
    expect(rd(dev, S.VIRTIO_MMIO_STATUS) & S.VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBe(S.VIRTIO_STATUS_DEVICE_NEEDS_RESET);
  });

  it('ignores notifies before DRIVER_OK, for missing queues, and for queues not ready', () => {
    const { dev, transport, host } = bare();
    wr(dev, S.VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    expect(transport.driverBugs.at(-1)).toMatch(/before DRIVER_OK/);
    handshake(dev, FULL_FEATURES);
    wr(dev, S.VIRTIO_MMIO_QUEUE_NOTIFY, 3);
    expect(transport.driverBugs.at(-1)).toMatch(/queue 3, which does not exist/);
    wr(dev, S.VIRTIO_MMIO_QUEUE_READY, 0);
    wr(dev, S.VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    expect(transport.driverBugs.at(-1)).toMatch(/not ready/);
    expect(host.pendingWork).toBe(0);
  });
});

describe('virtio-mmio config space, generation and interrupts', () => {
  it('fills a config field for every offered feature (§5.2.4)', () => {
    const { dev, transport } = bare();
    expect(cfg(dev, S.VIRTIO_BLK_CFG_CAPACITY)).toBe(DISK_BYTES / SECTOR);
    expect(cfg(dev, S.VIRTIO_BLK_CFG_CAPACITY + 4)).toBe(0);
    expect(cfg(dev, S.VIRTIO_BLK_CFG_SIZE_MAX)).toBe(BLK_SIZE_MAX_BYTES);
    expect(cfg(dev, S.VIRTIO_BLK_CFG_SEG_MAX)).toBe(BLK_SEG_MAX);
    expect(cfg(dev, S.VIRTIO_BLK_CFG_BLK_SIZE)).toBe(512);
    expect(cfg(dev, S.VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS)).toBe(BLK_DISCARD_SECTORS_MAX);
    expect(cfg(dev, S.VIRTIO_BLK_CFG_MAX_DISCARD_SEG)).toBe(BLK_DISCARD_SEG_MAX);
    expect(cfg(dev, S.VIRTIO_BLK_CFG_DISCARD_SECTOR_ALIGNMENT)).toBe(BLK_DISCARD_SECTOR_ALIGNMENT);
    expect(cfg(dev, S.VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS)).toBe(BLK_WRITE_ZEROES_SECTORS_MAX);
    expect(cfg(dev, S.VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG)).toBe(BLK_WRITE_ZEROES_SEG_MAX);
    expect(cfg(dev, S.VIRTIO_BLK_CFG_WRITE_ZEROES_MAY_UNMAP, 1)).toBe(0);
    expect(transport.driverBugs).toEqual([]);
    // capacity is a u64: a 4 TiB + 1 sector disk (a stub: the device never touches it here)
    const sizeBytes = 2 ** 42 + SECTOR;
    const never = () => {
      throw new Error('not used');
    };
    const big = bare({ kind: 'stub', sizeBytes, read: never, write: never, flush: never, discard: never, close: never });
    expect(cfg(big.dev, S.VIRTIO_BLK_CFG_CAPACITY)).toBe(1);
    expect(cfg(big.dev, S.VIRTIO_BLK_CFG_CAPACITY + 4)).toBe(2); // 2^33 + 1 sectors: high word 2, low word 1
  });

  it('reports, but answers, config reads of un-offered fields or with the wrong width; refuses writes', () => {
    const { dev, transport } = bare();
    expect(cfg(dev, S.VIRTIO_BLK_CFG_GEOMETRY_CYLINDERS, 2)).toBe(0);
    expect(transport.driverBugs.at(-1)).toMatch(/geometry.cylinders belongs to feature 4/);
    expect(cfg(dev, S.VIRTIO_BLK_CFG_SEG_MAX, 2)).toBe(BLK_SEG_MAX & 0xffff);
    expect(transport.driverBugs.at(-1)).toMatch(/2-byte access to 4-byte field seg_max/);
    dev.mmio.write(S.VIRTIO_MMIO_CONFIG + S.VIRTIO_BLK_CFG_BLK_SIZE, 4, 4096);
    expect(transport.driverBugs.at(-1)).toMatch(/read-only/);
    expect(cfg(dev, S.VIRTIO_BLK_CFG_BLK_SIZE)).toBe(512);
  });

  it('keeps ConfigGeneration stable, and bumps it with a config interrupt on a change', () => {
    const r = rig(new MemoryBackend(DISK_BYTES));
    const g0 = rd(r.dev, S.VIRTIO_MMIO_CONFIG_GENERATION);
    cfg(r.dev, S.VIRTIO_BLK_CFG_CAPACITY);
    expect(rd(r.dev, S.VIRTIO_MMIO_CONFIG_GENERATION)).toBe(g0);
    r.machine.transports[0].configChanged();
    expect(rd(r.dev, S.VIRTIO_MMIO_CONFIG_GENERATION)).toBe(g0 + 1);
    expect(rd(r.dev, S.VIRTIO_MMIO_INTERRUPT_STATUS)).toBe(S.VIRTIO_MMIO_INT_CONFIG);
    expect(r.host.takeInterrupts()).toEqual([VIRTIO_IRQ_LINE_FIRST]);
  });

  it('raises the used-buffer interrupt, keeps InterruptStatus until ACK, and honours NO_INTERRUPT', () => {
    const r = rig(new MemoryBackend(DISK_BYTES));
    request(r, S.VIRTIO_BLK_T_GET_ID, 0, { inBytes: 20 });
    kick(r);
    expect(r.host.takeInterrupts()).toEqual([VIRTIO_IRQ_LINE_FIRST]);
    expect(rd(r.dev, S.VIRTIO_MMIO_INTERRUPT_STATUS)).toBe(S.VIRTIO_MMIO_INT_VRING);
    expect(rd(r.dev, S.VIRTIO_MMIO_INTERRUPT_STATUS)).toBe(S.VIRTIO_MMIO_INT_VRING);
    wr(r.dev, S.VIRTIO_MMIO_INTERRUPT_ACK, S.VIRTIO_MMIO_INT_VRING);
    expect(rd(r.dev, S.VIRTIO_MMIO_INTERRUPT_STATUS)).toBe(0);
    r.q.setAvailFlags(S.VIRTQ_AVAIL_F_NO_INTERRUPT);
    const req = request(r, S.VIRTIO_BLK_T_GET_ID, 0, { inBytes: 20 });
    kick(r);
    expect(r.memory.read8(req.statusAddr)).toBe(S.VIRTIO_BLK_S_OK); // done...
    expect(r.host.interrupts).toEqual([]); // ...but not announced
    expect(rd(r.dev, S.VIRTIO_MMIO_INTERRUPT_STATUS)).toBe(0);
  });
});

describe('virtio-mmio never throws at a driver', () => {
  it('logs and ignores wrong widths, unknown registers, wrong directions, and odd values', () => {
    const { dev, transport } = bare();
    const attempts: [string, () => number | void][] = [
      ['16-bit register read', () => dev.mmio.read(S.VIRTIO_MMIO_MAGIC_VALUE, 2)],
      ['8-bit register write', () => dev.mmio.write(S.VIRTIO_MMIO_STATUS, 1, 1)],
      ['unaligned register read', () => dev.mmio.read(S.VIRTIO_MMIO_MAGIC_VALUE + 2, 4)],
      ['unknown register read', () => dev.mmio.read(0x0f0, 4)],
      ['unknown register write', () => dev.mmio.write(0x0c0, 4, 1)],
      ['read of write-only QueueNotify', () => dev.mmio.read(S.VIRTIO_MMIO_QUEUE_NOTIFY, 4)],
      ['write of read-only MagicValue', () => dev.mmio.write(S.VIRTIO_MMIO_MAGIC_VALUE, 4, 0)],
      ['read past the config space', () => dev.mmio.read(0x800, 4)],
      ['negative offset', () => dev.mmio.read(-4, 4)],
      ['width 3', () => dev.mmio.read(S.VIRTIO_MMIO_CONFIG, 3 as 4)],
      ['value too wide', () => dev.mmio.write(S.VIRTIO_MMIO_STATUS, 4, 2 ** 32)],
      ['fractional value', () => dev.mmio.write(S.VIRTIO_MMIO_STATUS, 4, 1.5)],
      ['unaligned config read', () => dev.mmio.read(S.VIRTIO_MMIO_CONFIG + 1, 2)],
    ];
    for (const [name, attempt] of attempts) {
      const before = transport.stats.driverBugs;
      const value = attempt();
      if (value !== undefined) expect(value, name).toBe(0);
      expect(transport.stats.driverBugs, name).toBe(before + 1);
    }
    expect(rd(dev, S.VIRTIO_MMIO_STATUS)).toBe(0);
    expect(rd(dev, S.VIRTIO_MMIO_MAGIC_VALUE)).toBe(S.VIRTIO_MMIO_MAGIC);
  });
});
