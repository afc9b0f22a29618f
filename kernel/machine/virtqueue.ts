/**
 * The DEVICE side of one split virtqueue (virtio 1.x §2.7), over physical memory.
 *
 * Offers: `popAvail()` (next chain head the driver made available, or null),
 * `readChain(head)` (the chain's buffers, validated), `pushUsed(head, lenBytes)`
 * (return a chain to the driver), and `interruptSuppressed` (avail.flags NO_INTERRUPT).
 * No VIRTIO_F_INDIRECT_DESC and no VIRTIO_F_EVENT_IDX: the device never offers them.
 *
 * Everything in guest memory is guest-controlled, so every walk is bounded and every
 * inconsistency is a typed ChainError (never an unchecked access, never a hang):
 * a loop, a `next` >= queue size, a buffer outside memory, a chain longer than
 * DESCRIPTOR_CHAIN_LENGTH_MAX or 2^32 bytes (§2.7.5.2), the INDIRECT flag (not
 * negotiated, §2.7.5.3.1) or an unknown flag, a head >= queue size, or an avail.idx that
 * moved more than the queue size past what the device consumed. The transport answers
 * a ChainError with DEVICE_NEEDS_RESET (§2.1.2).
 *
 * Invariants: the device owns used.idx and its local copy is the truth (it never reads
 * it back); it never pushes more chains than it popped; it writes a used element
 * before it publishes it by storing used.idx (§2.7.8.2 "MUST set len prior to updating
 * the used idx"), and it reads avail.idx before the ring entries it covers (§2.7.13.3).
 * Both indices are accessed with Atomics (PhysicalMemory.load16Acquire/store16Release).
 * The device never writes the descriptor table or the available ring (§2.7.5.1).
 */

import { DESCRIPTOR_CHAIN_LENGTH_MAX } from '../limits.ts';
import { hex, MemoryFault } from './physical-memory.ts';
import type { PhysicalMemory } from './physical-memory.ts';
import {
  isValidQueueSize,
  VIRTQ_AVAIL_ALIGN_BYTES,
  VIRTQ_AVAIL_ELEM_SIZE_BYTES,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_AVAIL_FLAGS_OFFSET,
  VIRTQ_AVAIL_IDX_OFFSET,
  VIRTQ_AVAIL_RING_OFFSET,
  VIRTQ_DESC_ADDR_OFFSET,
  VIRTQ_DESC_ALIGN_BYTES,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_DESC_FLAGS_OFFSET,
  VIRTQ_DESC_LEN_OFFSET,
  VIRTQ_DESC_NEXT_OFFSET,
  VIRTQ_DESC_SIZE_BYTES,
  VIRTQ_USED_ALIGN_BYTES,
  VIRTQ_USED_ELEM_ID_OFFSET,
  VIRTQ_USED_ELEM_LEN_OFFSET,
  VIRTQ_USED_ELEM_SIZE_BYTES,
  VIRTQ_USED_IDX_OFFSET,
  VIRTQ_USED_RING_OFFSET,
  virtqAvailSizeBytes,
  virtqDescTableSizeBytes,
  virtqUsedSizeBytes,
} from './virtio-spec.ts';

export type ChainErrorReason =
  | 'ring-layout' // queue size or ring addresses unusable
  | 'avail-index' // avail.idx ran more than a queue ahead of the device
  | 'head-out-of-range'
  | 'next-out-of-range'
  | 'loop'
  | 'too-long'
  | 'address' // a buffer outside physical memory
  | 'indirect'
  | 'flags'
  | 'framing'; // the device cannot find where to answer (e.g. no status byte)

/** A guest structure the device cannot use; the device needs a reset. */
export class ChainError extends Error {
  constructor(
    readonly reason: ChainErrorReason,
    /** The chain's head, or -1 when no chain was involved. */
    readonly head: number,
    detail: string,
  ) {
    super(`malformed virtqueue (${reason}${head >= 0 ? `, head ${head}` : ''}): ${detail}`);
    this.name = 'ChainError';
  }
}

/** One buffer of a chain. */
export interface ChainBuffer {
  readonly addr: number;
  readonly lengthBytes: number;
  /** Device-writable (VIRTQ_DESC_F_WRITE); otherwise device-readable. */
  readonly writable: boolean;
}

export interface QueueAddresses {
  readonly sizeEntries: number;
  /** Descriptor Area (QueueDesc). */
  readonly descAddr: number;
  /** Driver Area: the available ring (QueueDriver). */
  readonly availAddr: number;
  /** Device Area: the used ring (QueueDevice). */
  readonly usedAddr: number;
}

const KNOWN_DESC_FLAGS = VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_INDIRECT;
const CHAIN_BYTES_MAX = 2 ** 32;

export class DeviceVirtqueue {
  readonly sizeEntries: number;
  private lastAvailIdx = 0; // free-running u16: next avail entry to consume
  private usedIdx = 0; // free-running u16: next used entry to fill
  private readonly visitMarks: Uint32Array; // visitMarks[i] === walkId: descriptor i seen in this walk
  private walkId = 0;

  /** Throws ChainError('ring-layout') unless size and the three areas are valid (§2.7 table). */
  constructor(
    private readonly memory: PhysicalMemory,
    readonly addresses: QueueAddresses,
  ) {
    const { sizeEntries, descAddr, availAddr, usedAddr } = addresses;
    if (!isValidQueueSize(sizeEntries)) throw new ChainError('ring-layout', -1, `queue size ${sizeEntries} is not a power of two in [1, 32768]`);
    const parts = [
      ['descriptor table', descAddr, VIRTQ_DESC_ALIGN_BYTES, virtqDescTableSizeBytes(sizeEntries)],
      ['available ring', availAddr, VIRTQ_AVAIL_ALIGN_BYTES, virtqAvailSizeBytes(sizeEntries)],
      ['used ring', usedAddr, VIRTQ_USED_ALIGN_BYTES, virtqUsedSizeBytes(sizeEntries)],
    ] as const;
    for (const [name, addr, alignBytes, sizeBytes] of parts) {
      if (!Number.isSafeInteger(addr) || addr % alignBytes !== 0) {
        throw new ChainError('ring-layout', -1, `${name} at ${hex(addr)} is not ${alignBytes}-byte aligned`);
      }
      if (!this.inside(addr, sizeBytes)) throw new ChainError('ring-layout', -1, `${name} [${hex(addr)}, +${sizeBytes}) is outside memory`);
    }
    this.sizeEntries = sizeEntries;
    this.visitMarks = new Uint32Array(sizeEntries);
  }

  /** Chains popped so far (free-running u16, like avail.idx). */
  get availConsumed(): number {
    return this.lastAvailIdx;
  }

  /** Used entries published so far (free-running u16, equal to used.idx in memory). */
  get usedIndex(): number {
    return this.usedIdx;
  }

  /** Chains popped but not yet pushed back. */
  get inFlight(): number {
    return (this.lastAvailIdx - this.usedIdx) & 0xffff;
  }

  /** Chains the driver has made available that the device has not popped yet. */
  pendingAvail(): number {
    const availIdx = this.memory.load16Acquire(this.addresses.availAddr + VIRTQ_AVAIL_IDX_OFFSET);
    const pending = (availIdx - this.lastAvailIdx) & 0xffff;
    if (pending + this.inFlight > this.sizeEntries) {
      throw new ChainError('avail-index', -1, `avail.idx ${availIdx} is ${pending} past the device's ${this.lastAvailIdx} with ${this.inFlight} in flight, queue size ${this.sizeEntries}`);
    }
    return pending;
  }

  /** The next available chain head, or null if the driver has made none available. */
  popAvail(): number | null {
    if (this.pendingAvail() === 0) return null;
    const slot = this.lastAvailIdx % this.sizeEntries;
    const head = this.memory.read16(this.addresses.availAddr + VIRTQ_AVAIL_RING_OFFSET + slot * VIRTQ_AVAIL_ELEM_SIZE_BYTES);
    this.lastAvailIdx = (this.lastAvailIdx + 1) & 0xffff;
    if (head >= this.sizeEntries) throw new ChainError('head-out-of-range', head, `avail ring slot ${slot} names descriptor ${head} of ${this.sizeEntries}`);
    return head;
  }

  /** Walks the chain at `head`, bounded, and returns its buffers in order. */
  readChain(head: number): ChainBuffer[] {
    if (!Number.isInteger(head) || head < 0 || head >= this.sizeEntries) throw new ChainError('head-out-of-range', head, 'no such descriptor');
    this.walkId = (this.walkId + 1) >>> 0;
    if (this.walkId === 0) {
      this.visitMarks.fill(0);
      this.walkId = 1;
    }
    const buffers: ChainBuffer[] = [];
    let totalBytes = 0;
    let index = head;
    for (;;) {
      if (this.visitMarks[index] === this.walkId) throw new ChainError('loop', head, `descriptor ${index} is visited twice`);
      if (buffers.length >= DESCRIPTOR_CHAIN_LENGTH_MAX) throw new ChainError('too-long', head, `more than ${DESCRIPTOR_CHAIN_LENGTH_MAX} descriptors`);
      this.visitMarks[index] = this.walkId;
      const descAddr = this.addresses.descAddr + index * VIRTQ_DESC_SIZE_BYTES;
      const flags = this.memory.read16(descAddr + VIRTQ_DESC_FLAGS_OFFSET);
      if (flags & VIRTQ_DESC_F_INDIRECT) throw new ChainError('indirect', head, `descriptor ${index} is INDIRECT, which was not negotiated`);
      if (flags & ~KNOWN_DESC_FLAGS) throw new ChainError('flags', head, `descriptor ${index} has unknown flags ${hex(flags)}`);
      const lengthBytes = this.memory.read32(descAddr + VIRTQ_DESC_LEN_OFFSET);
      const addr = this.readAddr(descAddr + VIRTQ_DESC_ADDR_OFFSET, head, index);
      if (!this.inside(addr, lengthBytes)) {
        throw new ChainError('address', head, `descriptor ${index} buffer [${hex(addr)}, +${lengthBytes}) is outside memory`);
      }
      totalBytes += lengthBytes;
      if (totalBytes > CHAIN_BYTES_MAX) throw new ChainError('too-long', head, 'chain is longer than 2^32 bytes');
      buffers.push({ addr, lengthBytes, writable: (flags & VIRTQ_DESC_F_WRITE) !== 0 });
      if (!(flags & VIRTQ_DESC_F_NEXT)) return buffers;
      const next = this.memory.read16(descAddr + VIRTQ_DESC_NEXT_OFFSET);
      if (next >= this.sizeEntries) throw new ChainError('next-out-of-range', head, `descriptor ${index} -> ${next} of ${this.sizeEntries}`);
      index = next;
    }
  }

  /** Returns chain `head` to the driver, `lengthBytes` written into its device-writable buffers. */
  pushUsed(head: number, lengthBytes: number): void {
    if (!Number.isInteger(head) || head < 0 || head >= this.sizeEntries) throw new RangeError(`pushUsed: head ${head} out of range`);
    if (!Number.isInteger(lengthBytes) || lengthBytes < 0 || lengthBytes > 0xffff_ffff) throw new RangeError(`pushUsed: length ${lengthBytes}`);
    if (this.inFlight === 0) throw new Error('pushUsed: no chain is in flight (pushed more than popped)');
    const elemAddr = this.addresses.usedAddr + VIRTQ_USED_RING_OFFSET + (this.usedIdx % this.sizeEntries) * VIRTQ_USED_ELEM_SIZE_BYTES;
    this.memory.write32(elemAddr + VIRTQ_USED_ELEM_ID_OFFSET, head);
    this.memory.write32(elemAddr + VIRTQ_USED_ELEM_LEN_OFFSET, lengthBytes);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    this.memory.store16Release(this.addresses.usedAddr + VIRTQ_USED_IDX_OFFSET, this.usedIdx);
  }

  /** avail.flags has VIRTQ_AVAIL_F_NO_INTERRUPT: the device SHOULD NOT notify (§2.7.7.2). */
  get interruptSuppressed(): boolean {
    return (this.memory.read16(this.addresses.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET) & VIRTQ_AVAIL_F_NO_INTERRUPT) !== 0;
  }

  private readAddr(at: number, head: number, index: number): number {
    try {
      return this.memory.read64(at);
    } catch (err) {
      if (err instanceof MemoryFault) throw new ChainError('address', head, `descriptor ${index} address does not fit this machine`);
      throw err;
    }
  }

  private inside(addr: number, lengthBytes: number): boolean {
    return Number.isSafeInteger(addr) && addr >= 0 && addr + lengthBytes <= this.memory.sizeBytes;
  }
}
