/**
 * The boot self-test: proves the path program -> kernel -> block service -> driver ->
 * virtqueue -> device -> disk and back on the live image, without touching anybody's data.
 *
 * It allocates SCRATCH_BLOCK_COUNT fresh blocks from the block service (so nothing else
 * holds them), writes a seeded pattern (one large write, then QUEUE_DEPTH small writes in
 * flight together), flushes, reads everything back and compares, then frees the blocks.
 */
import type { System } from '../system.ts';
import { Random } from '../../kernel/random.ts';
import { formatBytes } from '../../drivers/virtio-blk/driver.ts';

const SCRATCH_BLOCK_COUNT = 16;
const BLOCK_SIZE_BYTES = 4096;
const QUEUE_DEPTH = SCRATCH_BLOCK_COUNT;

export interface SelftestResult {
  ok: boolean;
  lines: string[];
}

export async function runSelftest(sys: System, seed: number): Promise<SelftestResult> {
  const lines: string[] = [];
  const info = await sys.blk.info();
  lines.push(`selftest: device id '${info.id}', ${info.capacitySectors} sectors, queue ${info.queueSize}, write cache ${info.writeCache ? 'on (FLUSH)' : 'off'}`);
  if (!sys.block) return { ok: false, lines: [...lines, 'selftest: needs the block service'] };
  const extents = await sys.block.allocate(SCRATCH_BLOCK_COUNT, { contiguous: true });
  const random = new Random(seed);
  let ok = true;
  try {
    const first = extents[0].blockIndex;
    if (extents.length !== 1) throw new Error('expected one contiguous extent');
    const big = random.fill(new Uint8Array(SCRATCH_BLOCK_COUNT * BLOCK_SIZE_BYTES));
    await sys.block.write(first, big);
    await sys.block.flush();
    const bigOk = equal(await sys.block.read(first, SCRATCH_BLOCK_COUNT), big);
    ok = bigOk;
    lines.push(`selftest: ${formatBytes(big.length)} written to fresh blocks ${first}..${first + SCRATCH_BLOCK_COUNT - 1}, flushed, read back: ${bigOk ? 'match' : 'MISMATCH'}`);

    const small = Array.from({ length: QUEUE_DEPTH }, () => random.fill(new Uint8Array(BLOCK_SIZE_BYTES)));
    await Promise.all(small.map((d, i) => sys.block!.write(first + i, d)));
    await sys.block.flush();
    const back = await Promise.all(small.map((_, i) => sys.block!.read(first + i, 1)));
    const smallOk = back.every((b, i) => equal(b, small[i]));
    ok = ok && smallOk;
    const stats = await sys.block.stats();
    lines.push(`selftest: ${QUEUE_DEPTH} x 4 KiB writes and reads issued together (driver queue up to ${stats.queue.inFlightMax} in flight): ${smallOk ? 'match' : 'MISMATCH'}`);
  } finally {
    await sys.block.free(extents);
  }
  lines.push(`selftest: scratch blocks freed`, `selftest: ${ok ? 'passed' : 'FAILED'}`);
  return { ok, lines };
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
