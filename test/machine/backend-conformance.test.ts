// One conformance suite, run against every disk backend: the DiskBackend contract.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { DiskIoError } from '../../kernel/machine/disk/backend.ts';
import type { DiskBackend } from '../../kernel/machine/disk/backend.ts';
import { FaultyBackend } from '../../kernel/machine/disk/faulty.ts';
import { FileBackend } from '../../kernel/machine/disk/file.ts';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { firstDifference } from './helpers.ts';

const SECTOR = 512;
const SIZE_BYTES = 64 * SECTOR;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-backend-'));
let fileCount = 0;
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const factories: Record<string, () => DiskBackend> = {
  memory: () => new MemoryBackend(SIZE_BYTES),
  file: () => FileBackend.open(path.join(tmp, `disk-${fileCount++}.img`), { create: true, sizeBytes: SIZE_BYTES }),
  faulty: () => new FaultyBackend(SIZE_BYTES),
};

function expectDiskError(fn: () => void, code: DiskIoError['code']): void {
  let caught: unknown = null;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(DiskIoError);
  expect((caught as DiskIoError).code).toBe(code);
}

type Op =
  | { kind: 'write'; sector: number; data: Uint8Array }
  | { kind: 'read'; sector: number; sectorCount: number }
  | { kind: 'discard'; sector: number; sectorCount: number }
  | { kind: 'flush' };

const SECTORS = SIZE_BYTES / SECTOR;
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.integer({ min: 0, max: SECTORS - 1 }).chain((sector) =>
    fc.integer({ min: 1, max: Math.min(8, SECTORS - sector) }).chain((sectorCount) =>
      fc.uint8Array({ minLength: sectorCount * SECTOR, maxLength: sectorCount * SECTOR }).map((data) => ({ kind: 'write' as const, sector, data })),
    ),
  ),
  fc.integer({ min: 0, max: SECTORS - 1 }).chain((sector) =>
    fc.integer({ min: 1, max: SECTORS - sector }).map((sectorCount) => ({ kind: 'read' as const, sector, sectorCount })),
  ),
  fc.integer({ min: 0, max: SECTORS - 1 }).chain((sector) =>
    fc.integer({ min: 1, max: SECTORS - sector }).map((sectorCount) => ({ kind: 'discard' as const, sector, sectorCount })),
  ),
  fc.constant({ kind: 'flush' as const }),
);

for (const [kind, make] of Object.entries(factories)) {
  describe(`DiskBackend conformance: ${kind}`, () => {
    it('reports its kind and size; a new disk reads as zeros', () => {
      const disk = make();
      expect(disk.kind).toBe(kind);
      expect(disk.sizeBytes).toBe(SIZE_BYTES);
      const dst = new Uint8Array(SIZE_BYTES).fill(0xaa);
      disk.read(0, dst);
      expect(dst.every((b) => b === 0)).toBe(true);
      disk.close();
    });

    it('matches a plain byte-array model under random writes, reads, discards and flushes', () => {
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), (ops) => {
          const disk = make();
          const model = new Uint8Array(SIZE_BYTES);
          try {
            for (const op of ops) {
              if (op.kind === 'write') {
                disk.write(op.sector * SECTOR, op.data);
                model.set(op.data, op.sector * SECTOR);
              } else if (op.kind === 'read') {
                const dst = new Uint8Array(op.sectorCount * SECTOR);
                disk.read(op.sector * SECTOR, dst);
                expect(firstDifference(dst, model.subarray(op.sector * SECTOR, (op.sector + op.sectorCount) * SECTOR))).toBe(-1);
              } else if (op.kind === 'discard') {
                disk.discard(op.sector * SECTOR, op.sectorCount * SECTOR);
                model.fill(0, op.sector * SECTOR, (op.sector + op.sectorCount) * SECTOR);
              } else {
                disk.flush();
              }
            }
            const all = new Uint8Array(SIZE_BYTES);
            disk.read(0, all);
            expect(firstDifference(all, model)).toBe(-1);
          } finally {
            disk.close();
          }
        }),
        { numRuns: 60, seed: 0x5eed },
      );
    });

    it('reads into and writes from views over a SharedArrayBuffer', () => {
      const disk = make();
      const shared = new Uint8Array(new SharedArrayBuffer(4 * SECTOR));
      shared.subarray(SECTOR, 2 * SECTOR).fill(0x5a);
      disk.write(3 * SECTOR, shared.subarray(SECTOR, 2 * SECTOR));
      disk.read(3 * SECTOR, shared.subarray(2 * SECTOR, 3 * SECTOR));
      expect(shared.subarray(2 * SECTOR, 3 * SECTOR).every((b) => b === 0x5a)).toBe(true);
      disk.close();
    });

    it('refuses unaligned and out-of-range I/O with RANGE, touching nothing', () => {
      const disk = make();
      const sector = new Uint8Array(SECTOR).fill(1);
      expectDiskError(() => disk.write(1, sector), 'RANGE');
      expectDiskError(() => disk.write(0, new Uint8Array(100)), 'RANGE');
      expectDiskError(() => disk.write(SIZE_BYTES, sector), 'RANGE');
      expectDiskError(() => disk.write(SIZE_BYTES - SECTOR, new Uint8Array(2 * SECTOR)), 'RANGE');
      expectDiskError(() => disk.write(-SECTOR, sector), 'RANGE');
      expectDiskError(() => disk.read(SIZE_BYTES, new Uint8Array(SECTOR)), 'RANGE');
      expectDiskError(() => disk.read(7, new Uint8Array(SECTOR)), 'RANGE');
      expectDiskError(() => disk.discard(0, 100), 'RANGE');
      expectDiskError(() => disk.discard(SIZE_BYTES - SECTOR, 2 * SECTOR), 'RANGE');
      const all = new Uint8Array(SIZE_BYTES);
      disk.read(0, all);
      expect(all.every((b) => b === 0)).toBe(true);
      disk.close();
    });

    it('after close, every operation fails with IOERR; close twice is harmless', () => {
      const disk = make();
      disk.close();
      disk.close();
      expectDiskError(() => disk.read(0, new Uint8Array(SECTOR)), 'IOERR');
      expectDiskError(() => disk.write(0, new Uint8Array(SECTOR)), 'IOERR');
      expectDiskError(() => disk.flush(), 'IOERR');
      expectDiskError(() => disk.discard(0, SECTOR), 'IOERR');
    });
  });
}

describe('FileBackend specifics', () => {
  it('persists across close and reopen, and the image is raw bytes', () => {
    const p = path.join(tmp, 'persist.img');
    const disk = FileBackend.open(p, { create: true, sizeBytes: SIZE_BYTES });
    disk.write(2 * SECTOR, new Uint8Array(SECTOR).fill(0x42));
    disk.flush();
    disk.close();
    expect(fs.statSync(p).size).toBe(SIZE_BYTES);
    expect(fs.readFileSync(p)[2 * SECTOR]).toBe(0x42);
    const again = FileBackend.open(p, { sizeBytes: SIZE_BYTES });
    const dst = new Uint8Array(SECTOR);
    again.read(2 * SECTOR, dst);
    expect(dst.every((b) => b === 0x42)).toBe(true);
    again.close();
  });

  it('never clobbers an existing image on create, and checks sizes', () => {
    const p = path.join(tmp, 'exists.img');
    FileBackend.open(p, { create: true, sizeBytes: SIZE_BYTES }).close();
    expect(() => FileBackend.open(p, { create: true, sizeBytes: SIZE_BYTES })).toThrow(/EEXIST/);
    expect(() => FileBackend.open(p, { sizeBytes: 2 * SIZE_BYTES })).toThrow(RangeError);
    fs.writeFileSync(path.join(tmp, 'odd.img'), new Uint8Array(1000));
    expect(() => FileBackend.open(path.join(tmp, 'odd.img'))).toThrow(RangeError);
    expect(() => FileBackend.open(path.join(tmp, 'new.img'), { create: true, sizeBytes: 1000 })).toThrow(RangeError);
  });

  it('read-only images read but refuse writes and discards with IOERR', () => {
    const p = path.join(tmp, 'ro.img');
    FileBackend.open(p, { create: true, sizeBytes: SIZE_BYTES }).close();
    const disk = FileBackend.open(p, { readOnly: true });
    expect(disk.readOnly).toBe(true);
    disk.read(0, new Uint8Array(SECTOR));
    disk.flush();
    expectDiskError(() => disk.write(0, new Uint8Array(SECTOR)), 'IOERR');
    expectDiskError(() => disk.discard(0, SECTOR), 'IOERR');
    disk.close();
  });
});
