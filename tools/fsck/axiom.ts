/**
 * Axiom, read offline: the log opened read-only over the image's Axiom region (nothing
 * written, not even the epoch), its chain verified from the anchor to the last commit,
 * the newest checkpoint's image, and every committed record after it.
 *
 * A log ends at the first frame that does not verify. After a crash that is a torn tail
 * (a note). It is damage when an intact frame carrying a later seq lies just past the
 * stop: then committed history after the stop is being cut off, which no repair can give
 * back (an error, never repaired; fsck also refuses the repairs that would be made from
 * the shortened log). Limit: a crash that kept some unflushed writes of one group-commit
 * batch and lost others can leave the same picture; fsck reports it as damage.
 */
import type { DiskBackend } from '../../kernel/machine/disk/backend.ts';
import { DiskLogDevice } from '../../axiom/disk-device.ts';
import { AxiomLog } from '../../axiom/log.ts';
import { Ring } from '../../axiom/ring.ts';
import { FRAME_OFFSET, getU64 } from '../../axiom/frame.ts';
import { FRAME_ALIGN_BYTES, FRAME_HEADER_SIZE_BYTES, FRAME_SIZE_BYTES_MAX } from '../../axiom/limits.ts';
import type { LogRecord } from '../../axiom/records.ts';
import { crc32c } from '../../axiom/crc32c.ts';
import { axiomHasher } from '../../services/content/hash.ts';
import type { Layout } from '../../services/block/format/index.ts';
import type { Findings } from './report.ts';
import { AXIOM_PROBE_SEQS_MAX, AXIOM_PROBE_SIZE_BYTES_MAX, READ_BATCH_RECORDS, invariant } from './limits.ts';


export interface AxiomView {
  checkpointSeq: number;
  /** The newest checkpoint's image (the content and fs sections), or undefined before the first. */
  checkpointImage: unknown;
  committedSeq: number;
  /** Every committed record after the checkpoint, in order. */
  records: LogRecord[];
  /** False when the log is damaged: what was rebuilt from it is a prefix, not to be repaired from. */
  trustworthy: boolean;
}

export async function checkAxiom(disk: DiskBackend, layout: Layout, f: Findings): Promise<AxiomView | undefined> {
  const device = new DiskLogDevice(disk, layout.axiom.blockIndex, layout.axiom.blockCount);
  let log: AxiomLog;
  try {
    log = await AxiomLog.open(device, { readOnly: true, hasher: axiomHasher });
  } catch (e) {
    f.problem('axiom', 'log-unreadable', 'open', `the Axiom log cannot be opened: ${(e as Error).message}`);
    return undefined;
  }
  try {
    const r = log.recovery;
    let trustworthy = true;
    const verify = await log.verify();
    f.count('log records', verify.recordsVerified);
    if (!verify.ok) {
      trustworthy = false;
      f.problem('axiom', 'chain-broken', `seq ${verify.badSeq}`, `record ${verify.badSeq}: ${verify.reason}`);
    }
    if (r.stop.reason !== 'length' && r.stop.reason !== 'limit') {
      const later = await intactFrameAfter(new Ring(device), r.stop.pos, r.stop.seq);
      if (later !== undefined) {
        trustworthy = false;
        f.problem('axiom', 'frame-damaged', `seq ${r.stop.seq}`, `record ${r.stop.seq} at log position ${r.stop.pos} fails its ${r.stop.reason} check (${r.stop.detail}), and an intact record ${later} follows it: committed history after seq ${r.committedSeq} is cut off`);
      } else if (r.discardedRecords > 0 || r.stop.reason === 'checksum' || r.stop.reason === 'seq') {
        f.note('axiom', `the log ends at record ${r.stop.seq} (${r.stop.reason}: ${r.stop.detail}); ${r.discardedRecords} uncommitted record(s) after the last commit: a torn tail`);
      }
    }
    const cp = await log.checkpointImage();
    const checkpointSeq = cp?.seq ?? 0;
    const records: LogRecord[] = [];
    for (let from = Math.max(checkpointSeq + 1, log.startSeq); from <= log.committedSeq; ) {
      let batch: LogRecord[];
      try {
        batch = await log.read(from, READ_BATCH_RECORDS);
      } catch (e) {
        trustworthy = false;
        f.problem('axiom', 'record-unreadable', `seq ${from}`, `committed records from ${from} cannot be read: ${(e as Error).message}`);
        break;
      }
      if (batch.length === 0) break;
      invariant(batch[0].seq === from && batch[batch.length - 1].seq <= log.committedSeq, `a read from ${from} returned records ${batch[0].seq}..${batch[batch.length - 1].seq}`);
      records.push(...batch);
      from = batch[batch.length - 1].seq + 1;
    }
    return { checkpointSeq, checkpointImage: cp?.image, committedSeq: log.committedSeq, records, trustworthy };
  } finally {
    await log.close().catch(() => undefined);
  }
}

/** Seq of an intact frame (checksum verified) with a seq in (stopSeq, stopSeq + AXIOM_PROBE_SEQS_MAX] within AXIOM_PROBE_SIZE_BYTES_MAX after `pos`, if any. */
async function intactFrameAfter(ring: Ring, pos: number, stopSeq: number): Promise<number | undefined> {
  const length = Math.min(AXIOM_PROBE_SIZE_BYTES_MAX, ring.ringSizeBytes);
  const bytes = await ring.read(pos, length);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = FRAME_ALIGN_BYTES; at + FRAME_HEADER_SIZE_BYTES <= bytes.length; at += FRAME_ALIGN_BYTES) {
    const frameLength = dv.getUint32(at + FRAME_OFFSET.frameLength, true);
    if (frameLength < FRAME_HEADER_SIZE_BYTES || frameLength > FRAME_SIZE_BYTES_MAX || at + frameLength > bytes.length) continue;
    const seq = getU64(dv, at + FRAME_OFFSET.seq);
    if (seq <= stopSeq || seq > stopSeq + AXIOM_PROBE_SEQS_MAX) continue;
    if (dv.getUint32(at + FRAME_OFFSET.checksum, true) !== crc32c(bytes.subarray(at + FRAME_OFFSET.hash, at + frameLength))) continue;
    return seq;
  }
  return undefined;
}
