/**
 * The message transport between the kernel (main thread) and each service's worker:
 * a pair of shared-memory rings (ring.ts) carrying msgpackr envelopes (protocol.ts),
 * doorbells for sleeping consumers, and a Reactor that drains, spins briefly while a
 * core is free, then sleeps.
 *
 * Why this transport. Measured on this machine (2 vCPUs in a VM, AMD EPYC, Node 20),
 * microseconds per round trip main <-> worker; "quiet" is the machine otherwise idle,
 * "loaded" is with other processes keeping both cores busy (load average 4-8), which is
 * this machine's usual state. `npx tsx kernel/isolated/probe.ts` repeats the lower part.
 *
 *   bare mechanisms (plain JS, no encoding)                 quiet        loaded
 *   postMessage, depth 1                                    17 - 31      16 - 24
 *   postMessage, depth 32                                   3.0 - 3.5    3.6 - 5.5
 *   postMessage, 256 messages in one post                   1.2 - 1.5
 *   shared ring, both sides sleep (waitAsync/wait), depth 1  55 - 58      13 - 58
 *   shared ring, depth 1, the waiter spins first             2.2 - 2.4    22 - 150 (fixed spin)
 *   shared ring, depth 32, no spinning                      1.4 - 1.6    1.3 - 2.2
 *   shared ring, depth 32, spinning                         0.15         0.35
 *   this transport (msgpackr envelopes, Reactor turns)
 *   ring, depth 1, adaptive spinning                        6            20 - 23
 *   ring, depth 32, adaptive spinning                       -            3.3 - 4.7
 *   synchronous call (worker blocks, kernel answers)        20 - 23      17 - 34
 *
 * Waking a sleeping thread on the other vCPU costs 15-30 us; a message costs about 1 us
 * plus msgpackr. So: (1) keep requests in flight and drain everything that is there per
 * wake-up (the ring batches for free: one doorbell per burst, not per message); (2)
 * after work, spin briefly for the next message instead of sleeping, but only while a
 * core is free: the core gate (ring.ts) counts this process's awake threads, and the
 * adaptive Spinner stops spinning as soon as spins stop paying, which is what happens
 * when other processes hold the cores (a fixed spin then made a round trip 3-7 times
 * slower: the spinner held the core its peer needed); (3) otherwise sleep on the
 * doorbell, so an idle system costs nothing. The ring also keeps one order for all a
 * worker sends (posted MMIO writes before the synchronous read that must see them).
 * postMessage stays for what a ring cannot carry: records above RING_RECORD_BYTES_MAX
 * (bulk data belongs in grants anyway) go by postMessage with the buffer transferred,
 * ordered by an empty marker record in the ring; a producer whose ring is full keeps a
 * backlog and retries. With every core taken, ring and postMessage cost the same; with
 * a core free, the ring is 3-5 times faster at depth 1 and several times at depth 32.
 *
 * Invariants: records from one producer are handled in the order they were sent,
 * whatever path they took; a consumer never sleeps while a record is waiting for it
 * (doorbell protocol, ring.ts); nothing here interprets an envelope.
 */
import { decode, encode } from '../codec.ts';
import { REACTOR_RECHECK_MS, RING_BACKLOG_BYTES_MAX, RING_BACKLOG_RETRY_MS, RING_RECORD_BYTES_MAX } from './limits.ts';
import { bumpDoorbell, RingConsumer, RingProducer, ringDoorbell, Spinner, wakeIfAsleep, type CoreGate, type DoorbellWaiter, type DoorbellWords } from './ring.ts';

/** The postMessage side of a channel: a Worker (kernel side) or parentPort (worker side). */
export interface PortLike {
  postMessage(value: unknown, transferList?: readonly ArrayBuffer[]): void;
  on(event: 'message', listener: (value: unknown) => void): unknown;
}

const MARKER = new Uint8Array(0);
const NAP = new Int32Array(new SharedArrayBuffer(4)); // a word nobody changes: Atomics.wait on it sleeps
const PORT_TAG = '~strata-record';

export interface ChannelOptions {
  outRing: SharedArrayBuffer;
  inRing: SharedArrayBuffer;
  port: PortLike;
  /** The peer's doorbell, rung after each publish. */
  peerWords: Int32Array;
  peerBell: DoorbellWords;
  /** Called when something arrives outside the ring (a large record by postMessage). */
  onReadable: () => void;
  /** Called once if the backlog passes RING_BACKLOG_BYTES_MAX: the peer is not draining. */
  onOverflow: () => void;
}

/** One thread's end of a channel: send envelopes of type Out, receive envelopes of type In. */
export class ChannelEnd<Out, In> {
  private readonly producer: RingProducer;
  private readonly consumer: RingConsumer;
  private readonly backlog: Uint8Array[] = [];
  private readonly portRecords: Uint8Array[] = [];
  private waitingForPort = false;
  private wakeDue = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private overflowed = false;
  private closed = false;
  backlogBytes = 0;
  sentRecords = 0;
  sentByPort = 0;

  constructor(private readonly o: ChannelOptions) {
    this.producer = new RingProducer(o.outRing);
    this.consumer = new RingConsumer(o.inRing);
    o.port.on('message', (value) => {
      const buf = (value as Record<string, unknown> | null)?.[PORT_TAG];
      if (!(buf instanceof ArrayBuffer)) return;
      this.portRecords.push(new Uint8Array(buf));
      o.onReadable();
    });
  }

  /** Encodes and publishes one envelope; throws only if it cannot be encoded. */
  send(msg: Out): void {
    if (this.closed) return;
    const packed = encode(msg);
    let record = packed;
    if (packed.length > RING_RECORD_BYTES_MAX) {
      const own = new Uint8Array(packed); // a copy: msgpackr returns views into its own buffer (a Buffer, whose slice is a view too)
      this.o.port.postMessage({ [PORT_TAG]: own.buffer }, [own.buffer]);
      this.sentByPort++;
      record = MARKER;
    }
    this.sentRecords++;
    if (this.backlog.length === 0 && this.producer.tryPush(record)) {
      this.published();
      return;
    }
    this.backlog.push(new Uint8Array(record)); // a copy, for the same reason
    this.backlogBytes += record.length;
    if (this.backlogBytes > RING_BACKLOG_BYTES_MAX && !this.overflowed) {
      this.overflowed = true;
      this.o.onOverflow();
    }
    this.scheduleRetry();
  }

  /** Moves what the backlog holds into the ring while it fits. */
  flush(): void {
    let moved = false;
    while (this.backlog.length && this.producer.tryPush(this.backlog[0])) {
      this.backlogBytes -= this.backlog.shift()!.length;
      moved = true;
    }
    if (moved) this.published();
    if (this.backlog.length) this.scheduleRetry();
  }

  /**
   * After a publish: bump the peer's doorbell now (a peer about to sleep will not), and
   * wake a sleeping peer once, at the end of this task, for everything this task sends.
   * Waking per record cost the kernel thread 14% of its time at depth 32 (profiled): a
   * woken worker drained one record and slept again before the next came.
   */
  private published(): void {
    bumpDoorbell(this.o.peerWords, this.o.peerBell);
    if (this.wakeDue) return;
    this.wakeDue = true;
    setImmediate(() => this.wakeNow());
  }

  /** Wakes the peer at once (before this thread blocks, when no later task will run). */
  wakeNow(): void {
    this.wakeDue = false;
    wakeIfAsleep(this.o.peerWords, this.o.peerBell);
  }

  /**
   * Worker side, before it blocks on a synchronous call: waits until the backlog is in
   * the ring (the kernel drains it meanwhile) and wakes the kernel, because a blocked
   * thread runs no timer or deferred wake-up, and a `sys` record left in the backlog or
   * unannounced would never be seen.
   */
  flushBlocking(): void {
    while (this.backlog.length && !this.closed) {
      this.flush();
      this.wakeNow();
      if (this.backlog.length) Atomics.wait(NAP, 0, 0, RING_BACKLOG_RETRY_MS);
    }
    this.wakeNow();
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.flush();
    }, RING_BACKLOG_RETRY_MS);
    this.retryTimer.unref();
  }

  /** True when a record can be handled now. */
  hasData(): boolean {
    return this.waitingForPort ? this.portRecords.length > 0 : this.consumer.hasData();
  }

  /** Handles up to `max` waiting envelopes in order; returns how many it handled. */
  drain(handle: (msg: In) => void, max = Number.MAX_SAFE_INTEGER): number {
    if (this.backlog.length) this.flush();
    let n = 0;
    while (n < max && !this.closed) {
      let record: Uint8Array | undefined;
      if (this.waitingForPort) {
        record = this.portRecords.shift();
        if (!record) break;
        this.waitingForPort = false;
      } else {
        record = this.consumer.pop();
        if (!record) break;
        if (record.length === 0) {
          this.waitingForPort = true;
          continue;
        }
      }
      n++;
      handle(decode(record) as In);
    }
    return n;
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.backlog.length = 0;
    this.backlogBytes = 0;
  }
}

export interface ReactorSource {
  /** Handles what is waiting; returns how many records it handled. */
  drain(): number;
  hasData(): boolean;
}

/**
 * A thread's receive loop. A turn drains every source; after a turn that found work it
 * yields to the event loop (so promise continuations and other tasks run) and turns
 * again; after an empty turn it spins up to `spinUs` while the gate allows, then sleeps
 * on its doorbell. `poke()` wakes it for something that arrived outside the rings;
 * `expectAnswer()` (after sending a request) makes a sleeping reactor spin for the
 * answer instead of paying a wake-up, but only while spinning pays (else it would wake
 * only to fall asleep again).
 */
export class Reactor {
  private running = false;
  private scheduled = false;
  private sleeping = false;
  private readonly spinner: Spinner;
  turns = 0;
  sleeps = 0;
  /** Sleeps that ran out their time and then found a record waiting: a wake-up that never came. */
  lateFinds = 0;

  constructor(
    private readonly gate: CoreGate,
    private readonly waiter: DoorbellWaiter,
    private readonly words: Int32Array,
    private readonly bell: DoorbellWords,
    spinUs: number,
    private readonly sources: () => Iterable<ReactorSource>,
  ) {
    this.spinner = new Spinner(spinUs);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.gate.awake();
    this.schedule();
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    if (!this.sleeping) this.gate.asleep();
    ringDoorbell(this.words, this.bell); // ends a pending sleep
  }

  /** Asks for a turn soon: something arrived by postMessage. */
  poke(): void {
    if (this.sleeping) ringDoorbell(this.words, this.bell);
    else this.schedule();
  }

  /** A request went out: spin for its answer if spinning pays, rather than sleep through it. */
  expectAnswer(): void {
    if (!this.sleeping) return this.schedule();
    if (this.spinner.pays()) ringDoorbell(this.words, this.bell);
  }

  private schedule(): void {
    if (this.scheduled || !this.running) return;
    this.scheduled = true;
    setImmediate(() => this.turn());
  }

  private anyData(): boolean {
    for (const s of this.sources()) if (s.hasData()) return true;
    return false;
  }

  private turn(): void {
    this.scheduled = false;
    if (!this.running) return;
    this.turns++;
    for (;;) {
      const seen = this.waiter.seen();
      let handled = 0;
      for (const s of this.sources()) handled += s.drain();
      if (handled > 0) return this.schedule();
      if (this.spinner.spin(() => this.anyData(), this.gate)) continue;
      void this.sleep(seen);
      return;
    }
  }

  private async sleep(seen: number): Promise<void> {
    this.sleeping = true;
    this.sleeps++;
    this.gate.asleep();
    try {
      // A bounded sleep: should a wake-up ever be lost, the next look at the rings finds
      // what is waiting after REACTOR_RECHECK_MS instead of never (`lateFinds` counts it).
      const rung = await this.waiter.sleep(seen, REACTOR_RECHECK_MS);
      if (!rung && this.anyData()) this.lateFinds++;
    } finally {
      this.sleeping = false;
      if (this.running) this.gate.awake();
    }
    // Turn now rather than after another trip round the event loop: a wake-up is for work.
    if (this.running && !this.scheduled) this.turn();
  }
}
