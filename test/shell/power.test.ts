// Power for crash and reboot: the write-cache disk loses exactly what the fault-injecting
// disk loses under every crash mode (property), sockets die with the power, and a crash
// through the host drops unflushed sectors written by the real driver while keeping
// flushed ones, and Axiom's committed records, across the reboot.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DiskIoError } from '../../kernel/machine/disk/backend.ts';
import { FaultyBackend } from '../../kernel/machine/disk/faulty.ts';
import { FileBackend } from '../../kernel/machine/disk/file.ts';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { VirtioBlkClient } from '../../drivers/virtio-blk/protocol.ts';
import { rec } from '../../axiom/protocol.ts';
import { PowerSupply, WriteCacheDisk, type CrashMode } from '../../tools/shell/power.ts';
import { WRITE_CACHE_WRITES_MAX } from '../../tools/shell/limits.ts';
import { axiomClient, MiB, startTestHost } from './system.ts';
import { Capture } from './harness.ts';
import { Shell } from '../../tools/shell/shell.ts';

const SECTOR = 512;
const DISK_SECTORS = 64;

type Op = { kind: 'write'; sector: number; count: number; fill: number } | { kind: 'discard'; sector: number; count: number } | { kind: 'flush' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('write' as const), sector: fc.integer({ min: 0, max: DISK_SECTORS - 8 }), count: fc.integer({ min: 1, max: 8 }), fill: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('discard' as const), sector: fc.integer({ min: 0, max: DISK_SECTORS - 4 }), count: fc.integer({ min: 1, max: 4 }) }),
  fc.constant({ kind: 'flush' as const }),
);

const modeArb: fc.Arbitrary<CrashMode> = fc.oneof(
  fc.constant('lose-all' as const),
  fc.constant('keep-all' as const),
  fc.integer({ min: 0, max: 1000 }).map((subset) => ({ subset })),
  fc.integer({ min: 0, max: 1000 }).map((torn) => ({ torn })),
);

function apply(disk: { write(o: number, d: Uint8Array): void; discard(o: number, l: number): void; flush(): void }, op: Op): void {
  if (op.kind === 'flush') disk.flush();
  else if (op.kind === 'discard') disk.discard(op.sector * SECTOR, op.count * SECTOR);
  else disk.write(op.sector * SECTOR, new Uint8Array(op.count * SECTOR).fill(op.fill));
}

/** Byte equality without a deep-equality walk (fast, and no megabyte diffs on failure). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

function readAll(disk: { read(o: number, d: Uint8Array): void }): Uint8Array {
  const out = new Uint8Array(DISK_SECTORS * SECTOR);
  disk.read(0, out);
  return out;
}

describe('WriteCacheDisk', () => {
  it('reads and crash survivors agree with the faulty backend for every mode (property)', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 30 }), modeArb, (ops, mode) => {
        const inner = new MemoryBackend(DISK_SECTORS * SECTOR);
        const cached = new WriteCacheDisk(inner);
        const faulty = new FaultyBackend(DISK_SECTORS * SECTOR);
        for (const op of ops) {
          apply(cached, op);
          apply(faulty, op);
          expect(same(readAll(cached), readAll(faulty))).toBe(true);
        }
        expect(cached.unflushedCount).toBe(faulty.unflushedCount);
        const a = cached.crash(mode);
        const b = faulty.crash(mode);
        expect([a.keptSeqs.length, a.torn?.sectorCount]).toEqual([b.keptSeqs.length, b.torn?.sectorCount]);
        expect(same(readAll(cached), readAll(faulty))).toBe(true);
        expect(same(inner.bytes, readAll(faulty))).toBe(true); // what survived is in the backend itself
      }),
    );
  });

  it('nothing reaches the backend before a flush; a flush writes everything in order', () => {
    const inner = new MemoryBackend(DISK_SECTORS * SECTOR);
    const cached = new WriteCacheDisk(inner);
    cached.write(0, new Uint8Array(SECTOR).fill(1));
    cached.write(0, new Uint8Array(SECTOR).fill(2));
    expect(inner.bytes[0]).toBe(0);
    expect(readAll(cached)[0]).toBe(2);
    cached.flush();
    expect(inner.bytes[0]).toBe(2);
    expect(cached.unflushedCount).toBe(0);
  });

  it(`writes back early past ${WRITE_CACHE_WRITES_MAX} unflushed writes (never later than a flush), keeping memory bounded`, () => {
    const inner = new MemoryBackend(DISK_SECTORS * SECTOR);
    const cached = new WriteCacheDisk(inner);
    for (let i = 0; i <= WRITE_CACHE_WRITES_MAX; i++) cached.write((i % DISK_SECTORS) * SECTOR, new Uint8Array(SECTOR).fill((i % 250) + 1));
    expect(cached.earlyWriteBacks).toBe(1);
    expect(cached.unflushedCount).toBe(0);
    expect(inner.bytes).toEqual(readAll(cached));
  });

  it('close writes back what is cached, as a host page cache would', () => {
    const inner = new MemoryBackend(DISK_SECTORS * SECTOR);
    const cached = new WriteCacheDisk(inner);
    cached.write(SECTOR, new Uint8Array(SECTOR).fill(9));
    cached.close();
    expect(inner.bytes[SECTOR]).toBe(9);
  });
});

describe('PowerSupply', () => {
  it('a cut socket refuses everything with IOERR; a new socket works; two live sockets are refused', () => {
    const power = new PowerSupply(new FaultyBackend(DISK_SECTORS * SECTOR));
    const first = power.plug();
    first.write(0, new Uint8Array(SECTOR).fill(7));
    expect(() => power.plug()).toThrow(/still plugged in/);
    const report = power.cut('lose-all');
    expect(report).toEqual({ mode: 'lose-all', unflushedCount: 1, keptCount: 0, tornSectors: null, lostCount: 1 });
    for (const call of [() => first.read(0, new Uint8Array(SECTOR)), () => first.write(0, new Uint8Array(SECTOR)), () => first.flush()]) {
      expect(call).toThrow(DiskIoError);
    }
    const second = power.plug();
    const back = new Uint8Array(SECTOR);
    second.read(0, back);
    expect(back[0]).toBe(0);
    second.close(); // a clean stop unplugs, the disk stays open
    const third = power.plug();
    third.read(0, back);
    power.close();
    expect(() => third.read(0, back)).toThrow(DiskIoError);
  });
});

describe('crash and reboot through the host', () => {
  for (const kind of ['faulty', 'file'] as const) {
    it(`${kind} disk: flushed sectors survive a power cut, unflushed ones are lost; a reboot keeps both`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-power-'));
      const disk = kind === 'faulty' ? new FaultyBackend(16 * MiB) : FileBackend.open(path.join(dir, 'disk.img'), { create: true, sizeBytes: 16 * MiB });
      const { host } = await startTestHost({ disk, axiom: false });
      try {
        const sectorFlushed = 20_000;
        const sectorUnflushed = 20_008;
        const blk = () => new VirtioBlkClient(host.system.user);
        await blk().write(sectorFlushed, new Uint8Array(4096).fill(0xaa));
        await blk().flush();
        await blk().write(sectorUnflushed, new Uint8Array(4096).fill(0xbb));
        expect((await blk().read(sectorUnflushed, 8))[0]).toBe(0xbb);
        const report = await host.crash('lose-all');
        expect(report.powerCut).toMatchObject({ unflushedCount: 1, keptCount: 0, lostCount: 1 });
        expect((await blk().read(sectorFlushed, 8))[0]).toBe(0xaa);
        expect((await blk().read(sectorUnflushed, 8))[0]).toBe(0);

        await blk().write(sectorUnflushed, new Uint8Array(4096).fill(0xcc));
        await host.reboot(); // a clean stop flushes
        expect((await blk().read(sectorUnflushed, 8))[0]).toBe(0xcc);
      } finally {
        await host.shutdown();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it("Axiom's committed records survive crash --torn; the crash command reports the cut and the recovery", async () => {
    const { host } = await startTestHost();
    const out = new Capture();
    const shell = new Shell(host, { output: out });
    try {
      for (let i = 0; i < 5; i++) await axiomClient(host).proposeOne('Mkdir', { parentIno: 1, ino: 10 + i, name: `d${i}`, mode: 0o755, timeMs: i });
      await new VirtioBlkClient(host.system.user).write(30_000, new Uint8Array(8 * 4096).fill(1)); // something to tear
      expect(await shell.runLine('crash --torn')).toBe(0);
      expect(out.text).toMatch(/crash: power cut \(torn\): 1 unflushed write in the disk cache: 0 kept, 1 torn after \d+ sectors?, 0 lost\n/);
      expect(out.text).toContain('recovery: axiom at seq 10 from checkpoint 0: 5 transactions replayed');
      out.text = '';
      expect(await shell.runLine('log 4')).toBe(0);
      expect(out.text.split('\n').slice(0, 3)).toEqual([
        expect.stringMatching(/^SEQ\s+TXID\s+TYPE\s+HASH\s+PAYLOAD$/),
        expect.stringMatching(/^ {2}7\s+7\s+Mkdir\s+[0-9a-f]{12}\s+parentIno=1 ino=13 name="d3" mode=0755 timeMs=3$/),
        expect.stringMatching(/^ {2}8\s+7\s+Commit\s+[0-9a-f]{12}\s+recordCount=1$/),
      ]);
      expect(out.text).toContain('axiom: records 1..10 in the log, checkpoint at 0');
    } finally {
      await shell.shutdown();
    }
  });
});
