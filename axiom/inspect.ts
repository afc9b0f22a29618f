/**
 * `strata inspect axiom <image>` as a function: opens a log read-only (writing nothing,
 * not even the epoch), lists records (seq, txid, type, payload summary, hash prefix),
 * verifies the chain, and says where and why the log ends: zeros after the last commit
 * (a clean end), or a frame that failed its checksum or chain (a torn tail, or damage,
 * named by the seq it should have carried). tools/strata.ts prints `formatInspect`.
 */

import type { Hasher } from './chain.ts';
import type { LogDevice } from './device.ts';
import { AxiomLog, type RecoveryReport, type VerifyReport } from './log.ts';
import type { LogRecord } from './records.ts';

export interface InspectLine {
  seq: number;
  txid: number;
  type: string;
  summary: string;
  hashPrefix: string;
}

export interface InspectReport {
  logIdHex: string;
  anchorGeneration: number;
  epoch: number;
  startSeq: number;
  checkpointSeq: number;
  committedSeq: number;
  recovery: RecoveryReport;
  verify: VerifyReport;
  records: InspectLine[];
  /** More committed records follow the ones listed. */
  truncated: boolean;
}

const hex = (bytes: Uint8Array, n = bytes.length) => Array.from(bytes.subarray(0, n), (b) => b.toString(16).padStart(2, '0')).join('');

/** A one-line, bounded summary of a payload (bytes shown as a hex prefix). */
export function summarize(value: unknown, maxChars = 96): string {
  const text = JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? `0x${hex(v, 8)}${v.length > 8 ? '…' : ''}` : v)) ?? 'undefined';
  return text.length > maxChars ? `${text.slice(0, maxChars - 1)}…` : text;
}

export async function inspectAxiom(device: LogDevice, opts: { fromSeq?: number; limitRecords?: number; hasher?: Hasher } = {}): Promise<InspectReport> {
  const log = await AxiomLog.open(device, { readOnly: true, hasher: opts.hasher });
  const anchor = log.anchorInfo();
  const limit = opts.limitRecords ?? 1000;
  const records: LogRecord[] = [];
  let seq = Math.max(opts.fromSeq ?? anchor.startSeq, anchor.startSeq);
  while (records.length < limit && seq <= log.committedSeq) {
    const batch = await log.read(seq, Math.min(4096, limit - records.length));
    if (batch.length === 0) break;
    records.push(...batch);
    seq = batch[batch.length - 1].seq + 1;
  }
  return {
    logIdHex: hex(anchor.logId),
    anchorGeneration: anchor.generation,
    epoch: anchor.epoch,
    startSeq: anchor.startSeq,
    checkpointSeq: anchor.checkpointSeq,
    committedSeq: log.committedSeq,
    recovery: log.recovery,
    verify: await log.verify(),
    records: records.map((r) => ({ seq: r.seq, txid: r.txid, type: r.type, summary: summarize(r.payload), hashPrefix: hex(r.hash, 6) })),
    truncated: seq <= log.committedSeq,
  };
}

export function formatInspect(report: InspectReport): string {
  const r = report.recovery;
  const lines = [
    `axiom log ${report.logIdHex}  anchor generation ${report.anchorGeneration}, epoch ${report.epoch}`,
    `records ${report.startSeq}..${report.committedSeq}${report.checkpointSeq ? ` from checkpoint ${report.checkpointSeq}` : ' from the beginning'}, ${r.transactionsFound} transactions`,
    ...report.records.map((x) => `${String(x.seq).padStart(10)} ${String(x.txid).padStart(10)}  ${x.type.padEnd(14)} ${x.hashPrefix}  ${x.summary}`),
  ];
  if (report.truncated) lines.push(`… more records follow ${report.records.at(-1)?.seq ?? report.startSeq}`);
  const clean = r.stop.reason === 'length' && r.discardedRecords === 0;
  lines.push(
    clean
      ? `end of log at record ${r.stop.seq}: no frame follows (clean)`
      : `end of log at record ${r.stop.seq}: ${r.stop.reason} (${r.stop.detail}); ${r.discardedRecords} uncommitted records after the last commit — a torn tail, or damage`,
  );
  lines.push(report.verify.ok ? `chain verified: ${report.verify.recordsVerified} records` : `CHAIN BROKEN at record ${report.verify.badSeq}: ${report.verify.reason}`);
  return lines.join('\n');
}
