// The device side of a split virtqueue, without the transport (§2.7).
import { describe, expect, it } from 'vitest';
import { MemoryFault, PhysicalMemory } from '../../kernel/machine/physical-memory.ts';
import { ChainError, DeviceVirtqueue } from '../../kernel/machine/virtqueue.ts';
import * as S from '../../kernel/machine/virtio-spec.ts';

const DESC = 0x1000;
const AVAIL = 0x2000;
const USED = 0x3000;

function setup(sizeEntries: number) {
  const memory = new PhysicalMemory(64 * 1024);
  const vq = new DeviceVirtqueue(memory, { sizeEntries, descAddr: DESC, availAddr: AVAIL, usedAddr: USED });
  let availIdx = 0;
  const publish = (head: number) => {
    memory.write16(AVAIL + S.VIRTQ_AVAIL_RING_OFFSET + (availIdx % sizeEntries) * 2, head);
    availIdx = (availIdx + 1) & 0xffff;
    memory.write16(AVAIL + S.VIRTQ_AVAIL_IDX_OFFSET, availIdx);
  };
  const desc = (i: number, addr: number, len: number, flags: number, next = 0) => {
    memory.write64(DESC + 16 * i, addr);
    memory.write32(DESC + 16 * i + 8, len);
    memory.write16(DESC + 16 * i + 12, flags);
    memory.write16(DESC + 16 * i + 14, next);
  };
  return { memory, vq, publish, desc };
}

function chainError(fn: () => unknown): ChainError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ChainError) return err;
    throw err;
  }
  throw new Error('expected a ChainError');
}

describe('DeviceVirtqueue', () => {
  it('pops available heads in order, reads chains, and publishes used elements', () => {
    const { memory, vq, publish, desc } = setup(4);
    desc(2, 0x8000, 16, S.VIRTQ_DESC_F_NEXT, 3);
    desc(3, 0x9000, 1, S.VIRTQ_DESC_F_WRITE);
    expect(vq.popAvail()).toBeNull();
    publish(2);
    expect(vq.pendingAvail()).toBe(1);
    expect(vq.popAvail()).toBe(2);
    expect(vq.readChain(2)).toEqual([
      { addr: 0x8000, lengthBytes: 16, writable: false },
      { addr: 0x9000, lengthBytes: 1, writable: true },
    ]);
    expect(vq.inFlight).toBe(1);
    vq.pushUsed(2, 1);
    expect(memory.read16(USED + S.VIRTQ_USED_IDX_OFFSET)).toBe(1);
    expect(memory.read32(USED + S.VIRTQ_USED_RING_OFFSET)).toBe(2);
    expect(memory.read32(USED + S.VIRTQ_USED_RING_OFFSET + 4)).toBe(1);
    expect(() => vq.pushUsed(2, 1)).toThrow(/pushed more than popped/);
  });

  it('free-running indices wrap at 65536 in both rings', () => {
    const { memory, vq, publish, desc } = setup(2);
    desc(0, 0x8000, 1, S.VIRTQ_DESC_F_WRITE);
    for (let i = 0; i < 65536 + 5; i++) {
      publish(0);
      expect(vq.popAvail()).toBe(0);
      vq.pushUsed(0, i % 100);
    }
    expect(vq.usedIndex).toBe(5);
    expect(memory.read16(USED + S.VIRTQ_USED_IDX_OFFSET)).toBe(5);
    expect(memory.read32(USED + S.VIRTQ_USED_RING_OFFSET + 8 * ((65536 + 4) % 2) + 4)).toBe((65536 + 4) % 100);
  });

  it('a chain is as long as the queue allows, and no longer', () => {
    const { vq, desc } = setup(8);
    for (let i = 0; i < 8; i++) desc(i, 0x8000 + i * 16, 16, i < 7 ? S.VIRTQ_DESC_F_NEXT : 0, i + 1);
    expect(vq.readChain(0).length).toBe(8);
    desc(7, 0x8000, 16, S.VIRTQ_DESC_F_NEXT, 0);
    expect(chainError(() => vq.readChain(0)).reason).toBe('loop');
    expect(chainError(() => vq.readChain(8)).reason).toBe('head-out-of-range');
  });

  it('refuses rings that are misaligned, outside memory, or of a bad size', () => {
    const memory = new PhysicalMemory(64 * 1024);
    const make = (sizeEntries: number, descAddr: number, availAddr: number, usedAddr: number) =>
      chainError(() => new DeviceVirtqueue(memory, { sizeEntries, descAddr, availAddr, usedAddr })).reason;
    expect(make(3, DESC, AVAIL, USED)).toBe('ring-layout');
    expect(make(4, DESC + 8, AVAIL, USED)).toBe('ring-layout');
    expect(make(4, DESC, AVAIL + 1, USED)).toBe('ring-layout');
    expect(make(4, DESC, AVAIL, USED + 2)).toBe('ring-layout');
    expect(make(4, DESC, AVAIL, 64 * 1024 - 8)).toBe('ring-layout');
    // the minimum alignments are enough
    expect(() => new DeviceVirtqueue(memory, { sizeEntries: 4, descAddr: 0x10, availAddr: 0x102, usedAddr: 0x204 })).not.toThrow();
  });

  it('reports NO_INTERRUPT from avail.flags', () => {
    const { memory, vq } = setup(4);
    expect(vq.interruptSuppressed).toBe(false);
    memory.write16(AVAIL + S.VIRTQ_AVAIL_FLAGS_OFFSET, S.VIRTQ_AVAIL_F_NO_INTERRUPT);
    expect(vq.interruptSuppressed).toBe(true);
  });

  it('ring indices go through checked, aligned, little-endian atomic accessors', () => {
    const memory = new PhysicalMemory(4096);
    memory.store16Release(0x10, 0x1_2345); // truncated to u16
    expect(memory.read16(0x10)).toBe(0x2345);
    expect(memory.bytes[0x10]).toBe(0x45);
    memory.write16(0x20, 0xbeef);
    expect(memory.load16Acquire(0x20)).toBe(0xbeef);
    expect(() => memory.load16Acquire(0x21)).toThrow(MemoryFault);
    expect(() => memory.store16Release(4096, 1)).toThrow(MemoryFault);
  });
});
