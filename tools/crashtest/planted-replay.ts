/**
 * Planted bug for the harness's self-test: a block-journal replay that trusts an
 * uncommitted transaction (the classic missing commit-block check).
 *
 * Mount (services/block/journal.ts Journal.open) replays the committed transactions that
 * scanJournal finds and stops at the first one without a valid commit block. This bug
 * also writes home the transaction after them, from its descriptors alone: every tagged
 * block as the log holds it, with no commit block and no data checksum checked, as a
 * journal would that treated a descriptor as a promise. It is planted from outside the
 * service, on the crash image before each recovery boots on it (check.ts): the image
 * then holds exactly what that buggy replay would have written home, and the real mount
 * runs on it. No service carries a switch; only test code passes the hook, the CLI has
 * no option for it.
 *
 * What it breaks: a crash inside a journal batch (a torn or partly landed transaction)
 * puts half-written bitmap or superblock images home, which the next mount (or fsck)
 * must notice. A whole transaction whose commit block alone was lost is harmless to
 * replay (its images are complete), and the harness rightly says nothing about those.
 */
import { BLOCK_SIZE_BYTES } from '../../services/block/limits.ts';
import { FormatError } from '../../services/block/format/bytes.ts';
import { scanJournal, type BlockReader } from '../../services/block/format/journal-log.ts';
import { decodeDescriptor } from '../../services/block/format/journal-records.ts';
import { journalLog } from '../../services/block/format/layout.ts';
import { checksumSeed } from '../../services/block/format/metadata.ts';
import { readImage } from '../../services/block/format/read-image.ts';
import { journalMayWrite } from '../../services/block/journal.ts';
import type { OverlayImage } from './overlay.ts';

/** How many home blocks the buggy replay wrote (0: the log ended cleanly, nothing to trust). */
export async function replayUncommitted(image: OverlayImage): Promise<number> {
  const read: BlockReader = async (blockIndex, blockCount) => {
    const out = new Uint8Array(blockCount * BLOCK_SIZE_BYTES);
    image.read(blockIndex * BLOCK_SIZE_BYTES, out);
    return out;
  };
  let scan;
  let layout;
  let seed;
  try {
    const { superblock } = await readImage(read, image.sizeBytes / BLOCK_SIZE_BYTES);
    layout = superblock.layout;
    seed = checksumSeed(superblock.uuid);
    scan = await scanJournal(read, layout, seed, (b) => journalMayWrite(layout!, b));
  } catch (e) {
    if (e instanceof FormatError) return 0; // the honest mount will refuse this image on its own
    throw e;
  }
  if (scan.stop.reason === 'full') return 0;
  const log = journalLog(layout);
  let position = scan.headPosition;
  let written = 0;
  for (let descriptorIndex = 0; descriptorIndex < log.blockCount; descriptorIndex++) {
    const blockIndex = log.blockIndex + position;
    let d;
    try {
      d = decodeDescriptor(await read(blockIndex, 1), blockIndex, seed);
    } catch (e) {
      if (e instanceof FormatError) break; // no (further) descriptor: the bug has nothing more to trust
      throw e;
    }
    if (d.epoch !== scan.header.epoch || d.sequence !== scan.nextSequence || d.descriptorIndex !== descriptorIndex) break;
    for (let i = 0; i < d.tags.length; i++) {
      const home = d.tags[i].homeBlockIndex;
      if (!journalMayWrite(layout, home)) break;
      const data = await read(log.blockIndex + ((position + 1 + i) % log.blockCount), 1);
      image.write(home * BLOCK_SIZE_BYTES, data, BLOCK_SIZE_BYTES);
      written++;
    }
    position = (position + 1 + d.tags.length) % log.blockCount;
  }
  return written;
}
