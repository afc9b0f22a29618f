// The engine: round trip, group commit sharing one flush, batch limits and the injected
// wait, readers and subscribers, checkpoints with ring wrap and the chain carried across,
// NOSPC with nothing lost, bad input refused while others commit, tampering on the
// device, device failure, and the anchor's two slots.
import { describe, expect, it } from 'vitest';
import { encode } from '../../kernel/codec.ts';
import { ServiceError } from '../../kernel/errors.ts';
import { AxiomLog } from '../../axiom/log.ts';
import { MemoryLogDevice } from '../../axiom/device.ts';
import { rec } from '../../axiom/records.ts';
import { AXIOM_BLOCK_SIZE_BYTES, RECORD_PAYLOAD_SIZE_BYTES_MAX } from '../../axiom/limits.ts';
import { FRAME_OFFSET } from '../../axiom/frame.ts';
import { freshLog, KillSwitchDevice, ManualTime, replay, taggedTxn, tagOf } from './helpers.ts';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e instanceof ServiceError ? e.code : `not a ServiceError: ${String(e)}`;
  }
}

describe('round trip', () => {
  it('commits, reads back, replays by transaction and survives reopen', async () => {
    const { device, log } = await freshLog(64);
    const receipts = [];
    for (let i = 1; i <= 50; i++) receipts.push(await log.propose(taggedTxn(i, 1 + (i % 4))));
    expect(receipts[0]).toEqual({ txid: 1, firstSeq: 1, commitSeq: 3 }); // 2 records + Commit
    expect(receipts[1]).toEqual({ txid: 4, firstSeq: 4, commitSeq: 7 }); // 3 records + Commit
    const records = await log.read(5, 4);
    expect(records.map((r) => [r.seq, r.txid, r.type])).toEqual([[5, 4, 'Unlink'], [6, 4, 'FileCreate'], [7, 4, 'Commit'], [8, 8, 'FileCreate']]);
    expect((await replay(log)).map(tagOf)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(await log.verify()).toMatchObject({ ok: true, committedSeq: log.committedSeq });
    const committedSeq = log.committedSeq;
    await log.close();
    expect(await codeOf(log.propose(taggedTxn(99)))).toBe('CLOSED');

    const again = await AxiomLog.open(device);
    expect(again.recovery).toMatchObject({ committedSeq, transactionsFound: 50, discardedRecords: 0, stop: { reason: 'length', seq: committedSeq + 1 } });
    const txns = await replay(again);
    expect(txns.map(tagOf)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(txns[3].records.map((r) => r.payload)).toEqual(taggedTxn(4, 1 + (4 % 4)).map((r) => r.payload));
    expect((await again.propose(taggedTxn(51))).firstSeq).toBe(committedSeq + 1);
    expect(again.stats().epoch).toBe(2);
  });

  it('refuses to open an unformatted region and to format over a log', async () => {
    const device = new MemoryLogDevice(64);
    expect(await codeOf(AxiomLog.open(device))).toBe('NOTFORMATTED');
    await AxiomLog.format(device, { logId: new Uint8Array(16), checkpointImageSizeBytesMax: 1024 });
    expect(await codeOf(AxiomLog.format(device, { logId: new Uint8Array(16), checkpointImageSizeBytesMax: 1024 }))).toBe('BADARG');
    expect(await codeOf(AxiomLog.format(new MemoryLogDevice(4), { logId: new Uint8Array(16) }))).toBe('BADARG');
  });

  it('opens read-only without writing anything', async () => {
    const { device, log } = await freshLog(64);
    await log.propose(taggedTxn(1));
    await log.close();
    const before = device.bytes.slice();
    const ro = await AxiomLog.open(device, { readOnly: true });
    expect((await replay(ro)).map(tagOf)).toEqual([1]);
    expect(await codeOf(ro.propose(taggedTxn(2)))).toBe('READONLY');
    expect(Buffer.from(device.bytes).equals(Buffer.from(before))).toBe(true);
  });
});

describe('group commit', () => {
  it('commits proposals that arrive together under one flush', async () => {
    const { device, log } = await freshLog(256);
    const flushesBefore = device.counters.flushes;
    const receipts = await Promise.all(Array.from({ length: 100 }, (_, i) => log.propose(taggedTxn(i, 2))));
    expect(device.counters.flushes - flushesBefore).toBe(1);
    expect(log.stats()).toMatchObject({ batches: 1, batchTransactionsMax: 100, transactionsCommitted: 100 });
    // Seal order is arrival order; seq ranges are contiguous and disjoint.
    receipts.forEach((r, i) => expect(r).toEqual({ txid: 1 + 3 * i, firstSeq: 1 + 3 * i, commitSeq: 3 + 3 * i }));
  });

  it('keeps batches within their record limit and queues the rest behind the flush in flight', async () => {
    const { device, log } = await freshLog(256, { batchRecordsMax: 10 });
    const flushesBefore = device.counters.flushes;
    await Promise.all(Array.from({ length: 100 }, (_, i) => log.propose(taggedTxn(i))));
    expect(log.stats().batches).toBe(20); // 5 transactions of 2 records each per batch
    expect(device.counters.flushes - flushesBefore).toBe(20);
    expect((await replay(log)).map(tagOf)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('waits at most batchWaitMs on the injected timers, and not at all once a batch is full', async () => {
    const time = new ManualTime();
    const { log } = await freshLog(256, { timers: time, clock: time, batchWaitMs: 5, batchRecordsMax: 8 });
    let done = 0;
    const first = log.propose(taggedTxn(1)).then(() => done++);
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(0); // waiting for company
    expect(time.armed).toBe(1);
    time.advance(2);
    const second = log.propose(taggedTxn(2)).then(() => done++);
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(0);
    time.advance(3); // the first proposal has waited 5 ms: seal
    await Promise.all([first, second]);
    expect(log.stats()).toMatchObject({ batches: 1, batchTransactionsMax: 2, batchWaitMsMax: 5 });
    // Four 2-record proposals fill a batch of 8 records: no wait.
    await Promise.all(Array.from({ length: 4 }, (_, i) => log.propose(taggedTxn(10 + i))));
    expect(log.stats().batches).toBe(2);
    expect(time.armed).toBe(0);
  });
});

describe('readers', () => {
  it('reads from any seq, bounded, and refuses seqs reclaimed behind a checkpoint', async () => {
    const { log } = await freshLog(64);
    for (let i = 0; i < 200; i++) await log.propose(taggedTxn(i));
    expect((await log.read(151, 7)).map((r) => r.seq)).toEqual([151, 152, 153, 154, 155, 156, 157]);
    expect(await log.read(log.committedSeq + 1)).toEqual([]);
    expect(await codeOf(log.read(0))).toBe('BADARG');
    const cp = await log.checkpoint({ root: 'abc' });
    expect(log.startSeq).toBe(cp.firstSeq);
    expect(await codeOf(log.read(cp.firstSeq - 1))).toBe('PRUNED');
    expect(await log.checkpointImage()).toEqual({ seq: cp.firstSeq, image: { root: 'abc' } });
    const txns = await replay(log);
    expect(txns).toHaveLength(1);
    expect(txns[0].records[0]).toMatchObject({ type: 'Checkpoint', payload: { image: { root: 'abc' } } });
  });

  it('tells subscribers about every commit in order, after it is durable', async () => {
    const { device, log } = await freshLog(64);
    const heard: number[] = [];
    let flushesAtFirst = -1;
    const stop = log.subscribe((txns) => {
      if (flushesAtFirst < 0) flushesAtFirst = device.counters.flushes;
      for (const t of txns) heard.push(tagOf(t));
    });
    const before = device.counters.flushes;
    await Promise.all([1, 2, 3].map((i) => log.propose(taggedTxn(i, 3))));
    expect(flushesAtFirst).toBe(before + 1);
    await log.propose(taggedTxn(4));
    stop();
    await log.propose(taggedTxn(5));
    expect(heard).toEqual([1, 2, 3, 4]);
  });
});

describe('checkpoints and the ring', () => {
  it('wraps the ring many times over thousands of records, carrying the chain across checkpoints', async () => {
    const { device, log } = await freshLog(48);
    const ringSizeBytes = log.stats().ringSizeBytes;
    let tag = 0;
    let checkpoints = 0;
    let lastCheckpointTag = 0;
    while (log.stats().tailPos < 6 * ringSizeBytes) {
      const batch = Array.from({ length: 8 }, () => ++tag);
      const results = await Promise.allSettled(batch.map((t) => log.propose(taggedTxn(t, 1 + (t % 3), t % 50))));
      const refused = results.filter((r) => r.status === 'rejected');
      for (const r of refused) expect((r as PromiseRejectedResult).reason.code).toBe('NOSPC');
      if (refused.length > 0) {
        expect(await log.verify()).toMatchObject({ ok: true });
        const committed = batch.filter((_, i) => results[i].status === 'fulfilled');
        lastCheckpointTag = committed.length ? committed[committed.length - 1] : lastCheckpointTag;
        await log.checkpoint({ afterTag: lastCheckpointTag });
        checkpoints++;
        // Resubmit the refused ones after the checkpoint freed space.
        for (const [i, r] of results.entries()) if (r.status === 'rejected') await log.propose(taggedTxn(batch[i], 1 + (batch[i] % 3), batch[i] % 50));
      }
    }
    expect(checkpoints).toBeGreaterThanOrEqual(5);
    expect(log.committedSeq).toBeGreaterThan(5_000);
    expect(await log.verify()).toMatchObject({ ok: true });
    const live = (await replay(log)).slice(1).map(tagOf);
    await log.close();

    const again = await AxiomLog.open(device);
    expect(await again.checkpointImage()).toMatchObject({ image: { afterTag: lastCheckpointTag } });
    expect((await replay(again)).slice(1).map(tagOf)).toEqual(live);
    expect(live.length).toBeGreaterThan(0);
    expect(await again.verify()).toMatchObject({ ok: true });
  });

  it('fails appends with NOSPC when full, loses nothing, and can still checkpoint', async () => {
    const { device, log } = await freshLog(24);
    let tag = 0;
    for (;;) {
      const code = await codeOf(log.propose(taggedTxn(++tag, 2, 100)));
      if (code === 'NOSPC') break;
      expect(code).toBe('ok');
    }
    const committed = tag - 1;
    expect(await codeOf(log.propose(taggedTxn(999)))).toBe('NOSPC');
    expect(log.stats().refused.NOSPC).toBe(2);
    await log.close();
    const again = await AxiomLog.open(device);
    expect((await replay(again)).map(tagOf)).toEqual(Array.from({ length: committed }, (_, i) => i + 1));
    await again.checkpoint({ upTo: committed }); // the reserve guarantees room for this
    expect(await codeOf(again.propose(taggedTxn(1000)))).toBe('ok');
  });

  it('refuses a transaction that could never fit the region with TOOBIG', async () => {
    const { log } = await freshLog(24);
    const huge = Array.from({ length: 400 }, (_, i) => rec('Unlink', { parentIno: 1, name: 'n'.repeat(200) + i, timeMs: 0 }));
    expect(await codeOf(log.propose(huge))).toBe('TOOBIG');
    expect(await codeOf(log.checkpoint('x'.repeat(2000)))).toBe('TOOBIG');
  });
});

describe('bad input', () => {
  it('refuses bad proposals with clear errors while concurrent good ones commit', async () => {
    const { log } = await freshLog(64);
    const results = await Promise.all([
      codeOf(log.propose(taggedTxn(1))),
      codeOf(log.propose([{ type: 'NoSuchType', payload: {} }])),
      codeOf(log.propose(taggedTxn(2))),
      codeOf(log.propose([{ type: 'Unlink', payloadBytes: new Uint8Array([0x92, 0x01]) }])),
      codeOf(log.propose([{ type: 'Unlink', payloadBytes: new Uint8Array(RECORD_PAYLOAD_SIZE_BYTES_MAX + 1) }])),
      codeOf(log.propose([{ type: 'Commit', payload: { recordCount: 1 } }])),
      codeOf(log.propose([...taggedTxn(3), { type: 'Unlink', payload: { parentIno: 'one' } }])),
      codeOf(log.propose([])),
      codeOf(log.propose(taggedTxn(4))),
    ]);
    expect(results).toEqual(['ok', 'BADRECORD', 'ok', 'BADRECORD', 'TOOBIG', 'BADRECORD', 'BADRECORD', 'BADRECORD', 'ok']);
    expect((await replay(log)).map(tagOf)).toEqual([1, 2, 4]);
    expect(log.stats().refused).toEqual({ BADRECORD: 5, TOOBIG: 1 });
  });

  it('accepts raw msgpack payload bytes that decode to a valid payload', async () => {
    const { log } = await freshLog(64);
    await log.propose([{ type: 'SnapshotDelete', payloadBytes: encode({ name: 'snap-1' }) }]);
    expect((await log.read(1, 1))[0]).toMatchObject({ type: 'SnapshotDelete', payload: { name: 'snap-1' } });
  });
});

describe('integrity', () => {
  it('names a tampered committed record in verify() and refuses to read it', async () => {
    const { device, log } = await freshLog(64);
    for (let i = 1; i <= 20; i++) await log.propose(taggedTxn(i, 2));
    // Transaction 11 starts at record 31 (three records per transaction). Walk the frames to find it.
    const ringStart = 2 * AXIOM_BLOCK_SIZE_BYTES;
    const view = new DataView(device.bytes.buffer);
    let pos = ringStart;
    for (let seq = 1; seq < 31; seq++) pos += Math.ceil(view.getUint32(pos + FRAME_OFFSET.frameLength, true) / 8) * 8;
    expect(view.getUint32(pos + FRAME_OFFSET.seq, true)).toBe(31);
    for (const offset of [FRAME_OFFSET.payload + 3, FRAME_OFFSET.seq, FRAME_OFFSET.hash + 5, FRAME_OFFSET.type, FRAME_OFFSET.checksum]) {
      device.bytes[pos + offset] ^= 0x20;
      expect(await log.verify(), `offset ${offset}`).toMatchObject({ ok: false, badSeq: 31 });
      expect(await codeOf(log.read(30))).toBe('CORRUPT');
      expect((await log.read(1, 30)).length).toBe(30);
      device.bytes[pos + offset] ^= 0x20;
    }
    expect(await log.verify()).toMatchObject({ ok: true });
  });

  it('stops on a device failure with EIO for everything in flight, and recovers on reopen', async () => {
    const { device } = await freshLog(64);
    const kill = new KillSwitchDevice(device);
    const log = await AxiomLog.open(kill);
    await log.propose(taggedTxn(1));
    kill.arm(1); // the next operation (the batch's write) lands, then power is lost
    const codes = await Promise.all([2, 3, 4].map((t) => codeOf(log.propose(taggedTxn(t)))));
    expect(codes).toEqual(['EIO', 'EIO', 'EIO']);
    expect(log.state).toBe('broken');
    expect(await codeOf(log.propose(taggedTxn(5)))).toBe('EIO');
    // The memory device kept the write (it has no cache to lose): the batch is recovered whole.
    const again = await AxiomLog.open(device);
    expect((await replay(again)).map(tagOf)).toEqual([1, 2, 3, 4]);
  });

  it('survives a torn write of the newest anchor slot', async () => {
    const { device, log } = await freshLog(64);
    await log.propose(taggedTxn(1));
    await log.checkpoint({ n: 1 });
    await log.propose(taggedTxn(2));
    const generation = log.stats().anchorGeneration;
    await log.close();
    // Tear the newest slot's second sector... the checksum covers the first 128 bytes, so damage those.
    device.bytes[(generation % 2) * AXIOM_BLOCK_SIZE_BYTES + 60] ^= 0xff;
    const again = await AxiomLog.open(device);
    // The older anchor (before the checkpoint moved it) is used; the walk finds the checkpoint and moves it again.
    expect(again.recovery.anchorMoved).toBe(true);
    expect((await replay(again)).map((t) => t.records[0].type)).toEqual(['Checkpoint', 'FileCreate']);
    // Both slots destroyed: CORRUPT, not an empty log.
    device.bytes[0] ^= 1;
    device.bytes[AXIOM_BLOCK_SIZE_BYTES] ^= 1;
    expect(await codeOf(AxiomLog.open(device))).toBe('CORRUPT');
  });
});
