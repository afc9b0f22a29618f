/**
 * The engine's options, reports and their checks: what `AxiomLog.open` and `format`
 * accept (ranges checked here, BADARG naming the option), and the shapes of the recovery
 * report and statistics the engine and the service hand out.
 */

import type { Clock, Timers } from '../kernel/service.ts';
import { nobleBlake3, type Hasher } from './chain.ts';
import type { CommitterConfig, EngineState } from './committer.ts';
import type { LogDevice } from './device.ts';
import { axiomError } from './errors.ts';
import * as L from './limits.ts';
import type { ScanResult } from './scan.ts';

export interface AxiomOptions {
  hasher?: Hasher;
  /** Needed when batchWaitMs > 0. */
  timers?: Timers;
  clock?: Clock;
  batchWaitMs?: number;
  batchRecordsMax?: number;
  batchSizeBytesMax?: number;
  /** Recover and read, but write nothing (not even the epoch): inspection and fsck. */
  readOnly?: boolean;
}

export interface FormatOptions {
  /** 16 random bytes naming this log (seeds the genesis hash). */
  logId: Uint8Array;
  hasher?: Hasher;
  /** Overwrite a region that holds a log (or a damaged anchor). */
  force?: boolean;
  /** Largest checkpoint image; default CHECKPOINT_IMAGE_SIZE_BYTES_MAX. */
  checkpointImageSizeBytesMax?: number;
}

export interface RecoveryReport {
  anchorGeneration: number;
  epoch: number;
  startSeq: number;
  checkpointSeq: number;
  committedSeq: number;
  transactionsFound: number;
  discardedRecords: number;
  /** Where the walk found the end of the log, and why. */
  stop: ScanResult['stop'];
  /** A committed checkpoint newer than the anchor's was found and the anchor moved to it. */
  anchorMoved: boolean;
}

export interface AxiomStats {
  state: EngineState;
  epoch: number;
  anchorGeneration: number;
  startSeq: number;
  checkpointSeq: number;
  committedSeq: number;
  startPos: number;
  tailPos: number;
  ringSizeBytes: number;
  liveBytes: number;
  /** Bytes ordinary transactions may still use before NOSPC (the checkpoint reserve excluded). */
  freeBytes: number;
  batches: number;
  flushes: number;
  transactionsCommitted: number;
  recordsCommitted: number;
  bytesWritten: number;
  batchTransactionsMax: number;
  /** Longest a proposal waited in the queue before its batch was sealed (injected clock; 0 without one). */
  batchWaitMsMax: number;
  pendingProposals: number;
  refused: Record<string, number>;
  listenerErrors: number;
  indexEntries: number;
}

export interface Config extends CommitterConfig {
  imageSizeBytesMax: number;
}

export function resolveOptions(device: LogDevice, o: AxiomOptions, imageSizeBytesMax: number): Config {
  const int = (v: number | undefined, dflt: number, min: number, max: number, what: string) => {
    const x = v ?? dflt;
    if (!Number.isSafeInteger(x) || x < min || x > max) throw axiomError('BADARG', `${what} must be an integer in [${min}, ${max}], got ${x}`);
    return x;
  };
  int(imageSizeBytesMax, 0, L.CHECKPOINT_IMAGE_SIZE_BYTES_MIN, L.CHECKPOINT_IMAGE_SIZE_BYTES_MAX, 'checkpointImageSizeBytesMax');
  const cfg: Config = {
    hasher: o.hasher ?? nobleBlake3,
    timers: o.timers,
    clock: o.clock,
    batchWaitMs: int(o.batchWaitMs, L.BATCH_WAIT_MS_DEFAULT, 0, L.BATCH_WAIT_MS_MAX, 'batchWaitMs'),
    batchRecordsMax: int(o.batchRecordsMax, L.BATCH_RECORDS_MAX, 2, L.BATCH_RECORDS_MAX, 'batchRecordsMax'),
    batchSizeBytesMax: int(o.batchSizeBytesMax, L.BATCH_SIZE_BYTES_MAX, L.AXIOM_BLOCK_SIZE_BYTES, L.BATCH_SIZE_BYTES_MAX, 'batchSizeBytesMax'),
    imageSizeBytesMax,
    reserveBytes: L.checkpointReserveBytes(imageSizeBytesMax),
  };
  if (cfg.batchWaitMs > 0 && !cfg.timers) throw axiomError('BADARG', 'batchWaitMs > 0 needs injected timers');
  checkDevice(device, imageSizeBytesMax);
  return cfg;
}

function checkDevice(device: LogDevice, imageSizeBytesMax: number): void {
  if (device.blockSizeBytes !== L.AXIOM_BLOCK_SIZE_BYTES) throw axiomError('BADARG', `the device's blocks are ${device.blockSizeBytes} bytes, Axiom needs ${L.AXIOM_BLOCK_SIZE_BYTES}`);
  const min = L.regionBlockCountMin(imageSizeBytesMax);
  if (!Number.isSafeInteger(device.blockCount) || device.blockCount < min || device.blockCount >= 2 ** 32) {
    throw axiomError('BADARG', `a region of ${device.blockCount} blocks is outside [${min}, 2^32) for checkpoint images of ${imageSizeBytesMax} bytes`);
  }
}

