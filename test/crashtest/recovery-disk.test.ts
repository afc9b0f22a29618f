// The disk crash states are recovered on: reads see unflushed writes, a flush lands them
// in order, and after powerOff nothing more lands (the second recovery's image is exact).
import { describe, expect, it } from 'vitest';
import { RecoveryDisk } from '../../tools/crashtest/recovery-disk.ts';

const SECTOR = 512;

describe('RecoveryDisk', () => {
  it('overlays unflushed writes and discards on reads, in order, and lands them on flush', () => {
    const durable = new Uint8Array(8 * SECTOR).fill(9);
    const disk = new RecoveryDisk(durable);
    disk.write(SECTOR, new Uint8Array(2 * SECTOR).fill(1));
    disk.discard(2 * SECTOR, SECTOR);
    const seen = new Uint8Array(4 * SECTOR);
    disk.read(0, seen);
    expect([seen[0], seen[SECTOR], seen[2 * SECTOR], seen[3 * SECTOR]]).toEqual([9, 1, 0, 9]);
    expect(durable[SECTOR]).toBe(9); // not durable yet
    disk.flush();
    expect([durable[SECTOR], durable[2 * SECTOR]]).toEqual([1, 0]);
  });

  it('after powerOff unflushed writes are gone and later ones never land', () => {
    const durable = new Uint8Array(4 * SECTOR);
    const disk = new RecoveryDisk(durable);
    disk.write(0, new Uint8Array(SECTOR).fill(5));
    disk.powerOff();
    disk.write(SECTOR, new Uint8Array(SECTOR).fill(6));
    disk.flush();
    expect([durable[0], durable[SECTOR]]).toEqual([0, 0]);
  });

  it('refuses unaligned and out-of-range requests', () => {
    const disk = new RecoveryDisk(new Uint8Array(4 * SECTOR));
    expect(() => disk.write(100, new Uint8Array(SECTOR))).toThrow();
    expect(() => disk.read(4 * SECTOR, new Uint8Array(SECTOR))).toThrow();
  });
});
