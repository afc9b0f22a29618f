/**
 * The journal log as a whole (FORMAT.md §6): laying a transaction out in the circular
 * log, choosing the current header slot, and scanning committed transactions from the
 * tail. Pure logic over an async block reader, so the service, `strata inspect` and
 * `strata fsck` replay exactly the same way.
 *
 * Scanning rule: starting at the header's (tailPosition, tailSequence), accept
 * transaction S only if it is complete and valid (journal-records.ts) and carries the
 * header's epoch; stop at the first one that is not. If the stop was at a damaged
 * record (not merely the end), and some later valid commit block of this epoch says its
 * batch began after S (batchFirstSequence > S), then S had been flushed before that
 * batch was written: S was committed and is now damaged, so the scan fails with a
 * FormatError instead of silently dropping a committed transaction.
 */
import { BLOCK_SIZE_BYTES, TAGS_PER_DESCRIPTOR } from '../limits.ts';
import { FormatError } from './bytes.ts';
import { crc32c } from './crc32c.ts';
import { journalLog, type Layout } from './layout.ts';
import { dataChecksum, looksValid } from './metadata.ts';
import {
  COMMIT_MAGIC,
  DESCRIPTOR_MAGIC,
  decodeCommit,
  decodeDescriptor,
  decodeJournalHeader,
  encodeCommit,
  encodeDescriptor,
  transactionLengthBlocks,
  type JournalHeader,
} from './journal-records.ts';

export interface BlockWrite {
  blockIndex: number;
  data: Uint8Array;
}

/** Reads `blockCount` consecutive blocks starting at absolute `blockIndex`. */
export type BlockReader = (blockIndex: number, blockCount: number) => Promise<Uint8Array>;

/** Lays out transaction `sequence` at log `position`: one BlockWrite per log block, in order (absolute block indexes, wrapping). */
export function encodeTransaction(
  writes: BlockWrite[],
  t: { sequence: number; epoch: number; batchFirstSequence: number; position: number },
  layout: Layout,
  seed: number,
): BlockWrite[] {
  if (writes.length === 0) throw new RangeError('a transaction writes at least one block');
  const log = journalLog(layout);
  const out: BlockWrite[] = [];
  let position = t.position;
  const at = () => {
    const blockIndex = log.blockIndex + position;
    position = (position + 1) % log.blockCount;
    return blockIndex;
  };
  let txChecksum = seed;
  let descriptorCount = 0;
  for (let first = 0; first < writes.length; first += TAGS_PER_DESCRIPTOR) {
    const chunk = writes.slice(first, first + TAGS_PER_DESCRIPTOR);
    const tags = chunk.map((w) => {
      if (w.data.length !== BLOCK_SIZE_BYTES) throw new RangeError(`journal write of ${w.data.length} bytes to block ${w.blockIndex}`);
      return { homeBlockIndex: w.blockIndex, dataChecksum: dataChecksum(w.data, seed) };
    });
    const blockIndex = at();
    const descriptor = encodeDescriptor({ sequence: t.sequence, epoch: t.epoch, descriptorIndex: descriptorCount++, tags }, blockIndex, seed);
    txChecksum = crc32c(descriptor, txChecksum);
    out.push({ blockIndex, data: descriptor });
    for (const w of chunk) out.push({ blockIndex: at(), data: w.data });
  }
  const commitIndex = at();
  out.push({
    blockIndex: commitIndex,
    data: encodeCommit(
      { sequence: t.sequence, epoch: t.epoch, blockCount: writes.length, descriptorCount, transactionChecksum: txChecksum, batchFirstSequence: t.batchFirstSequence },
      commitIndex,
      seed,
    ),
  });
  if (out.length !== transactionLengthBlocks(writes.length)) throw new Error('encodeTransaction: length disagrees with transactionLengthBlocks');
  return out;
}

export interface HeaderChoice {
  header: JournalHeader;
  slot: 0 | 1;
  /** Why the other slot was not used, if it was invalid. */
  otherSlotProblem?: string;
}

/** Reads both header slots and picks the valid one with the higher generation; FormatError if neither is valid. */
export async function readJournalHeader(read: BlockReader, layout: Layout, seed: number): Promise<HeaderChoice> {
  const logBlockCount = journalLog(layout).blockCount;
  const both = await read(layout.journal.blockIndex, 2);
  const results = ([0, 1] as const).map((slot) => {
    try {
      return { slot, header: decodeJournalHeader(both.subarray(slot * BLOCK_SIZE_BYTES, (slot + 1) * BLOCK_SIZE_BYTES), layout.journal.blockIndex + slot, seed, logBlockCount) };
    } catch (e) {
      return { slot, problem: (e as Error).message };
    }
  });
  const valid = results.filter((r) => r.header !== undefined);
  if (valid.length === 0) throw new FormatError('journal-header', 'slots', `neither header slot is valid: ${results.map((r) => r.problem).join('; ')}`, layout.journal.blockIndex);
  valid.sort((a, b) => b.header!.generation - a.header!.generation);
  const best = valid[0];
  const other = results.find((r) => r.slot !== best.slot)!;
  return { header: best.header!, slot: best.slot, otherSlotProblem: other.problem };
}

export interface ScannedTransaction {
  sequence: number;
  position: number;
  lengthBlocks: number;
  batchFirstSequence: number;
  writes: BlockWrite[];
}

export interface JournalScan {
  header: JournalHeader;
  headerSlot: 0 | 1;
  transactions: ScannedTransaction[];
  /** Where the next transaction goes, and its sequence. */
  headPosition: number;
  nextSequence: number;
  usedBlocks: number;
  /** Why the scan stopped: 'end' (no record of this epoch and sequence), 'damaged' (a torn or incomplete record), 'full' (the whole log is live). */
  stop: { reason: 'end' | 'damaged' | 'full'; detail: string };
}

/**
 * Scans committed transactions from the tail. `homeAllowed` says whether a tag may target a
 * block (inside the image, not the journal); a tag that may not is a FormatError, since a
 * checksummed record naming an impossible block is corruption, not a torn write.
 */
export async function scanJournal(read: BlockReader, layout: Layout, seed: number, homeAllowed: (blockIndex: number) => boolean): Promise<JournalScan> {
  const { header, slot } = await readJournalHeader(read, layout, seed);
  const log = journalLog(layout);
  const L = log.blockCount;
  const readLog = async (position: number, count: number): Promise<Uint8Array> => {
    const first = Math.min(count, L - position);
    const a = await read(log.blockIndex + position, first);
    if (first === count) return a;
    const out = new Uint8Array(count * BLOCK_SIZE_BYTES);
    out.set(a);
    out.set(await read(log.blockIndex, count - first), first * BLOCK_SIZE_BYTES);
    return out;
  };
  const transactions: ScannedTransaction[] = [];
  let position = header.tailPosition;
  let sequence = header.tailSequence;
  let used = 0;
  let stop: JournalScan['stop'] = { reason: 'full', detail: 'the log is full of committed transactions' };

  for (;;) {
    const r = await scanOne(readLog, position, sequence, header.epoch, L, seed, L - used, homeAllowed, log.blockIndex);
    if ('stop' in r) {
      stop = r.stop;
      break;
    }
    transactions.push(r.tx);
    used += r.tx.lengthBlocks;
    position = (position + r.tx.lengthBlocks) % L;
    sequence++;
    if (used === L) break;
  }
  if (stop.reason === 'damaged') await checkNoLaterBatch(readLog, L, log.blockIndex, seed, header.epoch, sequence, stop.detail);
  return { header, headerSlot: slot, transactions, headPosition: position, nextSequence: sequence, usedBlocks: used, stop };
}

type ScanResult = { tx: ScannedTransaction } | { stop: JournalScan['stop'] };

async function scanOne(
  readLog: (position: number, count: number) => Promise<Uint8Array>,
  start: number,
  sequence: number,
  epoch: number,
  L: number,
  seed: number,
  roomBlocks: number,
  homeAllowed: (blockIndex: number) => boolean,
  logStart: number,
): Promise<ScanResult> {
  const end = (detail: string): ScanResult => ({ stop: { reason: 'end', detail } });
  const damaged = (detail: string): ScanResult => ({ stop: { reason: 'damaged', detail } });
  let offset = 0;
  let txChecksum = seed;
  const writes: BlockWrite[] = [];
  for (let descriptorIndex = 0; ; descriptorIndex++) {
    if (offset + 1 > roomBlocks) return damaged(`transaction ${sequence} runs past the live log`);
    const position = (start + offset) % L;
    const blockIndex = logStart + position;
    const block = await readLog(position, 1);
    const isCommit = descriptorIndex > 0 && block.subarray(0, 4).every((b, i) => b === COMMIT_MAGIC[i]);
    if (isCommit) {
      let c;
      try {
        c = decodeCommit(block, blockIndex, seed);
      } catch (e) {
        return damaged(`commit of ${sequence}: ${(e as Error).message}`);
      }
      if (c.epoch !== epoch || c.sequence !== sequence) return damaged(`commit at position ${position} is for epoch ${c.epoch} sequence ${c.sequence}, expected ${epoch}/${sequence}`);
      if (c.descriptorCount !== descriptorIndex || c.blockCount !== writes.length) return damaged(`commit of ${sequence} counts ${c.descriptorCount} descriptors / ${c.blockCount} blocks, found ${descriptorIndex} / ${writes.length}`);
      if (c.transactionChecksum !== txChecksum) return damaged(`commit of ${sequence}: transactionChecksum 0x${c.transactionChecksum.toString(16)} does not match its descriptors (0x${txChecksum.toString(16)})`);
      return { tx: { sequence, position: start, lengthBlocks: offset + 1, batchFirstSequence: c.batchFirstSequence, writes } };
    }
    if (!block.subarray(0, 4).every((b, i) => b === DESCRIPTOR_MAGIC[i])) {
      return descriptorIndex === 0 ? end(`no descriptor at position ${position}`) : damaged(`transaction ${sequence} has no commit block at position ${position}`);
    }
    let d;
    try {
      d = decodeDescriptor(block, blockIndex, seed);
    } catch (e) {
      return damaged(`descriptor of ${sequence}: ${(e as Error).message}`);
    }
    if (d.epoch !== epoch || d.sequence !== sequence) {
      // A stale descriptor from an earlier lap or epoch where transaction `sequence` would begin: the end of the log.
      if (descriptorIndex === 0) return end(`descriptor at position ${position} is for epoch ${d.epoch} sequence ${d.sequence}, expected ${epoch}/${sequence}`);
      return damaged(`transaction ${sequence}'s descriptor ${descriptorIndex} belongs to epoch ${d.epoch} sequence ${d.sequence}`);
    }
    if (d.descriptorIndex !== descriptorIndex) return damaged(`transaction ${sequence}: descriptor index ${d.descriptorIndex}, expected ${descriptorIndex}`);
    if (offset + 1 + d.tags.length + 1 > roomBlocks) return damaged(`transaction ${sequence} runs past the live log`);
    txChecksum = crc32c(block, txChecksum);
    const data = await readLog((start + offset + 1) % L, d.tags.length);
    for (let i = 0; i < d.tags.length; i++) {
      const tag = d.tags[i];
      const image = data.slice(i * BLOCK_SIZE_BYTES, (i + 1) * BLOCK_SIZE_BYTES);
      if (dataChecksum(image, seed) !== tag.dataChecksum) return damaged(`transaction ${sequence}: data block ${writes.length} (home ${tag.homeBlockIndex}) fails its checksum`);
      if (!homeAllowed(tag.homeBlockIndex)) {
        throw new FormatError('descriptor', `tags[${i}].homeBlockIndex`, `transaction ${sequence} targets block ${tag.homeBlockIndex}, which a transaction may not write`, blockIndex);
      }
      writes.push({ blockIndex: tag.homeBlockIndex, data: image });
    }
    offset += 1 + d.tags.length;
  }
}

/** Throws if a valid commit block of this epoch belongs to a batch that began after `sequence` (see the header). */
async function checkNoLaterBatch(
  readLog: (position: number, count: number) => Promise<Uint8Array>,
  L: number,
  logStart: number,
  seed: number,
  epoch: number,
  sequence: number,
  detail: string,
): Promise<void> {
  const chunkBlocks = 256;
  for (let position = 0; position < L; position += chunkBlocks) {
    const count = Math.min(chunkBlocks, L - position);
    const chunk = await readLog(position, count);
    for (let i = 0; i < count; i++) {
      const block = chunk.subarray(i * BLOCK_SIZE_BYTES, (i + 1) * BLOCK_SIZE_BYTES);
      if (!looksValid(block, COMMIT_MAGIC, logStart + position + i, seed)) continue;
      let c;
      try {
        c = decodeCommit(block, logStart + position + i, seed);
      } catch {
        continue;
      }
      if (c.epoch === epoch && c.sequence > sequence && c.batchFirstSequence > sequence) {
        throw new FormatError(
          'journal',
          `transaction ${sequence}`,
          `is damaged (${detail}) but transaction ${c.sequence}, flushed in a later batch, is intact: a committed transaction was lost to corruption`,
          logStart + position + i,
        );
      }
    }
  }
}
