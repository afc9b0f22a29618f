/**
 * The driver's side of one split virtqueue (virtio 1.x §2.7), in memory the driver owns.
 *
 * Layout inside the queue's region (all offsets from its start, alignments per §2.7):
 *   descriptor table  at 0,                    16 * size bytes, 16-aligned
 *   available ring    right after,             6 + 2 * size bytes, 2-aligned
 *   used ring         next multiple of 4 after, 6 + 8 * size bytes, 4-aligned
 *
 * Invariants: a descriptor is either on the free list or in exactly one published chain;
 * `lastUsedIdx` trails the device's used.idx and never passes it; a chain is returned to
 * the free list only after the device reported it used. The driver writes the ring
 * entry before it bumps avail.idx (§2.7.13), and reads used.idx before the entries.
 *
 * Across threads (the isolated kernel runs the driver in a worker and the device on the
 * main thread): avail.idx is stored and used.idx loaded with Atomics (store16Release /
 * load16Acquire below, the same accessors as PhysicalMemory's on the device side). A
 * sequentially consistent store orders every descriptor and ring write before it, and
 * a load orders every used-element read after it, which is the barrier §2.7.13.3 and
 * §2.7.8.2 ask for; plain DataView accesses would give no such order between threads.
 */
import {
  VIRTQ_AVAIL_IDX_OFFSET,
  VIRTQ_AVAIL_RING_OFFSET,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_DESC_SIZE_BYTES,
  VIRTQ_USED_ELEM_SIZE_BYTES,
  VIRTQ_USED_IDX_OFFSET,
  VIRTQ_USED_RING_OFFSET,
  isValidQueueSize,
  virtqAvailSizeBytes,
  virtqDescTableSizeBytes,
  virtqUsedSizeBytes,
} from '../../kernel/machine/virtio-spec.ts';

export interface BufferDesc {
  addr: number;
  lengthBytes: number;
  /** Device-writable (the device fills it: read data, status byte). */
  deviceWrites: boolean;
}

export interface QueueLayout {
  descOffsetBytes: number;
  availOffsetBytes: number;
  usedOffsetBytes: number;
  sizeBytes: number;
}

export function queueLayout(queueSize: number): QueueLayout {
  if (!isValidQueueSize(queueSize)) throw new RangeError(`queue size ${queueSize} is not a power of two <= 32768`);
  const descOffsetBytes = 0;
  const availOffsetBytes = virtqDescTableSizeBytes(queueSize);
  const usedOffsetBytes = align(availOffsetBytes + virtqAvailSizeBytes(queueSize), 4);
  return { descOffsetBytes, availOffsetBytes, usedOffsetBytes, sizeBytes: usedOffsetBytes + virtqUsedSizeBytes(queueSize) };
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

export class DriverQueue {
  readonly layout: QueueLayout;
  private readonly view: DataView;
  /** u16 view of the same memory, for the atomic ring-index accesses. */
  private readonly words16: Uint16Array;
  private readonly freeList: number[] = [];
  private availIdx = 0;
  private lastUsedIdx = 0;

  /** `mem` is a live view of the queue's memory; `physAddr` is where it starts physically. */
  constructor(
    readonly size: number,
    mem: Uint8Array,
    readonly physAddr: number,
  ) {
    this.layout = queueLayout(size);
    if (mem.length < this.layout.sizeBytes) throw new RangeError(`queue memory of ${mem.length} bytes < ${this.layout.sizeBytes}`);
    mem.fill(0, 0, this.layout.sizeBytes);
    if (mem.byteOffset % 2 !== 0) throw new RangeError(`queue memory at byte ${mem.byteOffset} is not 2-aligned`);
    this.view = new DataView(mem.buffer, mem.byteOffset, this.layout.sizeBytes);
    this.words16 = new Uint16Array(mem.buffer, mem.byteOffset, this.layout.sizeBytes >> 1);
    for (let i = size - 1; i >= 0; i--) this.freeList.push(i);
  }

  get freeCount(): number {
    return this.freeList.length;
  }

  get descPhys(): number {
    return this.physAddr + this.layout.descOffsetBytes;
  }
  get availPhys(): number {
    return this.physAddr + this.layout.availOffsetBytes;
  }
  get usedPhys(): number {
    return this.physAddr + this.layout.usedOffsetBytes;
  }

  /** Builds a chain and publishes it in the available ring; returns the head index. */
  submit(buffers: BufferDesc[]): number {
    if (buffers.length === 0 || buffers.length > this.freeList.length) {
      throw new Error(`virtqueue: chain of ${buffers.length} with ${this.freeList.length} free descriptors`);
    }
    const indices = buffers.map(() => this.freeList.pop() as number);
    buffers.forEach((b, i) => {
      const at = this.layout.descOffsetBytes + indices[i] * VIRTQ_DESC_SIZE_BYTES;
      const last = i === buffers.length - 1;
      this.view.setUint32(at, b.addr % 2 ** 32, true);
      this.view.setUint32(at + 4, Math.floor(b.addr / 2 ** 32), true);
      this.view.setUint32(at + 8, b.lengthBytes, true);
      this.view.setUint16(at + 12, (last ? 0 : VIRTQ_DESC_F_NEXT) | (b.deviceWrites ? VIRTQ_DESC_F_WRITE : 0), true);
      this.view.setUint16(at + 14, last ? 0 : indices[i + 1], true);
    });
    const head = indices[0];
    const slot = this.availIdx % this.size;
    this.view.setUint16(this.layout.availOffsetBytes + VIRTQ_AVAIL_RING_OFFSET + 2 * slot, head, true);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.store16Release(this.layout.availOffsetBytes + VIRTQ_AVAIL_IDX_OFFSET, this.availIdx);
    return head;
  }

  /** Takes every completion the device has reported since the last call. */
  collect(): { head: number; lengthBytes: number }[] {
    const out: { head: number; lengthBytes: number }[] = [];
    const usedIdx = this.load16Acquire(this.layout.usedOffsetBytes + VIRTQ_USED_IDX_OFFSET);
    const pending = (usedIdx - this.lastUsedIdx) & 0xffff;
    if (pending > this.size) throw new Error(`virtqueue: device reports ${pending} used entries on a queue of ${this.size}`);
    while (this.lastUsedIdx !== usedIdx) {
      const at = this.layout.usedOffsetBytes + VIRTQ_USED_RING_OFFSET + VIRTQ_USED_ELEM_SIZE_BYTES * (this.lastUsedIdx % this.size);
      const head = this.view.getUint32(at, true);
      const lengthBytes = this.view.getUint32(at + 4, true);
      if (head >= this.size) throw new Error(`virtqueue: device returned descriptor ${head} on a queue of ${this.size}`);
      out.push({ head, lengthBytes });
      this.freeChain(head);
      this.lastUsedIdx = (this.lastUsedIdx + 1) & 0xffff;
    }
    return out;
  }

  /** A ring index written by the driver: every write before it is visible first. */
  private store16Release(offsetBytes: number, value: number): void {
    Atomics.store(this.words16, offsetBytes >> 1, value & 0xffff);
  }

  /** A ring index written by the device: every read after it sees what came before it. */
  private load16Acquire(offsetBytes: number): number {
    return Atomics.load(this.words16, offsetBytes >> 1);
  }

  private freeChain(head: number): void {
    let i = head;
    for (let n = 0; n < this.size; n++) {
      const at = this.layout.descOffsetBytes + i * VIRTQ_DESC_SIZE_BYTES;
      const flags = this.view.getUint16(at + 12, true);
      this.freeList.push(i);
      if (!(flags & VIRTQ_DESC_F_NEXT)) return;
      i = this.view.getUint16(at + 14, true);
    }
    throw new Error('virtqueue: chain longer than the queue while freeing');
  }
}

// The atomic accessors read u16 in host byte order; virtqueues are little-endian (§2.7).
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('drivers/virtio-blk/virtqueue.ts: a big-endian host is not supported (ring indices are accessed with Atomics)');
}
