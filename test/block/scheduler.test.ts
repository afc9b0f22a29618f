// I/O scheduler over a fake driver port: merging adjacent requests into multi-segment
// requests (up to seg_max), C-LOOK ordering, FLUSH barriers, overlapping requests kept in
// order, and a model test with out-of-order completions: results are those of running
// the requests one by one in arrival order, and a FLUSH covers every earlier write.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { IoScheduler, type DriverPort } from '../../services/block/scheduler.ts';
import { Staging } from '../../services/block/staging.ts';
import { BLOCK_SIZE_BYTES as B } from '../../services/block/limits.ts';
import type { Segment } from '../../drivers/virtio-blk/protocol.ts';

const GRANT = 77;

interface DeviceReq {
  kind: 'read' | 'write' | 'flush';
  blockIndex: number;
  blockCount: number;
  segments: number;
  done: () => void;
}

/** A driver stand-in: requests complete when the test says, in any order; FLUSH snapshots the durable image. */
class FakePort implements DriverPort {
  readonly disk: Uint8Array;
  durable: Uint8Array;
  readonly snapshots: Uint8Array[] = [];
  readonly log: DeviceReq[] = [];
  private held: DeviceReq[] = [];
  auto = false;
  constructor(
    readonly staging: Staging,
    blocks: number,
  ) {
    this.disk = new Uint8Array(blocks * B);
    this.durable = this.disk.slice();
  }
  private seg(s: Segment): Uint8Array {
    expect(s.grantId).toBe(GRANT);
    return this.staging.bytes.subarray(s.offsetBytes, s.offsetBytes + s.lengthBytes);
  }
  private enqueue(r: Omit<DeviceReq, 'done'>, work: () => void): Promise<void> {
    return new Promise((resolve) => {
      const req = { ...r, done: () => (work(), resolve()) };
      this.log.push(req);
      if (this.auto) req.done();
      else this.held.push(req);
    });
  }
  readInto(sector: number, count: number, into: Segment[]): Promise<void> {
    return this.enqueue({ kind: 'read', blockIndex: sector / 8, blockCount: count / 8, segments: into.length }, () => {
      let at = sector * 512;
      for (const s of into) {
        this.seg(s).set(this.disk.subarray(at, at + s.lengthBytes));
        at += s.lengthBytes;
      }
    });
  }
  writeFrom(sector: number, from: Segment[]): Promise<void> {
    const bytes = from.reduce((n, s) => n + s.lengthBytes, 0);
    return this.enqueue({ kind: 'write', blockIndex: sector / 8, blockCount: bytes / B, segments: from.length }, () => {
      let at = sector * 512;
      for (const s of from) {
        this.disk.set(this.seg(s), at);
        at += s.lengthBytes;
      }
    });
  }
  flush(): Promise<void> {
    return this.enqueue({ kind: 'flush', blockIndex: 0, blockCount: 0, segments: 0 }, () => {
      this.durable = this.disk.slice();
      this.snapshots.push(this.durable);
    });
  }
  get heldCount(): number {
    return this.held.length;
  }
  /** Completes the held request at `index` (mod count). */
  completeAt(index: number): void {
    const [r] = this.held.splice(index % this.held.length, 1);
    r.done();
  }
  completeAll(): void {
    while (this.held.length) this.completeAt(0);
  }
}

function setup(opts: { depth?: number; segMax?: number; blocks?: number; stagingBlocks?: number } = {}) {
  const staging = new Staging(new Uint8Array((opts.stagingBlocks ?? 1024) * B), GRANT);
  const port = new FakePort(staging, opts.blocks ?? 1024);
  const sched = new IoScheduler(port, staging, opts.blocks ?? 1024, { queueDepth: opts.depth ?? 4, segMax: opts.segMax ?? 254, requestSizeBytesMax: 4 * 1024 * 1024 });
  return { staging, port, sched };
}

const fill = (v: number, blocks = 1) => new Uint8Array(blocks * B).fill(v);
const settle = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe('IoScheduler', () => {
  it('merges adjacent waiting writes into one multi-segment request, up to seg_max', async () => {
    const { port, sched } = setup({ depth: 1, segMax: 3 });
    const first = sched.writeBlocks(500, fill(1));
    const rest = [13, 10, 11, 12, 14, 30].map((b) => sched.writeBlocks(b, fill(b)));
    await settle();
    expect(port.log).toHaveLength(1);
    port.completeAll();
    await settle();
    // C-LOOK from 501 wraps to 10: 10,11,12 merged (seg_max 3), then 13,14, then 30.
    while (port.heldCount) {
      port.completeAll();
      await settle();
    }
    await Promise.all([first, ...rest]);
    expect(port.log.map((r) => [r.blockIndex, r.blockCount, r.segments])).toEqual([
      [500, 1, 1],
      [10, 3, 3],
      [13, 2, 2],
      [30, 1, 1],
    ]);
    expect(sched.stats().merged).toBe(3);
    for (const b of [10, 11, 12, 13, 14, 30]) expect(port.disk[b * B]).toBe(b);
  });

  it('dispatches waiting requests in ascending block order from the head (C-LOOK)', async () => {
    const { port, sched } = setup({ depth: 1 });
    const reads = [40, 900, 100, 7, 350].map((b) => sched.readBlocks(b, 1));
    await settle();
    while (port.heldCount) {
      port.completeAll();
      await settle();
    }
    await Promise.all(reads);
    expect(port.log.map((r) => r.blockIndex)).toEqual([40, 100, 350, 900, 7]);
  });

  it('keeps many requests in flight up to the queue depth', async () => {
    const { port, sched } = setup({ depth: 8 });
    const reads = [...Array(20).keys()].map((i) => sched.readBlocks(i * 10, 1));
    await settle();
    expect(port.heldCount).toBe(8);
    expect(sched.stats().queued).toBe(12);
    port.auto = true;
    port.completeAll();
    await Promise.all(reads);
    expect(sched.stats().inFlightMax).toBe(8);
  });

  it('issues a FLUSH only after earlier writes complete, and later writes only after the FLUSH', async () => {
    const { port, sched } = setup({ depth: 8 });
    const w1 = sched.writeBlocks(5, fill(1));
    const f = sched.flush();
    const w2 = sched.writeBlocks(900, fill(2));
    const r = sched.readBlocks(600, 1); // reads may pass the barrier
    await settle();
    expect(port.log.map((x) => x.kind)).toEqual(['write', 'read']);
    port.completeAt(0); // the first write
    await settle();
    expect(port.log.map((x) => x.kind)).toEqual(['write', 'read', 'flush']);
    expect(port.log.some((x) => x.blockIndex === 900)).toBe(false);
    port.completeAll();
    await settle();
    port.completeAll();
    await Promise.all([w1, f, w2, r]);
    expect(port.log.map((x) => x.kind)).toEqual(['write', 'read', 'flush', 'write']);
    expect(port.durable[5 * B]).toBe(1);
    expect(port.durable[900 * B]).toBe(0);
  });

  it('never has two overlapping requests in flight; the later write wins', async () => {
    const { port, sched } = setup({ depth: 8 });
    const a = sched.writeBlocks(5, fill(1, 4));
    const b = sched.writeBlocks(7, fill(2));
    const c = sched.readBlocks(7, 1);
    await settle();
    expect(port.heldCount).toBe(1);
    port.completeAll();
    await settle();
    port.completeAll();
    await settle();
    port.completeAll();
    await Promise.all([a, b]);
    expect((await c)[0]).toBe(2);
    expect(port.disk[7 * B]).toBe(2);
  });

  it('refuses out-of-range requests with RANGE', async () => {
    const { sched } = setup({ blocks: 100 });
    await expect(sched.readBlocks(99, 2)).rejects.toMatchObject({ code: 'RANGE' });
    await expect(sched.writeBlocks(-1, fill(1))).rejects.toMatchObject({ code: 'RANGE' });
  });

  it('behaves like one-at-a-time execution in arrival order, whatever the completion order', async () => {
    type Op = { kind: 'read' | 'write' | 'flush'; block: number; count: number; value: number };
    const opArb = fc.record({ kind: fc.constantFrom('read', 'write', 'write', 'flush'), block: fc.nat(30), count: fc.integer({ min: 1, max: 3 }), value: fc.integer({ min: 1, max: 255 }) }) as fc.Arbitrary<Op>;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), fc.array(fc.nat(), { minLength: 200, maxLength: 200 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 4 }), async (ops, picks, depth, segMax) => {
        const { port, sched } = setup({ depth, segMax, blocks: 64, stagingBlocks: 256 });
        const model = new Uint8Array(64);
        let flushes = 0;
        const checks: Promise<void>[] = [];
        for (const op of ops) {
          if (op.kind === 'write') {
            model.fill(op.value, op.block, op.block + op.count);
            checks.push(sched.writeBlocks(op.block, fill(op.value, op.count)));
          } else if (op.kind === 'read') {
            const expected = model.slice(op.block, op.block + op.count);
            checks.push(sched.readBlocks(op.block, op.count).then((bytes) => expected.forEach((v, i) => expect(bytes[i * B]).toBe(v))));
          } else {
            // Later writes wait for the FLUSH and it waits for earlier ones: its durable image is exactly the model now.
            const expected = model.slice();
            const nth = flushes++;
            checks.push(sched.flush().then(() => expected.forEach((v, b) => expect(port.snapshots[nth][b * B], `flush ${nth} block ${b}`).toBe(v))));
          }
        }
        let i = 0;
        while (port.heldCount) {
          port.completeAt(picks[i++ % picks.length]);
          await settle();
        }
        await Promise.all(checks);
        for (let b = 0; b < 64; b++) expect(port.disk[b * B]).toBe(model[b]);
      }),
      { numRuns: 150 },
    );
  });
});
