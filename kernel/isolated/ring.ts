/**
 * The shared-memory pieces of the isolated transport: a single-producer single-consumer
 * byte ring over a SharedArrayBuffer, a doorbell (an event count a consumer sleeps on),
 * and the core gate that says whether a thread may spin.
 *
 * Ring layout: a 64-byte header of int32 words [head, tail] (byte positions that grow
 * forever and wrap at 2^32; the slot is `pos & (RING_DATA_BYTES - 1)`), then the data.
 * A record is an int32 length, the bytes, and padding to 4; a record never wraps: when
 * it does not fit before the end, the producer writes a skip marker (-1) and starts at 0.
 *
 * Ordering (the invariant everything else leans on): the producer writes a record's
 * bytes with plain stores and then publishes it with Atomics.store(tail); the consumer
 * reads tail with Atomics.load before it reads the bytes, and frees the space with
 * Atomics.store(head) after it copied them out. Sequentially consistent atomics order
 * the plain accesses around them, so a consumer never sees a half-written record and a
 * producer never overwrites one being read. Records come out in the order they went in.
 *
 * Doorbell (an event count): producers bump `seq` after each publish and notify only if
 * the consumer said it sleeps; the consumer reads `seq`, checks its rings, sets
 * `sleeping`, re-reads `seq`, and sleeps only if it has not moved, so no wake-up is lost.
 *
 * Core gate: `awake` counts threads that are running (not asleep on a doorbell or in
 * Atomics.wait). A thread may spin only while awake <= cores, i.e. only while spinning
 * does not take a core from a thread that has work (transport.ts says why spinning pays).
 */
import { RING_DATA_BYTES, RING_RECORD_BYTES_MAX, SPIN_REPROBE_WAITS, SPIN_US_MIN } from './limits.ts';

const HEADER_BYTES = 64;
const HEAD = 0;
const TAIL = 1;
const SKIP = -1;
const MASK = RING_DATA_BYTES - 1;

export function newRingBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(HEADER_BYTES + RING_DATA_BYTES);
}

function checkRingBuffer(sab: SharedArrayBuffer): void {
  if (!(sab instanceof SharedArrayBuffer) || sab.byteLength !== HEADER_BYTES + RING_DATA_BYTES) {
    throw new RangeError(`ring: buffer must be a SharedArrayBuffer of ${HEADER_BYTES + RING_DATA_BYTES} bytes`);
  }
}

function padded(lengthBytes: number): number {
  return 4 + ((lengthBytes + 3) & ~3);
}

/** The writing end of a ring; exactly one thread may hold it. */
export class RingProducer {
  private readonly header: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly words: Int32Array;
  private tail: number;

  constructor(sab: SharedArrayBuffer) {
    checkRingBuffer(sab);
    this.header = new Int32Array(sab, 0, HEADER_BYTES / 4);
    this.bytes = new Uint8Array(sab, HEADER_BYTES, RING_DATA_BYTES);
    this.words = new Int32Array(sab, HEADER_BYTES, RING_DATA_BYTES / 4);
    this.tail = Atomics.load(this.header, TAIL);
  }

  /** Bytes the ring can take now (a record needs its length plus up to 7 more). */
  freeBytes(): number {
    return RING_DATA_BYTES - ((this.tail - Atomics.load(this.header, HEAD)) | 0);
  }

  /** Publishes one record; false (and nothing written) when the ring has no room for it. */
  tryPush(record: Uint8Array): boolean {
    if (record.length > RING_RECORD_BYTES_MAX) throw new RangeError(`ring: record of ${record.length} bytes > ${RING_RECORD_BYTES_MAX}`);
    const rec = padded(record.length);
    let off = this.tail & MASK;
    const contiguous = RING_DATA_BYTES - off;
    const need = rec <= contiguous ? rec : contiguous + rec;
    if (need > this.freeBytes()) return false;
    if (rec > contiguous) {
      this.words[off >> 2] = SKIP;
      this.tail = (this.tail + contiguous) | 0;
      off = 0;
    }
    this.words[off >> 2] = record.length;
    this.bytes.set(record, off + 4);
    this.tail = (this.tail + rec) | 0;
    Atomics.store(this.header, TAIL, this.tail);
    return true;
  }
}

/** The reading end of a ring; exactly one thread may hold it. */
export class RingConsumer {
  private readonly header: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly words: Int32Array;
  private head: number;

  constructor(sab: SharedArrayBuffer) {
    checkRingBuffer(sab);
    this.header = new Int32Array(sab, 0, HEADER_BYTES / 4);
    this.bytes = new Uint8Array(sab, HEADER_BYTES, RING_DATA_BYTES);
    this.words = new Int32Array(sab, HEADER_BYTES, RING_DATA_BYTES / 4);
    this.head = Atomics.load(this.header, HEAD);
  }

  /** True when a record (or a skip marker) is waiting. */
  hasData(): boolean {
    return Atomics.load(this.header, TAIL) !== this.head;
  }

  /** The next record, copied out of shared memory (so it may be kept), or undefined. */
  pop(): Uint8Array | undefined {
    for (;;) {
      const tail = Atomics.load(this.header, TAIL);
      if (tail === this.head) return undefined;
      const off = this.head & MASK;
      const length = this.words[off >> 2];
      if (length === SKIP) {
        this.head = (this.head + (RING_DATA_BYTES - off)) | 0;
        Atomics.store(this.header, HEAD, this.head);
        continue;
      }
      if (length < 0 || length > RING_RECORD_BYTES_MAX || padded(length) > ((tail - this.head) | 0)) {
        throw new Error(`ring: corrupt record length ${length} at ${off}`);
      }
      const out = this.bytes.slice(off + 4, off + 4 + length);
      this.head = (this.head + padded(length)) | 0;
      Atomics.store(this.header, HEAD, this.head);
      return out;
    }
  }
}

/** Atomics.waitAsync (V8, Node >= 16); typed here because the project's lib is ES2023. */
type WaitAsync = (
  words: Int32Array,
  index: number,
  value: number,
  timeoutMs?: number,
) => { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;
if (typeof waitAsync !== 'function') throw new Error('kernel/isolated/ring.ts: Atomics.waitAsync is missing (Node 16 or later is needed)');

/** Word indices of a doorbell inside some Int32Array over shared memory. */
export interface DoorbellWords {
  seq: number;
  sleeping: number;
}

/** The producer's side of a doorbell: ring it after publishing (bump, then wake if asleep). */
export function ringDoorbell(words: Int32Array, bell: DoorbellWords): void {
  bumpDoorbell(words, bell);
  wakeIfAsleep(words, bell);
}

/** Marks that something was published: a consumer about to sleep sees it and does not. */
export function bumpDoorbell(words: Int32Array, bell: DoorbellWords): void {
  Atomics.add(words, bell.seq, 1);
}

/**
 * Wakes a consumer that sleeps. Only the first producer to find it asleep pays for the
 * wake-up (a futex syscall, 12 us on the waker here): it clears `sleeping` as it
 * notifies. A consumer about to sleep re-reads `seq` after setting `sleeping`, and
 * `seq` moved before `sleeping` was cleared, so no wake-up is lost.
 */
export function wakeIfAsleep(words: Int32Array, bell: DoorbellWords): void {
  if (Atomics.compareExchange(words, bell.sleeping, 1, 0) === 1) Atomics.notify(words, bell.seq);
}

/**
 * The consumer's side: `seen()` before checking for work; `sleep(seen)` resolves when a
 * producer rang after that point (at once if one already did).
 */
export class DoorbellWaiter {
  constructor(
    private readonly words: Int32Array,
    private readonly bell: DoorbellWords,
  ) {}

  seen(): number {
    return Atomics.load(this.words, this.bell.seq);
  }

  /**
   * Resolves once seq differs from `seen` (no lost wake-ups; see the header), or after
   * `timeoutMs` at the latest: true if it woke for a ring, false if the time ran out.
   */
  async sleep(seen: number, timeoutMs = Infinity): Promise<boolean> {
    Atomics.store(this.words, this.bell.sleeping, 1);
    try {
      if (Atomics.load(this.words, this.bell.seq) !== seen) return true;
      const r = waitAsync(this.words, this.bell.seq, seen, timeoutMs);
      return (r.async ? await r.value : r.value) !== 'timed-out';
    } finally {
      Atomics.store(this.words, this.bell.sleeping, 0);
    }
  }
}

/** Shared words of the core gate: [awake threads, cores]. */
export const CORE_GATE_WORDS = 2;

export class CoreGate {
  /**
   * `own` is a word only this thread changes, holding its own share of `awake` (0 or
   * 1), so the kernel can take back the share of a worker that died (`release`).
   */
  constructor(
    private readonly words: Int32Array,
    private readonly at: number,
    private readonly own?: { words: Int32Array; at: number },
  ) {}

  static init(words: Int32Array, at: number, cores: number): CoreGate {
    Atomics.store(words, at, 0);
    Atomics.store(words, at + 1, Math.max(1, cores));
    return new CoreGate(words, at);
  }

  awake(): void {
    if (this.own) Atomics.add(this.own.words, this.own.at, 1);
    Atomics.add(this.words, this.at, 1);
  }

  asleep(): void {
    Atomics.sub(this.words, this.at, 1);
    if (this.own) Atomics.sub(this.own.words, this.own.at, 1);
  }

  /** Takes back what a dead thread, whose share word is `own`, left counted as awake. */
  release(own: { words: Int32Array; at: number }): void {
    const share = Atomics.exchange(own.words, own.at, 0);
    if (share > 0) Atomics.sub(this.words, this.at, share);
  }

  /** True while this (awake) thread's spinning leaves every other awake thread a core. */
  maySpin(): boolean {
    return Atomics.load(this.words, this.at) <= Atomics.load(this.words, this.at + 1);
  }
}

/** Busy-waits up to `us` microseconds for `ready()`, giving up early if the gate closes. */
export function spinUntil(ready: () => boolean, us: number, gate: CoreGate): boolean {
  if (us <= 0 || !gate.maySpin()) return ready();
  const end = performance.now() + us / 1000;
  for (let i = 0; ; i++) {
    if (ready()) return true;
    if ((i & 63) === 63 && (performance.now() > end || !gate.maySpin())) return ready();
  }
}

/**
 * Adaptive spinning, one per waiting place: spin up to `maxUs` while spins pay off;
 * after a spin that found nothing, halve the budget, down to none; while it is none,
 * try a short spin again every SPIN_REPROBE_WAITS waits. A spin pays off only if the
 * other thread runs meanwhile on another core; when the machine's cores are taken (by
 * other processes the core gate cannot see) a spinner only delays the thread it waits
 * for, by a whole spin per message, so the budget must fall fast when spins fail.
 */
export class Spinner {
  private budgetUs: number;
  private skipped = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly maxUs: number) {
    this.budgetUs = maxUs;
  }

  /** True while spins have been paying off (the budget is not down to nothing). */
  pays(): boolean {
    return this.budgetUs > 0;
  }

  spin(ready: () => boolean, gate: CoreGate): boolean {
    if (ready()) return true;
    if (this.maxUs <= 0) return false;
    let budget = this.budgetUs;
    if (budget === 0) {
      if (++this.skipped < SPIN_REPROBE_WAITS) return false;
      this.skipped = 0;
      budget = Math.max(1, this.maxUs / 8);
    }
    if (spinUntil(ready, budget, gate)) {
      this.hits++;
      this.budgetUs = this.maxUs;
      return true;
    }
    this.misses++;
    this.budgetUs = budget / 2 < SPIN_US_MIN ? 0 : budget / 2;
    return false;
  }
}
