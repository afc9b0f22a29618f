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
    this.view = new DataView(mem.buffer, mem.byteOffset, this.layout.sizeBytes);
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
    this.view.setUint16(this.layout.availOffsetBytes + VIRTQ_AVAIL_IDX_OFFSET, this.availIdx, true);
    return head;
  }

  /** Takes every completion the device has reported since the last call. */
  collect(): { head: number; lengthBytes: number }[] {
    const out: { head: number; lengthBytes: number }[] = [];
    const usedIdx = this.view.getUint16(this.layout.usedOffsetBytes + VIRTQ_USED_IDX_OFFSET, true);
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
