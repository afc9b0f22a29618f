// Malformed rings and chains: the device sets DEVICE_NEEDS_RESET (§2.1.2), raises a config
// interrupt, stops, and works again after a reset. Nothing ever throws out of the machine.
import { describe, expect, it } from 'vitest';
import { VIRTIO_IRQ_LINE_FIRST } from '../../kernel/limits.ts';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import * as S from '../../kernel/machine/virtio-spec.ts';
import { AVAIL_ADDR, DESC_ADDR, FULL_FEATURES, handshake, kick, MEMORY_SIZE_BYTES, rd, request, rig, wr } from './helpers.ts';
import type { Rig } from './helpers.ts';

const SECTOR = 512;
const DISK_BYTES = 1024 * SECTOR;
const NEEDS_RESET = S.VIRTIO_STATUS_DEVICE_NEEDS_RESET;

/** Builds the bad chain, notifies, and checks the whole NEEDS_RESET story including recovery. */
function expectNeedsReset(build: (r: Rig) => void, reason: RegExp): void {
  const r = rig(new MemoryBackend(DISK_BYTES));
  const statusBefore = rd(r.dev, S.VIRTIO_MMIO_STATUS);
  build(r);
  expect(() => kick(r)).not.toThrow();
  expect(rd(r.dev, S.VIRTIO_MMIO_STATUS)).toBe(statusBefore | NEEDS_RESET);
  expect(rd(r.dev, S.VIRTIO_MMIO_INTERRUPT_STATUS) & S.VIRTIO_MMIO_INT_CONFIG).toBe(S.VIRTIO_MMIO_INT_CONFIG);
  expect(r.host.takeInterrupts()).toEqual([VIRTIO_IRQ_LINE_FIRST]);
  expect(r.machine.transports[0].driverBugs.at(-1)).toMatch(reason);
  expect(r.q.usedIdx()).toBe(0); // nothing answered for the bad chain
  // Stopped: a good request is not processed until reset.
  const ignored = request(r, S.VIRTIO_BLK_T_GET_ID, 0, { inBytes: 20 });
  kick(r);
  expect(r.memory.read8(ignored.statusAddr)).toBe(0xff);
  // Reset, handshake again over zeroed rings, and the device works.
  wr(r.dev, S.VIRTIO_MMIO_STATUS, 0);
  expect(rd(r.dev, S.VIRTIO_MMIO_STATUS)).toBe(0);
  r.memory.bytes.fill(0, DESC_ADDR, 0x4000);
  r.q.restart();
  r.alloc.reset();
  handshake(r.dev, FULL_FEATURES);
  const good = request(r, S.VIRTIO_BLK_T_GET_ID, 0, { inBytes: 20 });
  kick(r);
  expect(r.memory.read8(good.statusAddr)).toBe(S.VIRTIO_BLK_S_OK);
  expect(r.q.usedIdx()).toBe(1);
}

function header(r: Rig, type: number): number {
  const addr = r.alloc.take(16);
  r.memory.write32(addr, type);
  return addr;
}

describe('malformed chains set DEVICE_NEEDS_RESET, and a reset recovers', () => {
  it('a descriptor loop', () => {
    expectNeedsReset((r) => {
      const h = header(r, S.VIRTIO_BLK_T_IN);
      r.q.writeDesc(0, h, 16, S.VIRTQ_DESC_F_NEXT, 1);
      r.q.writeDesc(1, r.alloc.take(SECTOR), SECTOR, S.VIRTQ_DESC_F_NEXT | S.VIRTQ_DESC_F_WRITE, 0);
      r.q.publish(0);
    }, /loop/);
  });

  it('a next index beyond the queue size', () => {
    expectNeedsReset((r) => {
      r.q.writeDesc(0, header(r, S.VIRTIO_BLK_T_IN), 16, S.VIRTQ_DESC_F_NEXT, 300);
      r.q.publish(0);
    }, /next-out-of-range/);
  });

  it('a buffer address outside physical memory (and one whose u64 does not fit a number)', () => {
    expectNeedsReset((r) => {
      r.q.chain([{ addr: header(r, S.VIRTIO_BLK_T_IN), lengthBytes: 16 }, { addr: MEMORY_SIZE_BYTES - 100, lengthBytes: SECTOR, writable: true }]);
      r.q.publish(0);
    }, /outside memory/);
    expectNeedsReset((r) => {
      r.q.chain([{ addr: header(r, S.VIRTIO_BLK_T_IN), lengthBytes: 16 }, { addr: 0, lengthBytes: 1, writable: true }]);
      r.memory.write32(DESC_ADDR + 16 + 4, 0xffff_ffff); // high word of descriptor 1's address
      r.q.publish(0);
    }, /does not fit/);
  });

  it('a missing status descriptor', () => {
    expectNeedsReset((r) => {
      r.q.publish(r.q.chain([{ addr: header(r, S.VIRTIO_BLK_T_OUT), lengthBytes: 16 }, { addr: r.alloc.take(SECTOR), lengthBytes: SECTOR }]));
    }, /status byte/);
  });

  it('the status byte in a device-readable buffer', () => {
    expectNeedsReset((r) => {
      r.q.publish(r.q.chain([{ addr: header(r, S.VIRTIO_BLK_T_FLUSH), lengthBytes: 16 }, { addr: r.alloc.take(1), lengthBytes: 1 }]));
    }, /status byte/);
  });

  it('the INDIRECT flag (VIRTIO_F_INDIRECT_DESC is never offered) and unknown flags', () => {
    expectNeedsReset((r) => {
      r.q.publish(r.q.chain([{ addr: header(r, S.VIRTIO_BLK_T_IN), lengthBytes: 16, extraFlags: S.VIRTQ_DESC_F_INDIRECT }, { addr: r.alloc.take(1), lengthBytes: 1, writable: true }]));
    }, /INDIRECT/);
    expectNeedsReset((r) => {
      r.q.publish(r.q.chain([{ addr: header(r, S.VIRTIO_BLK_T_IN), lengthBytes: 16, extraFlags: 0x80 }, { addr: r.alloc.take(1), lengthBytes: 1, writable: true }]));
    }, /unknown flags/);
  });

  it('an available-ring head beyond the queue size', () => {
    expectNeedsReset((r) => {
      r.memory.write16(AVAIL_ADDR + S.VIRTQ_AVAIL_RING_OFFSET, 999);
      r.memory.write16(AVAIL_ADDR + S.VIRTQ_AVAIL_IDX_OFFSET, 1);
    }, /head-out-of-range/);
  });

  it('avail.idx moved further than the queue size', () => {
    expectNeedsReset((r) => {
      r.memory.write16(AVAIL_ADDR + S.VIRTQ_AVAIL_IDX_OFFSET, 257);
    }, /avail-index/);
  });

  it('good requests before the bad chain are still answered and announced', () => {
    const r = rig(new MemoryBackend(DISK_BYTES));
    const good = request(r, S.VIRTIO_BLK_T_GET_ID, 0, { inBytes: 20 });
    r.q.writeDesc(10, header(r, S.VIRTIO_BLK_T_IN), 16, S.VIRTQ_DESC_F_NEXT, 10);
    r.q.publish(10);
    kick(r);
    expect(r.memory.read8(good.statusAddr)).toBe(S.VIRTIO_BLK_S_OK);
    expect(r.q.usedIdx()).toBe(1);
    expect(rd(r.dev, S.VIRTIO_MMIO_INTERRUPT_STATUS)).toBe(S.VIRTIO_MMIO_INT_VRING | S.VIRTIO_MMIO_INT_CONFIG);
    expect(rd(r.dev, S.VIRTIO_MMIO_STATUS) & NEEDS_RESET).toBe(NEEDS_RESET);
  });
});
