// The disk crash states are recovered on: reads see unflushed writes, a flush lands them
// in order, and after powerOff nothing more lands (the second recovery's image is exact).
import { describe, expect, it } from 'vitest';
import { RecoveryDisk } from '../../tools/crashtest/recovery-disk.ts';
import { OverlayImage } from '../../tools/crashtest/overlay.ts';
import { Random } from '../../kernel/random.ts';

const SECTOR = 512;

describe('RecoveryDisk', () => {
  it('overlays unflushed writes and discards on reads, in order, and lands them on flush', () => {
    const base = new Uint8Array(16 * SECTOR).fill(9);
    const durable = new OverlayImage(base);
    const disk = new RecoveryDisk(durable);
    disk.write(SECTOR, new Uint8Array(2 * SECTOR).fill(1));
    disk.discard(2 * SECTOR, SECTOR);
    const seen = new Uint8Array(4 * SECTOR);
    disk.read(0, seen);
    expect([seen[0], seen[SECTOR], seen[2 * SECTOR], seen[3 * SECTOR]]).toEqual([9, 1, 0, 9]);
    expect(durable.toBytes()[SECTOR]).toBe(9); // not durable yet
    disk.flush();
    const after = durable.toBytes();
    expect([after[SECTOR], after[2 * SECTOR]]).toEqual([1, 0]);
    expect(base[SECTOR]).toBe(9); // the shared base is never written
  });

  it('after powerOff unflushed writes are gone and later ones never land', () => {
    const durable = new OverlayImage(new Uint8Array(8 * SECTOR));
    const disk = new RecoveryDisk(durable);
    disk.write(0, new Uint8Array(SECTOR).fill(5));
    disk.powerOff();
    disk.write(SECTOR, new Uint8Array(SECTOR).fill(6));
    disk.flush();
    expect(durable.pageCount).toBe(0);
    expect([durable.toBytes()[0], durable.toBytes()[SECTOR]]).toEqual([0, 0]);
  });

  it('refuses unaligned and out-of-range requests', () => {
    const disk = new RecoveryDisk(new OverlayImage(new Uint8Array(8 * SECTOR)));
    expect(() => disk.write(100, new Uint8Array(SECTOR))).toThrow();
    expect(() => disk.read(8 * SECTOR, new Uint8Array(SECTOR))).toThrow();
  });
});

describe('OverlayImage', () => {
  it('copy on write: a clone shares pages but not later writes; reads span pages', () => {
    const base = new Uint8Array(4 * 4096).fill(3);
    const a = new OverlayImage(base);
    a.write(4096 - SECTOR, new Uint8Array(2 * SECTOR).fill(7), 2 * SECTOR); // straddles pages 0 and 1
    const b = a.clone();
    b.write(4096, null, SECTOR);
    const ra = new Uint8Array(3 * SECTOR);
    const rb = new Uint8Array(3 * SECTOR);
    a.read(4096 - SECTOR, ra);
    b.read(4096 - SECTOR, rb);
    expect([ra[0], ra[SECTOR], ra[2 * SECTOR]]).toEqual([7, 7, 3]);
    expect([rb[0], rb[SECTOR], rb[2 * SECTOR]]).toEqual([7, 0, 3]);
    expect(base.every((x) => x === 3)).toBe(true);
    expect(() => a.write(SECTOR, new Uint8Array(10), SECTOR)).toThrow(RangeError);
  });

  it('reads and writes agree with a plain array over seeded random ranges', () => {
    const r = new Random(5);
    const plain = new Uint8Array(16 * 4096).map((_, i) => i % 253);
    const image = new OverlayImage(plain.slice());
    for (let i = 0; i < 300; i++) {
      const at = r.below(128) * SECTOR;
      const len = Math.min(plain.length - at, (1 + r.below(20)) * SECTOR);
      if (r.below(3) === 0) {
        const got = new Uint8Array(len);
        image.read(at, got);
        expect(Buffer.from(got).equals(Buffer.from(plain.subarray(at, at + len))), `read ${at} +${len}`).toBe(true);
      } else if (r.below(4) === 0) {
        image.write(at, null, len);
        plain.fill(0, at, at + len);
      } else {
        const data = new Uint8Array(len).fill(1 + r.below(250));
        image.write(at, data, len);
        plain.set(data, at);
      }
    }
    expect(Buffer.from(image.toBytes()).equals(Buffer.from(plain))).toBe(true);
  });
});
