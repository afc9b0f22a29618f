// Crash-state enumeration on a hand-made disk log: which states each family yields, that
// ids are stable whatever is selected, and what survives in each kind of image.
import { describe, expect, it } from 'vitest';
import type { DiskLogEntry } from '../../kernel/machine/disk/faulty.ts';
import { buildImage, crashImage, enumerateStates, spread } from '../../tools/crashtest/states.ts';
import { ImageCursor } from '../../tools/crashtest/overlay.ts';
import { Random } from '../../kernel/random.ts';
import { selectStates } from '../../tools/crashtest/run.ts';

const SECTOR = 512;
const DISK_BYTES = 64 * SECTOR;

function write(seq: number, sector: number, sectors: number, fill: number): DiskLogEntry {
  return { seq, kind: 'write', offsetBytes: sector * SECTOR, data: new Uint8Array(sectors * SECTOR).fill(fill) };
}

// window 1: two writes, flush; window 2: a one-sector write and an 8-sector (4 KiB) write, no flush.
const log: DiskLogEntry[] = [
  write(0, 0, 1, 1),
  write(1, 1, 2, 2),
  { seq: 2, kind: 'flush' },
  { seq: 3, kind: 'mark', label: 'ack' },
  write(4, 8, 1, 3),
  write(5, 16, 8, 4),
];

const sectorByte = (image: Uint8Array, sector: number) => image[sector * SECTOR];

describe('crash states', () => {
  const states = enumerateStates(log, 5);

  it('flush: the start, each flush and the end of the log, nothing unflushed kept', () => {
    expect(states.filter((s) => s.family === 'flush').map((s) => s.entryCount)).toEqual([0, 3, 6]);
    const end = buildImage(new Uint8Array(DISK_BYTES), log, states.find((s) => s.family === 'flush' && s.entryCount === 6)!);
    expect([sectorByte(end, 0), sectorByte(end, 1), sectorByte(end, 8), sectorByte(end, 16)]).toEqual([1, 2, 0, 0]);
  });

  it('prefix: after each write of a window but the last of a flushed one', () => {
    expect(states.filter((s) => s.family === 'prefix').map((s) => s.entryCount)).toEqual([1, 5, 6]);
    const image = buildImage(new Uint8Array(DISK_BYTES), log, states.find((s) => s.family === 'prefix' && s.entryCount === 5)!);
    expect([sectorByte(image, 1), sectorByte(image, 8), sectorByte(image, 16)]).toEqual([2, 3, 0]);
  });

  it('subsets: seeded subsets at the end of each window of two or more writes', () => {
    const subsets = states.filter((s) => s.family === 'subsets');
    expect(subsets.map((s) => s.entryCount)).toEqual([2, 2, 2, 2, 6, 6, 6, 6]);
    expect(new Set(subsets.map((s) => s.subsetSeed)).size).toBe(8);
  });

  it('torn: every sector boundary of writes up to 4 KiB, earlier writes of the window whole, later ones lost', () => {
    const torn = states.filter((s) => s.family === 'torn');
    expect(torn.map((s) => [s.entryCount, s.tornSectorCount])).toEqual([[2, 1], ...[1, 2, 3, 4, 5, 6, 7].map((k) => [6, k])]);
    const image = buildImage(new Uint8Array(DISK_BYTES), log, torn.find((s) => s.entryCount === 6 && s.tornSectorCount === 3)!);
    expect([16, 17, 18, 19, 23].map((s) => sectorByte(image, s))).toEqual([4, 4, 4, 0, 0]);
    expect(sectorByte(image, 8)).toBe(3);
  });

  it('ids are list positions and the list depends only on (log, seed)', () => {
    expect(states.map((s) => s.id)).toEqual(states.map((_, i) => i));
    expect(enumerateStates(log, 5)).toEqual(states);
    expect(enumerateStates(log, 6).filter((s) => s.family === 'subsets')).not.toEqual(states.filter((s) => s.family === 'subsets'));
  });

  it('a selection shares the budget among families and keeps id order', () => {
    const picked = selectStates(states, ['flush', 'torn'], 5);
    expect(picked.map((s) => s.family)).toEqual(['flush', 'flush', 'torn', 'torn', 'torn']);
    expect(spread([1, 2, 3, 4, 5, 6], 3)).toEqual([1, 3, 5]);
  });
});

describe('crash images as overlays', () => {
  it('crashImage gives buildImage\'s bytes for every state of a seeded random log, in any order', () => {
    const r = new Random(11);
    const big: DiskLogEntry[] = [];
    for (let i = 0; i < 60; i++) {
      const kind = r.below(10);
      const seq = big.length;
      if (kind < 6) big.push(write(seq, r.below(56), 1 + r.below(8), 1 + r.below(250)));
      else if (kind === 6) big.push({ seq, kind: 'discard', offsetBytes: r.below(60) * SECTOR, lengthBytes: (1 + r.below(4)) * SECTOR });
      else if (kind === 7) big.push({ seq, kind: 'mark', label: 'ack' });
      else big.push({ seq, kind: 'flush' });
    }
    const base = new Uint8Array(DISK_BYTES).map((_, i) => i % 251);
    const all = enumerateStates(big, 3);
    const cursor = new ImageCursor(base, big);
    const order = [...all, ...all.slice().reverse()]; // forwards (the harness) and backwards (restarts)
    for (const s of order) expect(Buffer.from(crashImage(cursor, big, s).toBytes()).equals(Buffer.from(buildImage(base, big, s))), `state ${s.id}`).toBe(true);
    expect(base.every((x, i) => x === i % 251)).toBe(true);
  });
});
