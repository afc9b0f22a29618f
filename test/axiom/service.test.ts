// The Axiom service under the deterministic kernel: the typed client, errors as values
// while other clients keep committing, group commit on virtual time, long-poll
// subscription, restart and recovery; and the block-service adapter's address mapping.
import { describe, expect, it } from 'vitest';
import { Kernel } from '../../kernel/kernel.ts';
import { ServiceError } from '../../kernel/errors.ts';
import { MemoryLogDevice } from '../../axiom/device.ts';
import { axiomManifest } from '../../axiom/service.ts';
import { AxiomClient, rec, type CommittedTxn } from '../../axiom/protocol.ts';
import { BlockLogDevice, blockLogDevice, type BlockPort } from '../../axiom/block-device.ts';
import { AxiomLog } from '../../axiom/log.ts';
import { AXIOM_BLOCK_SIZE_BYTES } from '../../axiom/limits.ts';
import { taggedTxn } from './helpers.ts';

async function boot(device: MemoryLogDevice, options = {}) {
  const k = new Kernel({ seed: 11 });
  await k.spawn(axiomManifest({ device: () => device, formatIfEmpty: true, checkpointImageSizeBytesMax: 1024, options }));
  const attach = (name: string) => new AxiomClient(k.attach({ name, calls: ['axiom'] }));
  return { k, attach };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e instanceof ServiceError ? e.code : `not a ServiceError: ${String(e)}`;
  }
}

describe('axiom service', () => {
  it('formats an empty region, commits, reads, verifies and recovers after a restart', async () => {
    const device = new MemoryLogDevice(64);
    const { k, attach } = await boot(device);
    const app = attach('app');
    const receipt = await app.propose(taggedTxn(1, 3));
    expect(receipt).toEqual({ txid: 1, firstSeq: 1, commitSeq: 4 });
    await app.proposeOne('ChunkRef', { hash: new Uint8Array(32).fill(9), delta: 2 });
    const { records, committedSeq, startSeq } = await app.read(1);
    expect([startSeq, committedSeq]).toEqual([1, 6]);
    expect(records.map((r) => r.type)).toEqual(['FileCreate', 'Unlink', 'FileCreate', 'Commit', 'ChunkRef', 'Commit']);
    const chunkRef = records[4];
    expect(chunkRef.type === 'ChunkRef' && Array.from(chunkRef.payload.hash)).toEqual(new Array(32).fill(9));
    expect(records[4].hash).toHaveLength(32);
    expect(await app.verify()).toMatchObject({ ok: true, committedSeq: 6 });
    await app.checkpoint({ root: 'r1' });
    const info = await app.info();
    expect(info).toMatchObject({ startSeq: 7, checkpointSeq: 7, committedSeq: 8, epoch: 1 });
    expect(info.logIdHex).toMatch(/^[0-9a-f]{32}$/);

    await k.stop('axiom');
    const again = await boot(device);
    const app2 = again.attach('app2');
    expect(await app2.info()).toMatchObject({ logIdHex: info.logIdHex, committedSeq: 8, epoch: 2, recovery: { checkpointSeq: 7, committedSeq: 8 } });
    expect(await app2.checkpointImage()).toEqual({ seq: 7, image: { root: 'r1' } });
    expect(await codeOf(app2.read(1))).toBe('PRUNED');
  });

  it('answers bad requests with errors while other clients keep committing', async () => {
    const { k, attach } = await boot(new MemoryLogDevice(64));
    const clients = Array.from({ length: 6 }, (_, i) => attach(`c${i}`));
    const raw = k.attach({ name: 'raw', calls: ['axiom'] });
    const results = await Promise.all([
      codeOf(clients[0].propose(taggedTxn(1))),
      codeOf(clients[1].propose([{ type: 'Frobnicate', payload: {} }])),
      codeOf(clients[2].propose([{ type: 'Unlink', payloadBytes: new Uint8Array([0xdc, 0x00]) }])),
      codeOf(clients[3].propose(taggedTxn(2))),
      codeOf(clients[4].propose([{ type: 'Unlink', payloadBytes: new Uint8Array(2 * 1024 * 1024) }])),
      codeOf(raw.call('axiom', 'propose', { records: 'all of them' })),
      codeOf(raw.call('axiom', 'read', { fromSeq: -1 })),
      codeOf(raw.call('axiom', 'explode', {})),
      codeOf(clients[5].propose(taggedTxn(3))),
    ]);
    expect(results).toEqual(['ok', 'BADRECORD', 'BADRECORD', 'ok', 'TOOBIG', 'BADMSG', 'BADMSG', 'BADOP', 'ok']);
    const { records } = await clients[0].read(1);
    expect(records.filter((r) => r.type === 'FileCreate').map((r) => r.type === 'FileCreate' && r.payload.ino)).toEqual([1, 2, 3]);
    expect(k.serviceStats().find((s) => s.name === 'axiom')!.internalErrors).toBe(0);
  });

  it('group-commits concurrent clients under one flush on virtual time', async () => {
    const device = new MemoryLogDevice(256);
    const { attach } = await boot(device, { batchWaitMs: 2 });
    const clients = Array.from({ length: 20 }, (_, i) => attach(`c${i}`));
    await clients[0].info(); // recovery (and formatting) done
    const flushes = device.counters.flushes;
    const receipts = await Promise.all(clients.map((c, i) => c.propose(taggedTxn(i, 2))));
    expect(device.counters.flushes - flushes).toBe(1);
    expect(new Set(receipts.map((r) => r.txid)).size).toBe(20);
    expect(await clients[0].stats()).toMatchObject({ batches: 1, batchTransactionsMax: 20, transactionsCommitted: 20 });
  });

  it('lets a follower subscribe to new commits by long poll', async () => {
    const { attach } = await boot(new MemoryLogDevice(64));
    const writer = attach('writer');
    const follower = attach('follower');
    expect(await follower.wait(0, 50)).toBe(0); // nothing yet: times out on virtual time
    const seen: number[] = [];
    const following = (async () => {
      for await (const t of follower.follow(1, 1_000) as AsyncGenerator<CommittedTxn>) {
        const r = t.records[0];
        seen.push(r.type === 'FileCreate' ? r.payload.ino : -1);
        if (seen.length === 5) return;
      }
    })();
    for (let i = 1; i <= 5; i++) await writer.propose(taggedTxn(i, 1 + (i % 2)));
    await following;
    expect(seen).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('axiom service on a damaged region', () => {
  it('answers every request with the recovery error instead of crashing', async () => {
    const device = new MemoryLogDevice(64);
    device.bytes.fill(0xee, 0, 2 * AXIOM_BLOCK_SIZE_BYTES); // both anchor slots: garbage, not zeros
    const { k, attach } = await boot(device);
    const app = attach('app');
    expect(await codeOf(app.info())).toBe('CORRUPT');
    expect(await codeOf(app.propose(taggedTxn(1)))).toBe('CORRUPT');
    expect(device.bytes[0]).toBe(0xee); // never formatted over
    expect(k.logLines.some((l) => l.includes('recovery failed'))).toBe(true);
  });
});

describe('block-service adapter', () => {
  it('maps region-relative blocks to the image and splits requests at ioBlocksMax', async () => {
    const image = new MemoryLogDevice(200);
    const calls: string[] = [];
    const port: BlockPort = {
      info: async () => ({ blockSizeBytes: 4096, regions: { axiom: { blockIndex: 100, blockCount: 64 } }, limits: { ioBlocksMax: 8 } }),
      read: async (blockIndex, blockCount) => {
        calls.push(`r${blockIndex}+${blockCount}`);
        return image.read(blockIndex, blockCount);
      },
      write: async (blockIndex, data) => {
        calls.push(`w${blockIndex}+${data.length / 4096}`);
        return image.write(blockIndex, data);
      },
      flush: () => image.flush(),
    };
    const device = await blockLogDevice(port);
    expect(device).toBeInstanceOf(BlockLogDevice);
    expect(device.blockCount).toBe(64);
    await device.write(3, new Uint8Array(20 * AXIOM_BLOCK_SIZE_BYTES).fill(5));
    expect(calls).toEqual(['w103+8', 'w111+8', 'w119+4']);
    expect(image.bytes[103 * 4096]).toBe(5);
    expect(image.bytes[102 * 4096]).toBe(0);
    calls.length = 0;
    expect((await device.read(2, 10)).subarray(4096, 4097)[0]).toBe(5);
    expect(calls).toEqual(['r102+8', 'r110+2']);
    await expect(device.write(60, new Uint8Array(8 * 4096))).rejects.toMatchObject({ code: 'BADARG' });
    // A log lives in the region and nowhere else.
    await AxiomLog.format(device, { logId: new Uint8Array(16).fill(1), checkpointImageSizeBytesMax: 1024 });
    const log = await AxiomLog.open(device);
    await log.propose([rec('SnapshotDelete', { name: 'x' })]);
    expect(image.bytes.subarray(0, 100 * 4096).every((b) => b === 0)).toBe(true);
    expect(image.bytes.subarray(164 * 4096).every((b) => b === 0)).toBe(true);
  });
});
