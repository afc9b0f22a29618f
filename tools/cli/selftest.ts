/**
 * The boot self-test: proves the path program -> kernel -> driver -> virtqueue -> device
 * -> disk and back, on the live image, without losing a byte of it.
 *
 * It saves the last SCRATCH_SECTOR_COUNT sectors of the disk, writes a seeded pattern
 * there (one large write and QUEUE_DEPTH small ones in flight together), flushes, reads
 * everything back and compares, then writes the saved bytes back and flushes again.
 */
import type { System } from '../system.ts';
import { Random } from '../../kernel/random.ts';

const SCRATCH_SECTOR_COUNT = 128; // 64 KiB at the end of the disk
const SMALL_WRITE_SECTORS = 8; // 4 KiB
const QUEUE_DEPTH = SCRATCH_SECTOR_COUNT / SMALL_WRITE_SECTORS;

export interface SelftestResult {
  ok: boolean;
  lines: string[];
}

export async function runSelftest(sys: System, seed: number): Promise<SelftestResult> {
  const lines: string[] = [];
  const info = await sys.blk.info();
  lines.push(`selftest: device id '${info.id}', ${info.capacitySectors} sectors, queue ${info.queueSize}, write cache ${info.writeCache ? 'on (FLUSH)' : 'off'}`);
  if (info.capacitySectors < SCRATCH_SECTOR_COUNT) return { ok: false, lines: [...lines, 'selftest: disk too small for the scratch area'] };
  const first = info.capacitySectors - SCRATCH_SECTOR_COUNT;
  const saved = await sys.blk.read(first, SCRATCH_SECTOR_COUNT);
  const random = new Random(seed);
  let ok = true;
  try {
    const big = random.fill(new Uint8Array(SCRATCH_SECTOR_COUNT * 512));
    await sys.blk.write(first, big);
    await sys.blk.flush();
    ok = equal(await sys.blk.read(first, SCRATCH_SECTOR_COUNT), big) && ok;
    lines.push(`selftest: ${SCRATCH_SECTOR_COUNT * 512} bytes written at sector ${first}, flushed, read back: ${ok ? 'match' : 'MISMATCH'}`);

    const small = Array.from({ length: QUEUE_DEPTH }, () => random.fill(new Uint8Array(SMALL_WRITE_SECTORS * 512)));
    await Promise.all(small.map((d, i) => sys.blk.write(first + i * SMALL_WRITE_SECTORS, d)));
    await sys.blk.flush();
    const back = await Promise.all(small.map((_, i) => sys.blk.read(first + i * SMALL_WRITE_SECTORS, SMALL_WRITE_SECTORS)));
    const smallOk = back.every((b, i) => equal(b, small[i]));
    ok = ok && smallOk;
    const stats = await sys.blk.stats();
    lines.push(`selftest: ${QUEUE_DEPTH} x 4 KiB writes and reads issued together (up to ${stats.inFlightMax} in flight): ${smallOk ? 'match' : 'MISMATCH'}`);
  } finally {
    await sys.blk.write(first, saved);
    await sys.blk.flush();
  }
  const restored = equal(await sys.blk.read(first, SCRATCH_SECTOR_COUNT), saved);
  lines.push(`selftest: scratch area restored: ${restored ? 'yes' : 'NO'}`);
  return { ok: ok && restored, lines: [...lines, `selftest: ${ok && restored ? 'passed' : 'FAILED'}`] };
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
