/**
 * The block layer's structures, read raw from the disk backend (no service running):
 * both superblock copies, the journal (header slots and every committed transaction not
 * yet checkpointed), and the allocation bitmap.
 *
 * The image as a mount would see it is the blocks at home overlaid with the journal's
 * committed images (replay is idempotent and a mount applies exactly these), so every
 * later check reads through `ImageView.read` and sees the bitmap and superblock a mount
 * would. Read-only: nothing here writes.
 *
 * Invariants checked: a valid primary and a spare byte-identical to it; a journal whose
 * header and records verify (a torn last transaction is a note: a crash leaves one); every
 * bitmap block verified and every reserved bit set; the superblock's free count equal to
 * the bitmap's.
 */
import type { DiskBackend } from '../../kernel/machine/disk/backend.ts';
import {
  FormatError,
  checksumSeed,
  countFree,
  readBitmap,
  readImage,
  scanJournal,
  type BlockReader,
  type ImageReport,
  type JournalScan,
  type Layout,
  type Superblock,
} from '../../services/block/format/index.ts';
import type { Findings } from './report.ts';

export const BLOCK_SIZE_BYTES = 4096;

export class FsckOperationalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FsckOperationalError';
  }
}

export interface ImageView {
  disk: DiskBackend;
  superblock: Superblock;
  layout: Layout;
  seed: number;
  image: ImageReport;
  journal: JournalScan | undefined;
  /** The allocation bitmap a mount would load (journal applied), or undefined if it cannot be read. */
  bits: Uint8Array | undefined;
  /** Blocks as a mount would see them (journal images over home blocks). */
  read: BlockReader;
  /** The raw blocks at home (no journal). */
  readHome: BlockReader;
}

export function homeReader(disk: DiskBackend): BlockReader {
  return async (blockIndex, blockCount) => {
    const buf = new Uint8Array(blockCount * BLOCK_SIZE_BYTES);
    disk.read(blockIndex * BLOCK_SIZE_BYTES, buf);
    return buf;
  };
}

/** Opens the image: superblocks, journal, bitmap; records what is wrong. Throws FsckOperationalError if it is not a Strata image. */
export async function openImage(disk: DiskBackend, f: Findings): Promise<ImageView> {
  const deviceBlockCount = Math.floor(disk.sizeBytes / BLOCK_SIZE_BYTES);
  const readHome = homeReader(disk);
  let image: ImageReport;
  try {
    image = await readImage(readHome, deviceBlockCount);
  } catch (e) {
    if (e instanceof FormatError) throw new FsckOperationalError(`not a Strata image (or both superblocks are damaged): ${e.message}`);
    throw e;
  }
  const sb = image.superblock;
  const layout = sb.layout;
  const seed = checksumSeed(sb.uuid);
  f.count('superblocks', 2);
  if (image.source === 'spare') f.problem('superblock', 'primary-damaged', 'primary', `primary superblock is damaged, the spare was used: ${image.problems.join('; ')}`, { repairable: true });
  else if (image.spareStale) {
    const why = image.problems.length ? image.problems.join('; ') : 'its bytes differ from the primary';
    f.problem('superblock', 'spare-stale', 'spare', `spare superblock (block ${layout.spare.blockIndex}) does not match the primary: ${why}`, { repairable: true });
  }

  let journal: JournalScan | undefined;
  const overlay = new Map<number, Uint8Array>();
  try {
    const homeAllowed = (b: number) => b >= 0 && b < sb.blockCount && (b < layout.journal.blockIndex || b >= layout.journal.blockIndex + layout.journal.blockCount) && b !== layout.spare.blockIndex;
    journal = await scanJournal(readHome, layout, seed, homeAllowed);
    for (const t of journal.transactions) for (const w of t.writes) overlay.set(w.blockIndex, w.data);
    f.count('journal transactions', journal.transactions.length);
    if (journal.stop.reason === 'damaged') f.note('journal', `the scan stopped at a torn or incomplete transaction (${journal.stop.detail}); a mount discards it`);
    if (journal.transactions.length) f.note('journal', `${journal.transactions.length} committed transaction(s) not yet checkpointed; a mount replays them (the checks below include them)`);
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    f.problem('journal', 'journal-damaged', 'journal', `the journal cannot be scanned: ${e.message}`);
  }

  const read: BlockReader = async (blockIndex, blockCount) => {
    const buf = await readHome(blockIndex, blockCount);
    if (overlay.size) for (let i = 0; i < blockCount; i++) {
      const img = overlay.get(blockIndex + i);
      if (img) buf.set(img, i * BLOCK_SIZE_BYTES);
    }
    return buf;
  };

  let bits: Uint8Array | undefined;
  try {
    bits = await readBitmap(read, layout, seed);
    f.count('bitmap blocks', layout.bitmap.blockCount);
    f.count('data blocks', layout.data.blockCount);
    const free = countFree(bits, layout);
    const sbNow = overlay.has(0) ? await readCurrentSuperblock(read, deviceBlockCount) : sb;
    if (sbNow && free !== sbNow.freeBlockCount) {
      f.problem('bitmap', 'free-count', 'superblock', `the superblock says ${sbNow.freeBlockCount} free blocks, the bitmap has ${free}`, { repairable: true });
    }
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    f.problem('bitmap', 'bitmap-damaged', 'bitmap', `the bitmap cannot be read: ${e.message}`);
  }
  return { disk, superblock: sb, layout, seed, image, journal, bits, read, readHome };
}

async function readCurrentSuperblock(read: BlockReader, deviceBlockCount: number): Promise<Superblock | undefined> {
  try {
    return (await readImage(read, deviceBlockCount)).superblock;
  } catch {
    return undefined;
  }
}
