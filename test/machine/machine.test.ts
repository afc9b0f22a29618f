// The machine: device map, interrupt lines, host attachment, and the MMIO bus.
import { describe, expect, it } from 'vitest';
import { MMIO_BASE_ADDR, MMIO_WINDOW_SIZE_BYTES, VIRTIO_IRQ_LINE_FIRST } from '../../kernel/limits.ts';
import { FaultyBackend } from '../../kernel/machine/disk/faulty.ts';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { Machine } from '../../kernel/machine/machine.ts';
import { SyncHost } from '../../kernel/machine/test-host.ts';
import * as S from '../../kernel/machine/virtio-spec.ts';
import { FULL_FEATURES, handshake, HandQueue, BumpAlloc, request } from './helpers.ts';

const MEMORY = 4 * 1024 * 1024;

describe('Machine', () => {
  it('maps disk i at MMIO_BASE_ADDR + i * window, irq FIRST + i, named virtio-blk{i}', () => {
    const machine = new Machine({ memorySizeBytes: MEMORY, disks: [new MemoryBackend(4096), new FaultyBackend(8192), new MemoryBackend(512)] });
    expect(machine.devices.map((d) => [d.name, d.base, d.sizeBytes, d.irqLine])).toEqual([
      ['virtio-blk0', MMIO_BASE_ADDR, MMIO_WINDOW_SIZE_BYTES, VIRTIO_IRQ_LINE_FIRST],
      ['virtio-blk1', MMIO_BASE_ADDR + MMIO_WINDOW_SIZE_BYTES, MMIO_WINDOW_SIZE_BYTES, VIRTIO_IRQ_LINE_FIRST + 1],
      ['virtio-blk2', MMIO_BASE_ADDR + 2 * MMIO_WINDOW_SIZE_BYTES, MMIO_WINDOW_SIZE_BYTES, VIRTIO_IRQ_LINE_FIRST + 2],
    ]);
    expect(machine.device(MMIO_BASE_ADDR + MMIO_WINDOW_SIZE_BYTES)).toBe(machine.devices[1]);
    expect(() => machine.device(MMIO_BASE_ADDR + 3 * MMIO_WINDOW_SIZE_BYTES)).toThrow(/no device is mapped/);
    expect(() => machine.device(MMIO_BASE_ADDR + 4)).toThrow(RangeError);
    expect(machine.memory.sizeBytes).toBe(MEMORY);
    // capacity of disk 1 through the bus
    expect(machine.mmioRead(MMIO_BASE_ADDR + MMIO_WINDOW_SIZE_BYTES + S.VIRTIO_MMIO_CONFIG, 4)).toBe(16);
  });

  it('the MMIO bus reads unmapped addresses as 0 and drops writes, never throwing', () => {
    const reports: string[] = [];
    const machine = new Machine({ memorySizeBytes: MEMORY, disks: [new MemoryBackend(4096)], onDriverBug: (l) => reports.push(l) });
    expect(machine.mmioRead(MMIO_BASE_ADDR, 4)).toBe(S.VIRTIO_MMIO_MAGIC);
    expect(machine.mmioRead(0x1234, 4)).toBe(0);
    expect(() => machine.mmioWrite(MMIO_BASE_ADDR + MMIO_WINDOW_SIZE_BYTES, 4, 1)).not.toThrow();
    expect(machine.unmappedAccesses.length).toBe(2);
    machine.mmioRead(MMIO_BASE_ADDR + 2, 4); // mapped but unaligned: the transport reports it
    expect(reports.length).toBe(3);
    expect(reports[2]).toMatch(/virtio-blk0: driver bug/);
  });

  it('uses one GET_ID serial per disk, and checks the serials', () => {
    expect(() => new Machine({ memorySizeBytes: MEMORY, disks: [new MemoryBackend(512)], diskSerials: ['x'.repeat(21)] })).toThrow(RangeError);
    expect(() => new Machine({ memorySizeBytes: MEMORY, disks: [], diskSerials: ['a'] })).toThrow(RangeError);
    const machine = new Machine({ memorySizeBytes: MEMORY, disks: [new MemoryBackend(512), new MemoryBackend(512)] });
    expect(new TextDecoder().decode(machine.blockDevices[1].serialBytes).replace(/\0+$/, '')).toBe('strata-disk1');
  });

  it('holds deferred work and interrupts until a host attaches, then delivers them in order', () => {
    const machine = new Machine({ memorySizeBytes: MEMORY, disks: [new MemoryBackend(64 * 512)] });
    const dev = machine.devices[0];
    handshake(dev, FULL_FEATURES);
    const r = { machine, host: new SyncHost(), dev, memory: machine.memory, q: new HandQueue(machine.memory, 256), alloc: new BumpAlloc(machine.memory) };
    const req = request(r, S.VIRTIO_BLK_T_GET_ID, 0, { inBytes: 20 });
    dev.mmio.write(S.VIRTIO_MMIO_QUEUE_NOTIFY, 4, 0);
    expect(machine.memory.read8(req.statusAddr)).toBe(0xff); // nothing ran yet
    machine.attach(r.host);
    expect(machine.attached).toBe(true);
    expect(r.host.pendingWork).toBe(1);
    expect(r.host.run()).toBe(1);
    expect(machine.memory.read8(req.statusAddr)).toBe(S.VIRTIO_BLK_S_OK);
    expect(r.host.interrupts).toEqual([VIRTIO_IRQ_LINE_FIRST]);
    expect(() => machine.attach(new SyncHost())).toThrow(/already attached/);
  });

  it('two disks raise their own interrupt lines', () => {
    const machine = new Machine({ memorySizeBytes: MEMORY, disks: [new MemoryBackend(512), new MemoryBackend(512)] });
    const host = new SyncHost();
    machine.attach(host);
    machine.transports[1].reset();
    handshake(machine.devices[1], FULL_FEATURES);
    machine.transports[1].configChanged();
    machine.transports[0].configChanged(); // disk 0 is not DRIVER_OK: no interrupt
    expect(host.interrupts).toEqual([VIRTIO_IRQ_LINE_FIRST + 1]);
  });
});

describe('SyncHost', () => {
  it('runs work that enqueues more work, and stops a runaway loudly', () => {
    const host = new SyncHost();
    const order: number[] = [];
    host.defer(() => {
      order.push(1);
      host.defer(() => order.push(3));
    });
    host.defer(() => order.push(2));
    expect(host.run()).toBe(3);
    expect(order).toEqual([1, 2, 3]);
    const forever = () => host.defer(forever);
    host.defer(forever);
    expect(() => host.run()).toThrow(/never settles/);
  });
});
