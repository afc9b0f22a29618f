// The fault-injecting disk: durability, crash modes, replay from the log, injected faults.
import { describe, expect, it } from 'vitest';
import { DiskIoError } from '../../kernel/machine/disk/backend.ts';
import { FaultyBackend, imageAt } from '../../kernel/machine/disk/faulty.ts';
import type { CrashMode } from '../../kernel/machine/disk/faulty.ts';
import { Prng } from '../../kernel/machine/prng.ts';
import { firstDifference, pattern } from './helpers.ts';

const SECTOR = 512;
const SIZE_BYTES = 128 * SECTOR;

function sectorOf(disk: FaultyBackend, sector: number, count = 1): Uint8Array {
  const dst = new Uint8Array(count * SECTOR);
  disk.read(sector * SECTOR, dst);
  return dst;
}
const filled = (value: number, count = 1) => new Uint8Array(count * SECTOR).fill(value);
const code = (fn: () => void): string | null => {
  try {
    fn();
    return null;
  } catch (err) {
    return err instanceof DiskIoError ? err.code : `not a DiskIoError: ${String(err)}`;
  }
};

/** A disk with 12 unflushed writes of 1..4 sectors each, on top of one flushed write. */
function busyDisk(): FaultyBackend {
  const disk = new FaultyBackend(SIZE_BYTES);
  disk.write(0, filled(0x11, 4));
  disk.flush();
  const prng = new Prng(7);
  for (let i = 0; i < 12; i++) {
    const sectors = prng.between(1, 4);
    disk.write(prng.below(100) * SECTOR, pattern(sectors * SECTOR, 100 + i));
  }
  return disk;
}

describe('FaultyBackend durability', () => {
  it("a write not yet flushed is visible but lost by crash('lose-all')", () => {
    const disk = new FaultyBackend(SIZE_BYTES);
    disk.write(5 * SECTOR, filled(0xab));
    expect(sectorOf(disk, 5)[0]).toBe(0xab);
    expect(disk.unflushedCount).toBe(1);
    disk.crash('lose-all');
    expect(sectorOf(disk, 5).every((b) => b === 0)).toBe(true);
    expect(disk.unflushedCount).toBe(0);
  });

  it('a flushed write is never lost, whatever the crash mode', () => {
    const modes: CrashMode[] = ['lose-all', 'keep-all', { subset: 1 }, { subset: 2 }, { torn: 3 }, { torn: 4 }];
    for (const mode of modes) {
      const disk = new FaultyBackend(SIZE_BYTES);
      disk.write(5 * SECTOR, filled(0xab, 2));
      disk.flush();
      disk.write(9 * SECTOR, filled(0xcd, 3));
      disk.crash(mode);
      expect(sectorOf(disk, 5, 2).every((b) => b === 0xab)).toBe(true);
    }
  });

  it("'keep-all' keeps every unflushed write in order (a later write wins)", () => {
    const disk = new FaultyBackend(SIZE_BYTES);
    disk.write(0, filled(1));
    disk.write(0, filled(2));
    disk.discard(SECTOR, SECTOR);
    disk.crash('keep-all');
    expect(sectorOf(disk, 0)[0]).toBe(2);
  });

  it('keeps working after a crash (a power cycle), and a discard is volatile like a write', () => {
    const disk = new FaultyBackend(SIZE_BYTES);
    disk.write(0, filled(7));
    disk.flush();
    disk.discard(0, SECTOR);
    expect(sectorOf(disk, 0)[0]).toBe(0);
    disk.crash('lose-all');
    expect(sectorOf(disk, 0)[0]).toBe(7);
    disk.close();
    disk.crash('lose-all'); // power back on even after close
    disk.write(SECTOR, filled(8));
    disk.flush();
    disk.crash('lose-all');
    expect(sectorOf(disk, 1)[0]).toBe(8);
  });
});

describe('FaultyBackend crash modes are seeded and exact', () => {
  it('subset mode: same seed, same bytes; different seeds differ; survivors are whole writes', () => {
    const images = [1, 1, 2, 3].map((seed) => {
      const disk = busyDisk();
      const outcome = disk.crash({ subset: seed });
      expect(outcome.torn).toBeNull();
      return disk.snapshotDurable();
    });
    expect(firstDifference(images[0], images[1])).toBe(-1);
    expect(firstDifference(images[0], images[2]) !== -1 || firstDifference(images[0], images[3]) !== -1).toBe(true);
  });

  it('torn mode: reproducible, and the torn write tears only at a 512-byte boundary', () => {
    const tornSeqs = new Set<number>();
    for (let seed = 0; seed < 40; seed++) {
      const runs = [0, 1].map(() => {
        const disk = new FaultyBackend(SIZE_BYTES);
        disk.write(0, filled(0x11, 8)); // old contents under the writes below
        disk.flush();
        disk.write(0, pattern(8 * SECTOR, seed)); // eight-sector writes, so any tear shows
        disk.write(8 * SECTOR, pattern(8 * SECTOR, seed + 1000));
        const outcome = disk.crash({ torn: seed });
        return { outcome, image: disk.snapshotDurable() };
      });
      expect(runs[1].outcome).toEqual(runs[0].outcome);
      expect(firstDifference(runs[0].image, runs[1].image)).toBe(-1);
      const { outcome, image } = runs[0];
      expect(outcome.torn).not.toBeNull();
      const torn = outcome.torn!;
      expect(torn.sectorCount).toBeGreaterThanOrEqual(1);
      expect(torn.sectorCount).toBeLessThanOrEqual(7);
      tornSeqs.add(torn.seq);
      // Writes are seqs 2 and 3 (0 = first write, 1 = flush). Check every sector of the torn one.
      const tornIsFirst = torn.seq === 2;
      const newBytes = tornIsFirst ? pattern(8 * SECTOR, seed) : pattern(8 * SECTOR, seed + 1000);
      const base = tornIsFirst ? 0 : 8;
      for (let s = 0; s < 8; s++) {
        const got = image.subarray((base + s) * SECTOR, (base + s + 1) * SECTOR);
        const want = s < torn.sectorCount ? newBytes.subarray(s * SECTOR, (s + 1) * SECTOR) : tornIsFirst ? filled(0x11) : filled(0);
        expect(firstDifference(got, want)).toBe(-1); // all-new or all-old sector, never mixed
      }
      if (!tornIsFirst) expect(firstDifference(image.subarray(0, 8 * SECTOR), pattern(8 * SECTOR, seed))).toBe(-1); // prefix kept whole
      else expect(image.subarray(8 * SECTOR, 16 * SECTOR).every((b) => b === 0)).toBe(true); // after the tear: lost
    }
    expect([...tornSeqs].sort()).toEqual([2, 3]); // seeds pick either write as the victim
  });

  it('imageAt rebuilds the crash state from the log alone, at any point', () => {
    const modes: CrashMode[] = ['lose-all', 'keep-all', { subset: 9 }, { torn: 9 }];
    for (const mode of modes) {
      const disk = busyDisk();
      const base = disk.logBase();
      const log = [...disk.log];
      disk.crash(mode);
      expect(firstDifference(imageAt(base, log, { mode }), disk.snapshotDurable())).toBe(-1);
    }
    // Entry count 1 (just the first write, unflushed) with lose-all is the empty disk;
    // entry count 2 (write + flush) keeps it.
    const disk = busyDisk();
    const base = disk.logBase();
    expect(imageAt(base, disk.log, { entryCount: 1, mode: 'lose-all' }).every((b) => b === 0)).toBe(true);
    expect(imageAt(base, disk.log, { entryCount: 2, mode: 'lose-all' })[0]).toBe(0x11);
    expect(() => imageAt(base, disk.log, { entryCount: disk.log.length + 1, mode: 'lose-all' })).toThrow(RangeError);
  });

  it('the log records writes, flushes, marks and crashes in order, and replays through an earlier crash', () => {
    const disk = new FaultyBackend(SIZE_BYTES);
    disk.write(0, filled(1));
    disk.mark('before-flush');
    disk.flush();
    disk.write(SECTOR, filled(2));
    disk.write(2 * SECTOR, filled(3));
    disk.crash({ subset: 5 });
    disk.write(3 * SECTOR, filled(4));
    disk.flush();
    expect(disk.log.map((e) => e.kind)).toEqual(['write', 'mark', 'flush', 'write', 'write', 'crash', 'write', 'flush']);
    expect(disk.log.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const mark = disk.log[1];
    expect(mark.kind === 'mark' && mark.label).toBe('before-flush');
    const write = disk.log[0];
    expect(write.kind === 'write' && write.data[0]).toBe(1);
    expect(firstDifference(imageAt(disk.logBase(), disk.log, { mode: 'lose-all' }), disk.snapshotDurable())).toBe(-1);
    expect(() => {
      disk.write(0, filled(9));
      disk.resetLog();
    }).toThrow(/flush first/);
    disk.flush();
    disk.resetLog();
    expect(disk.log.length).toBe(0);
    expect(disk.logBase()[0]).toBe(9);
  });

  it('a log entry holds a copy: changing the source buffer later changes nothing', () => {
    const disk = new FaultyBackend(SIZE_BYTES);
    const src = filled(5);
    disk.write(0, src);
    src.fill(6);
    disk.flush();
    expect(sectorOf(disk, 0)[0]).toBe(5);
    const entry = disk.log[0];
    expect(entry.kind === 'write' && entry.data[0]).toBe(5);
  });
});

describe('FaultyBackend injected faults', () => {
  it('flipBitOnRead flips exactly one bit of what is read, not what is stored; once fires once', () => {
    const disk = new FaultyBackend(SIZE_BYTES);
    disk.write(3 * SECTOR, filled(0, 2));
    disk.flipBitOnRead(4, 13, { once: true });
    const first = sectorOf(disk, 3, 2);
    expect(first[SECTOR + 1]).toBe(1 << 5); // bit 13 = byte 1, bit 5 of sector 4
    expect(first.reduce((n, b) => n + (b === 0 ? 0 : 1), 0)).toBe(1);
    expect(sectorOf(disk, 3, 2).every((b) => b === 0)).toBe(true);
    disk.flipBitOnRead(4, 0);
    expect(sectorOf(disk, 4)[0]).toBe(1);
    expect(sectorOf(disk, 4)[0]).toBe(1);
    expect(sectorOf(disk, 3)[0]).toBe(0); // a read not touching sector 4 is clean
    expect(disk.snapshotVolatile()[4 * SECTOR]).toBe(0);
    expect(() => disk.flipBitOnRead(4, 4096)).toThrow(RangeError);
  });

  it('failSectors makes I/O touching them fail with IOERR and change nothing', () => {
    const disk = new FaultyBackend(SIZE_BYTES);
    disk.failSectors([10], { reads: false });
    expect(code(() => disk.write(8 * SECTOR, filled(1, 4)))).toBe('IOERR');
    expect(code(() => disk.discard(10 * SECTOR, SECTOR))).toBe('IOERR');
    expect(sectorOf(disk, 8, 4).every((b) => b === 0)).toBe(true); // reads still allowed
    expect(disk.log.length).toBe(0);
    disk.write(11 * SECTOR, filled(1)); // a neighbour is fine
    disk.failSectors([20], { writes: false });
    expect(code(() => sectorOf(disk, 19, 2))).toBe('IOERR');
    disk.write(20 * SECTOR, filled(2));
    disk.clearFaults();
    expect(sectorOf(disk, 20)[0]).toBe(2);
    disk.write(10 * SECTOR, filled(3));
    expect(disk.stats.injectedErrors).toBe(3);
  });

  it('limitWrittenBytes accepts that many bytes, then NOSPC without landing; discards are free', () => {
    const disk = new FaultyBackend(SIZE_BYTES);
    disk.limitWrittenBytes(3 * SECTOR);
    disk.write(0, filled(1, 2));
    expect(code(() => disk.write(2 * SECTOR, filled(2, 2)))).toBe('NOSPC');
    expect(sectorOf(disk, 2)[0]).toBe(0);
    disk.discard(0, 8 * SECTOR);
    disk.write(2 * SECTOR, filled(3));
    expect(code(() => disk.write(3 * SECTOR, filled(4)))).toBe('NOSPC');
    disk.limitWrittenBytes(null);
    disk.write(3 * SECTOR, filled(4));
    expect(sectorOf(disk, 3)[0]).toBe(4);
  });

  it('faults survive a crash (they belong to the medium)', () => {
    const disk = new FaultyBackend(SIZE_BYTES);
    disk.failSectors([1]);
    disk.crash('lose-all');
    expect(code(() => sectorOf(disk, 1))).toBe('IOERR');
  });
});

describe('Prng', () => {
  it('is deterministic per seed, differs across seeds, and keeps below() in range', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const c = new Prng(43);
    const sa = Array.from({ length: 16 }, () => a.nextU32());
    expect(Array.from({ length: 16 }, () => b.nextU32())).toEqual(sa);
    expect(Array.from({ length: 16 }, () => c.nextU32())).not.toEqual(sa);
    expect(sa.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32)).toBe(true);
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 6000; i++) counts[a.below(6)]++;
    expect(counts.every((n) => n > 800 && n < 1200)).toBe(true);
    expect(new Prng(2 ** 40).nextU32()).not.toBe(new Prng(0).nextU32());
    expect(() => a.below(0)).toThrow(RangeError);
  });
});
