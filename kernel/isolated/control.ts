/**
 * Shared control words: the kernel's (its doorbell and the core gate) and each worker's
 * (its doorbell, the synchronous-call reply slot, its heartbeat), and the synchronous
 * call itself: the one place a worker blocks.
 *
 * A synchronous call: the worker clears its reply state, posts a `sys` envelope in its
 * ring (ordered after everything it sent before), then spins while the core gate allows
 * (SYNC_SPIN_US) and otherwise blocks in Atomics.wait. The kernel, draining that ring,
 * runs the call, writes the msgpackr answer into the reply area, stores the state word
 * and notifies. The answer is read before the state word is cleared for the next call,
 * so one slot per worker is enough: a worker has at most one synchronous call open.
 */
import { decode, encode } from '../codec.ts';
import { ServiceError } from '../errors.ts';
import { SYNC_CALL_TIMEOUT_MS, SYNC_REPLY_BYTES_MAX, SYNC_SPIN_US } from './limits.ts';
import type { SysResult } from './protocol.ts';
import { CORE_GATE_WORDS, Spinner, type CoreGate, type DoorbellWords } from './ring.ts';

/** Kernel control words. */
export const KERNEL_BELL: DoorbellWords = { seq: 0, sleeping: 1 };
export const KERNEL_GATE_AT = 2;
const KERNEL_WORDS = KERNEL_GATE_AT + CORE_GATE_WORDS;

/** Worker control words, then the reply area at REPLY_OFFSET. */
export const WORKER_BELL: DoorbellWords = { seq: 0, sleeping: 1 };
const SYNC_STATE = 2; // 0: waiting, 1: answered
const SYNC_LENGTH = 3;
const HEARTBEAT = 4;
const IN_SYNC = 5; // 1 while the worker is blocked in a synchronous call
/** The worker's share of the core gate's awake count (see CoreGate.release). */
export const WORKER_GATE_SHARE = 6;
const REPLY_OFFSET = 64;

export function newKernelControl(): SharedArrayBuffer {
  return new SharedArrayBuffer(KERNEL_WORDS * 4);
}

export function newWorkerControl(): SharedArrayBuffer {
  return new SharedArrayBuffer(REPLY_OFFSET + SYNC_REPLY_BYTES_MAX);
}

/** The kernel's view of one worker's control block. */
export class WorkerControl {
  readonly words: Int32Array;
  private readonly reply: Uint8Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer, 0, REPLY_OFFSET / 4);
    this.reply = new Uint8Array(buffer, REPLY_OFFSET, SYNC_REPLY_BYTES_MAX);
  }

  /** Answers the worker's open synchronous call and wakes it. */
  answer(result: SysResult): void {
    let bytes = encode(result);
    if (bytes.length > SYNC_REPLY_BYTES_MAX) {
      bytes = encode({ ok: false, code: 'TOOBIG', message: `a synchronous answer of ${bytes.length} bytes exceeds ${SYNC_REPLY_BYTES_MAX}` });
    }
    this.reply.set(bytes);
    Atomics.store(this.words, SYNC_LENGTH, bytes.length);
    Atomics.store(this.words, SYNC_STATE, 1);
    Atomics.notify(this.words, SYNC_STATE);
  }

  heartbeat(): number {
    return Atomics.load(this.words, HEARTBEAT);
  }

  /** True while the worker waits for the kernel (it cannot beat then, and is not hung). */
  inSyncCall(): boolean {
    return Atomics.load(this.words, IN_SYNC) === 1;
  }
}

/** The worker's side of its control block. */
export class WorkerControlClient {
  readonly words: Int32Array;
  private readonly reply: Uint8Array;
  private readonly spinner = new Spinner(SYNC_SPIN_US);
  syncCalls = 0;
  syncSleeps = 0;

  constructor(
    buffer: SharedArrayBuffer,
    private readonly gate: CoreGate,
  ) {
    this.words = new Int32Array(buffer, 0, REPLY_OFFSET / 4);
    this.reply = new Uint8Array(buffer, REPLY_OFFSET, SYNC_REPLY_BYTES_MAX);
  }

  beat(): void {
    Atomics.add(this.words, HEARTBEAT, 1);
  }

  /** Runs `post` (which sends the `sys` envelope) and blocks for the kernel's answer. */
  call(post: () => void): unknown {
    this.syncCalls++;
    Atomics.store(this.words, SYNC_STATE, 0);
    post();
    const answered = () => Atomics.load(this.words, SYNC_STATE) !== 0;
    Atomics.store(this.words, IN_SYNC, 1);
    try {
      if (!this.spinner.spin(answered, this.gate)) {
        this.syncSleeps++;
        this.gate.asleep();
        const r = Atomics.wait(this.words, SYNC_STATE, 0, SYNC_CALL_TIMEOUT_MS);
        this.gate.awake();
        if (r === 'timed-out') throw new Error(`isolated: the kernel gave no answer to a synchronous call in ${SYNC_CALL_TIMEOUT_MS} ms`);
      }
    } finally {
      Atomics.store(this.words, IN_SYNC, 0);
    }
    const length = Atomics.load(this.words, SYNC_LENGTH);
    const result = decode(this.reply.slice(0, length)) as SysResult;
    if (!result.ok) throw new ServiceError(result.code, result.message);
    return result.value;
  }
}
