// The shared-memory ring and the channel over it, in one thread against simple models:
// records come out in order and intact across wrap-around, a full ring refuses rather
// than overwrites, large records go by postMessage and still keep their place, a full
// ring's backlog drains in order, and the doorbell loses no wake-up.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MessageChannel } from 'node:worker_threads';
import { RING_DATA_BYTES, RING_RECORD_BYTES_MAX } from '../../kernel/isolated/limits.ts';
import { CoreGate, DoorbellWaiter, RingConsumer, RingProducer, newRingBuffer, ringDoorbell, Spinner } from '../../kernel/isolated/ring.ts';
import { ChannelEnd } from '../../kernel/isolated/transport.ts';

function record(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (seed * 31 + i) & 0xff);
}

describe('isolated transport: the ring', () => {
  it('delivers records in order and intact, across wrap-around, and refuses when full', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.record({ push: fc.integer({ min: 0, max: 70_000 }) }), fc.record({ pop: fc.integer({ min: 1, max: 8 }) })), { maxLength: 300 }),
        (ops) => {
          const sab = newRingBuffer();
          const p = new RingProducer(sab);
          const c = new RingConsumer(sab);
          const model: Uint8Array[] = [];
          let seed = 0;
          for (const op of ops) {
            if ('push' in op) {
              const r = record(op.push, ++seed);
              const before = p.freeBytes();
              if (p.tryPush(r)) model.push(r);
              else expect(before).toBeLessThan(op.push + 8 + ((op.push + 3) & ~3)); // refused only when it could not fit
            } else {
              for (let i = 0; i < op.pop; i++) {
                const got = c.pop();
                const want = model.shift();
                if (want === undefined) expect(got).toBeUndefined();
                else expect(Buffer.compare(got!, want)).toBe(0);
              }
            }
          }
          for (const want of model) expect(Buffer.compare(c.pop()!, want)).toBe(0);
          expect(c.pop()).toBeUndefined();
          expect(c.hasData()).toBe(false);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('keeps going for many times its size (positions wrap) and refuses a record above the limit', () => {
    const sab = newRingBuffer();
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    const r = record(RING_RECORD_BYTES_MAX, 5);
    for (let i = 0; i < (8 * RING_DATA_BYTES) / RING_RECORD_BYTES_MAX; i++) {
      expect(p.tryPush(r)).toBe(true);
      expect(Buffer.compare(c.pop()!, r)).toBe(0);
    }
    expect(() => p.tryPush(new Uint8Array(RING_RECORD_BYTES_MAX + 1))).toThrow(RangeError);
  });

  it('doorbell: a consumer never sleeps past a record published after it looked', async () => {
    const words = new Int32Array(new SharedArrayBuffer(16));
    const bell = { seq: 0, sleeping: 1 };
    const waiter = new DoorbellWaiter(words, bell);
    const seen = waiter.seen();
    ringDoorbell(words, bell); // a producer publishes between the consumer's check and its sleep
    await waiter.sleep(seen); // returns at once: the count moved
    const seen2 = waiter.seen();
    const slept = waiter.sleep(seen2);
    expect(Atomics.load(words, bell.sleeping)).toBe(1);
    ringDoorbell(words, bell);
    expect(await slept).toBe(true);
    expect(Atomics.load(words, bell.sleeping)).toBe(0);
  });

  it('doorbell: a bounded sleep ends when its time runs out, and says so', async () => {
    const words = new Int32Array(new SharedArrayBuffer(16));
    const bell = { seq: 0, sleeping: 1 };
    const waiter = new DoorbellWaiter(words, bell);
    expect(await waiter.sleep(waiter.seen(), 5)).toBe(false); // nobody rang
    expect(Atomics.load(words, bell.sleeping)).toBe(0);
    const seen = waiter.seen();
    const slept = waiter.sleep(seen, 60_000);
    ringDoorbell(words, bell);
    expect(await slept).toBe(true); // rung well before its time
  });

  it('core gate and spinner: no spinning without a free core, and a spin that never pays stops', () => {
    const words = new Int32Array(new SharedArrayBuffer(16));
    const gate = CoreGate.init(words, 0, 1);
    gate.awake();
    gate.awake(); // two threads awake on one core
    expect(gate.maySpin()).toBe(false);
    gate.asleep();
    expect(gate.maySpin()).toBe(true);
    const own = { words: new Int32Array(new SharedArrayBuffer(8)), at: 0 };
    const worker = new CoreGate(words, 0, own);
    worker.awake();
    gate.release(own); // the worker died awake: its share is taken back
    expect(Atomics.load(words, 0)).toBe(1);
    const spinner = new Spinner(20);
    for (let i = 0; i < 10; i++) expect(spinner.spin(() => false, gate)).toBe(false);
    expect(spinner.misses).toBeLessThan(10); // it stopped trying
    expect(spinner.spin(() => true, gate)).toBe(true);
  });
});

describe('isolated transport: the channel', () => {
  function pair() {
    const { port1, port2 } = new MessageChannel();
    const ringAB = newRingBuffer();
    const ringBA = newRingBuffer();
    const words = new Int32Array(new SharedArrayBuffer(16));
    const bell = { seq: 0, sleeping: 1 };
    let readable = 0;
    const a = new ChannelEnd<unknown, unknown>({ outRing: ringAB, inRing: ringBA, port: port1, peerWords: words, peerBell: bell, onReadable: () => {}, onOverflow: () => {} });
    const b = new ChannelEnd<unknown, unknown>({ outRing: ringBA, inRing: ringAB, port: port2, peerWords: words, peerBell: bell, onReadable: () => readable++, onOverflow: () => {} });
    const close = () => (a.close(), b.close(), port1.close(), port2.close());
    return { a, b, readable: () => readable, close };
  }

  it('keeps order when large records travel by postMessage and the ring fills up', async () => {
    const { a, b, readable, close } = pair();
    const sent: unknown[] = [];
    for (let i = 0; i < 40; i++) {
      const body = i % 7 === 3 ? record(RING_RECORD_BYTES_MAX + 1000 * i, i) : i % 5 === 0 ? record(200_000, i) : { i, text: 'x'.repeat(i) };
      a.send({ i, body });
      sent.push({ i, body });
    }
    expect(a.sentByPort).toBe(6);
    expect(a.backlogBytes).toBeGreaterThan(0); // 200 KB records filled the 1 MiB ring
    const got: { i: number }[] = [];
    for (let spins = 0; got.length < sent.length && spins < 2_000; spins++) {
      b.drain((m) => got.push(m as { i: number }));
      a.flush();
      await new Promise((r) => setImmediate(r));
    }
    expect(got.map((m) => m.i)).toEqual(sent.map((_, i) => i));
    got.forEach((m, i) => {
      const want = (sent[i] as { body: unknown }).body;
      const have = (m as unknown as { body: unknown }).body;
      if (want instanceof Uint8Array) expect(Buffer.compare(have as Uint8Array, want)).toBe(0);
      else expect(have).toEqual(want);
    });
    expect(readable()).toBe(6);
    expect(a.backlogBytes).toBe(0);
    close();
  });
});
