/**
 * `fsck --repair`: the safe repairs, in an order where each step leaves a consistent
 * image if the next one never runs.
 *
 * 1. Raw, only when a superblock or the bitmap needs it (no service running): the
 *    journal's committed transactions are written home and FLUSHed, then a header naming
 *    the new tail goes in the other slot and is FLUSHed (what the block service's own
 *    checkpoint does, so a crash between replays the same images again); then blocks in
 *    use that the bitmap shows free are marked allocated (or a bitmap that fails its
 *    checksum is rebuilt from every reference, when the log is intact), the free count recounted, and
 *    the bitmap blocks, the primary and the spare written (the spare after a FLUSH of the
 *    primary): a damaged copy is rewritten from the good one.
 * 2. Through the stack (bootSystem up to fs), only when the log is intact: the content
 *    store's mount frees leaked blocks; refcounts are corrected with ref/unref; the fs's
 *    gc drops dangling chunks (no file and no snapshot reaches them); shutdown
 *    checkpoints.
 *
 * Never repaired: a chunk whose bytes fail their hash, a damaged log, a namespace that
 * does not add up. The caller re-checks afterwards and marks only what is gone.
 */
import type { DiskBackend } from '../../kernel/machine/disk/backend.ts';
import {
  countFree,
  encodeBitmapBlock,
  encodeJournalHeader,
  encodeSuperblock,
  initialBitmap,
  journalLog,
  readBitmap,
  readImage,
  setBits,
  testBit,
  BITMAP_BYTES_PER_BLOCK,
} from '../../services/block/format/index.ts';
import { bootSystem, type BootOptions } from '../system.ts';
import { CHUNKS_PER_REQUEST_MAX } from '../../services/content/limits.ts';
import { BLOCK_SIZE_BYTES, homeReader, type ImageView } from './block.ts';
import { REPAIR_BLOCKERS, type RepairPlan } from './refs.ts';
import type { FsckProblem } from './report.ts';
import { REPAIR_MEMORY_SIZE_BYTES, invariant } from './limits.ts';

export type RepairBootOptions = Partial<Omit<BootOptions, 'disk' | 'upTo' | 'keepDiskOpen'>>;

const RAW_KINDS = new Set(['primary-damaged', 'spare-stale', 'free-count', 'in-use-free', 'bitmap-damaged']);
const STACK_KINDS = new Set(['leaked-blocks', 'refcount']);

export async function repairImage(view: ImageView, problems: FsckProblem[], plan: RepairPlan, boot: RepairBootOptions): Promise<string[]> {
  const actions: string[] = [];
  const todo = problems.filter((p) => p.repairable);
  // A step that fails is reported and the rest go on; the re-check says what is left.
  const attempt = async (what: string, step: () => Promise<string[]>) => {
    try {
      actions.push(...(await step()));
    } catch (e) {
      actions.push(`${what} FAILED: ${(e as Error).message}`);
    }
  };
  if (todo.some((p) => RAW_KINDS.has(p.kind))) await attempt('raw repair of the superblocks and bitmap', () => repairRaw(view, plan));
  const trusted = !problems.some((p) => p.area === 'axiom' || REPAIR_BLOCKERS.has(p.kind) || (p.area === 'namespace' && !p.repairable));
  if (todo.some((p) => STACK_KINDS.has(p.kind)) || (trusted && plan.dropChunks.length > 0)) await attempt('repair through the stack', () => repairThroughStack(view.disk, plan, boot));
  return actions;
}

async function repairRaw(view: ImageView, plan: RepairPlan): Promise<string[]> {
  const { disk, layout, seed } = view;
  const actions: string[] = [];
  const write = (blockIndex: number, data: Uint8Array) => disk.write(blockIndex * BLOCK_SIZE_BYTES, data);
  const scan = view.journal;
  if (scan && scan.transactions.length) {
    let n = 0;
    for (const t of scan.transactions) for (const w of t.writes) (write(w.blockIndex, w.data), n++);
    disk.flush();
    const slot = scan.headerSlot === 0 ? 1 : 0;
    const header = { generation: scan.header.generation + 1, epoch: scan.header.epoch, logBlockCount: journalLog(layout).blockCount, tailSequence: scan.nextSequence, tailPosition: scan.headPosition };
    write(layout.journal.blockIndex + slot, encodeJournalHeader(header, layout.journal.blockIndex + slot, seed));
    disk.flush();
    actions.push(`journal checkpointed: ${scan.transactions.length} transaction(s), ${n} block image(s) written home`);
  }
  const read = homeReader(disk);
  const deviceBlockCount = Math.floor(disk.sizeBytes / BLOCK_SIZE_BYTES);
  const image = await readImage(read, deviceBlockCount);
  let bits: Uint8Array;
  const touched = new Set<number>();
  if (plan.rebuildBitmap) {
    bits = initialBitmap(layout);
    for (const x of plan.rebuildBitmap) setBits(bits, x.blockIndex, x.blockCount, true);
    for (let k = 0; k < layout.bitmap.blockCount; k++) touched.add(k);
    actions.push(`bitmap rebuilt from every reference: ${plan.rebuildBitmap.reduce((n, x) => n + x.blockCount, 0)} data block(s) allocated`);
  } else bits = await readBitmap(read, layout, seed);
  for (const x of plan.markAllocated) {
    setBits(bits, x.blockIndex, x.blockCount, true);
    for (let b = x.blockIndex; b < x.blockIndex + x.blockCount; b += 1) touched.add(Math.floor(b / (BITMAP_BYTES_PER_BLOCK * 8)));
  }
  for (const ordinal of touched) write(layout.bitmap.blockIndex + ordinal, encodeBitmapBlock(bits, ordinal, layout, seed));
  if (plan.markAllocated.length) actions.push(`bitmap: ${plan.markAllocated.reduce((n, x) => n + x.blockCount, 0)} block(s) in use marked allocated`);
  const free = countFree(bits, layout);
  invariant(free >= 0 && free <= layout.data.blockCount, `free count ${free} within the data region`);
  for (const x of plan.markAllocated) invariant(testBit(bits, x.blockIndex) && testBit(bits, x.blockIndex + x.blockCount - 1), `[${x.blockIndex}, +${x.blockCount}) marked`);
  const sb = { ...image.superblock, freeBlockCount: free };
  if (free !== image.superblock.freeBlockCount) actions.push(`superblock free count ${image.superblock.freeBlockCount} -> ${free}`);
  const bytes = encodeSuperblock(sb);
  write(layout.superblock.blockIndex, bytes);
  disk.flush();
  write(layout.spare.blockIndex, bytes);
  disk.flush();
  actions.push(image.source === 'spare' ? 'primary superblock rewritten from the spare' : image.spareStale ? 'spare superblock rewritten from the primary' : 'superblock and spare rewritten');
  return actions;
}

async function repairThroughStack(disk: DiskBackend, plan: RepairPlan, boot: RepairBootOptions): Promise<string[]> {
  const actions: string[] = [];
  const sys = await bootSystem({ memorySizeBytes: REPAIR_MEMORY_SIZE_BYTES, ...boot, disk, upTo: 'fs', keepDiskOpen: true });
  try {
    const info = await sys.content!.info();
    if (info.mount.leftoverBlocks) actions.push(`content mount freed ${info.mount.leftoverBlocks} leaked block(s) in ${info.mount.leftoverExtents} run(s)`);
    const ups: Uint8Array[] = [];
    const downs: Uint8Array[] = [];
    for (const [hex, delta] of plan.refDeltas) {
      const hash = Uint8Array.from(Buffer.from(hex, 'hex'));
      for (let i = 0; i < Math.abs(delta); i++) (delta > 0 ? ups : downs).push(hash);
    }
    for (let i = 0; i < ups.length; i += CHUNKS_PER_REQUEST_MAX) await sys.content!.ref(ups.slice(i, i + CHUNKS_PER_REQUEST_MAX));
    for (let i = 0; i < downs.length; i += CHUNKS_PER_REQUEST_MAX) await sys.content!.unref(downs.slice(i, i + CHUNKS_PER_REQUEST_MAX));
    if (plan.refDeltas.size) actions.push(`refcounts corrected on ${plan.refDeltas.size} chunk(s) (+${ups.length}, -${downs.length})`);
    if (plan.dropChunks.length || plan.refDeltas.size) {
      const gc = await sys.fs!.gc();
      actions.push(`gc from the filesystem's roots dropped ${gc.sweptChunks} dangling chunk(s), ${gc.freedBlocks} block(s) freed`);
    }
  } finally {
    await sys.shutdown();
  }
  return actions;
}
