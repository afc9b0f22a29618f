/**
 * Physical memory of the emulated machine: one SharedArrayBuffer.
 *
 * Offers bounds-checked byte views and little-endian loads/stores at physical
 * addresses. Devices reach memory only through this object, at addresses a driver
 * put in descriptors; services reach it only through kernel grants (kernel/memory.ts).
 *
 * Invariants: every access is checked against [0, sizeBytes) before it happens; a bad
 * address raises MemoryFault (the caller decides whether that is a guest bug, a
 * NEEDS_RESET, or an error reply) and never touches memory. Addresses are plain
 * numbers: the machine is far below 2^53 bytes, and u64 fields whose high word would
 * push an address past that are faults, not silent truncations.
 */

export class MemoryFault extends Error {
  constructor(
    readonly addr: number,
    readonly lengthBytes: number,
    readonly limitBytes: number,
  ) {
    super(`memory fault: [${hex(addr)}, +${lengthBytes}) is outside physical memory of ${limitBytes} bytes`);
    this.name = 'MemoryFault';
  }
}

export function hex(n: number): string {
  return '0x' + n.toString(16);
}

export class PhysicalMemory {
  readonly buffer: SharedArrayBuffer;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly sizeBytes: number;
  /** u16 view for the atomic ring-index accesses below (Atomics needs an integer typed array). */
  private readonly words16: Uint16Array;

  constructor(sizeBytes: number, buffer?: SharedArrayBuffer) {
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % 4096 !== 0) {
      throw new RangeError(`sizeBytes must be a positive multiple of 4096, got ${sizeBytes}`);
    }
    this.buffer = buffer ?? new SharedArrayBuffer(sizeBytes);
    if (this.buffer.byteLength !== sizeBytes) throw new RangeError('buffer size does not match sizeBytes');
    this.bytes = new Uint8Array(this.buffer);
    this.view = new DataView(this.buffer);
    this.sizeBytes = sizeBytes;
    this.words16 = new Uint16Array(this.buffer);
  }

  /** Throws MemoryFault unless [addr, addr+lengthBytes) lies inside memory. */
  check(addr: number, lengthBytes: number): void {
    if (
      !Number.isSafeInteger(addr) ||
      !Number.isSafeInteger(lengthBytes) ||
      addr < 0 ||
      lengthBytes < 0 ||
      addr + lengthBytes > this.sizeBytes
    ) {
      throw new MemoryFault(addr, lengthBytes, this.sizeBytes);
    }
  }

  /** A live view (no copy) of [addr, addr+lengthBytes). */
  slice(addr: number, lengthBytes: number): Uint8Array {
    this.check(addr, lengthBytes);
    return this.bytes.subarray(addr, addr + lengthBytes);
  }

  read8(addr: number): number {
    this.check(addr, 1);
    return this.bytes[addr];
  }
  read16(addr: number): number {
    this.check(addr, 2);
    return this.view.getUint16(addr, true);
  }
  read32(addr: number): number {
    this.check(addr, 4);
    return this.view.getUint32(addr, true);
  }
  /** A u64 as a number; a value above 2^53 - 1 cannot be an address here and faults. */
  read64(addr: number): number {
    this.check(addr, 8);
    const lo = this.view.getUint32(addr, true);
    const hi = this.view.getUint32(addr + 4, true);
    if (hi > 0x1fffff) throw new MemoryFault(hi * 2 ** 32 + lo, 0, this.sizeBytes);
    return hi * 2 ** 32 + lo;
  }
  write8(addr: number, value: number): void {
    this.check(addr, 1);
    this.bytes[addr] = value;
  }
  write16(addr: number, value: number): void {
    this.check(addr, 2);
    this.view.setUint16(addr, value, true);
  }
  write32(addr: number, value: number): void {
    this.check(addr, 4);
    this.view.setUint32(addr, value >>> 0, true);
  }
  write64(addr: number, value: number): void {
    this.check(addr, 8);
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`write64: ${value} is not a u64 this machine can hold`);
    this.view.setUint32(addr, value % 2 ** 32, true);
    this.view.setUint32(addr + 4, Math.floor(value / 2 ** 32), true);
  }

  /**
   * Ring indices (avail.idx, used.idx) shared between a driver and a device that may run
   * on different threads: a sequentially consistent load/store orders every access
   * before it, which is the barrier virtio 1.x §2.7.13 and §2.7.8 ask for ("write the
   * ring entry, then the index"). Little-endian like every other accessor here (checked
   * at load); `addr` must be 2-aligned, as the spec's ring layout guarantees.
   */
  load16Acquire(addr: number): number {
    this.check(addr, 2);
    if (addr % 2 !== 0) throw new MemoryFault(addr, 2, this.sizeBytes);
    return Atomics.load(this.words16, addr / 2);
  }
  store16Release(addr: number, value: number): void {
    this.check(addr, 2);
    if (addr % 2 !== 0) throw new MemoryFault(addr, 2, this.sizeBytes);
    Atomics.store(this.words16, addr / 2, value & 0xffff);
  }
}

// The atomic accessors read u16 in host byte order; the machine's memory is little-endian.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('physical-memory.ts: a big-endian host is not supported (ring indices are read with Atomics)');
}
