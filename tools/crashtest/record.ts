/**
 * Recording a run for the crash harness: format a disk, boot the whole stack on a
 * recording FaultyBackend (kernel/machine/disk/faulty.ts), run a workload, and apply
 * each protocol call to the reference model (tools/model/fs-model.ts) right after the
 * real one. Every reply that acknowledges durable state puts a mark in the disk log
 * (like dm-log-writes) and keeps the model's tree at that point.
 *
 * Invariants:
 * - snapshots[k] is the model's tree after k acknowledgements; marks[k-1] is the disk log
 *   length when the k-th acknowledgement arrived. A crash after log entry e has
 *   acknowledged exactly the k with marks[k-1] <= e.
 * - The live run must agree with the model call by call (same errno, same inode and
 *   handle numbers) and in its final tree; otherwise RecordError, before any crash
 *   state is built (a crash verdict against a wrong model would mean nothing).
 * - Deterministic: fixed disk ids, fixed epoch, the kernel's seed from the run's seed.
 */
import { FaultyBackend, type DiskLogEntry } from '../../kernel/machine/disk/faulty.ts';
import type { DiskBackend } from '../../kernel/machine/disk/backend.ts';
import { ServiceError } from '../../kernel/errors.ts';
import { parseFsRequest } from '../../services/fs/protocol.ts';
import { FsModel } from '../model/fs-model.ts';
import { bootSystem, type System } from '../system.ts';
import { formatDisk } from '../cli/mkimage.ts';
import { dumpTree, modelTree, type Tree } from './tree.ts';
import type { Call, StepEnv, Workload } from './workloads.ts';
import type { OverlayImage } from './overlay.ts';

const MiB = 1024 * 1024;
/** The scratch disk: room for the big-file workload, small enough to copy per state. */
export const CRASH_DISK_SIZE_BYTES = 32 * MiB;
/**
 * Physical memory of each boot: the block service's 32 MiB staging region and the content
 * store's contiguous 32 MiB with room to spare (64 MiB does not boot). Every state boots
 * twice, and a smaller SharedArrayBuffer is less for the collector: 96 instead of 128 MiB
 * cut a state's CPU time by about a fifth.
 */
export const CRASH_MEMORY_SIZE_BYTES = 96 * MiB;
/** File times: fixed so two runs give the same bytes. */
export const CRASH_EPOCH_MS = 1_700_000_000_000;

/** Replies that are not acknowledgements of durable state (a write commits later). */
const NOT_ACK = new Set(['write', 'read', 'getattr', 'lookup', 'resolve', 'readdir', 'readlink', 'walk', 'statfs', 'snapshotList', 'snapshotDiff']);

export class RecordError extends Error {}

export interface CrashRun {
  workload: string;
  seed: number;
  opCount: number;
  base: Uint8Array;
  log: readonly DiskLogEntry[];
  /** Log length at each acknowledgement. */
  marks: number[];
  /** What each acknowledgement acknowledged (`mkdir {"parent":1,...}`), for reports. */
  ackLabels: string[];
  /** The model's tree after k acknowledgements, k = 0 .. marks.length. */
  snapshots: Tree[];
  calls: number;
}

/** Test-only hooks for the planted-bug self-test (tools/crashtest/planted.ts); production runs pass none, the CLI cannot set them. */
export interface RecordHooks {
  /** Wraps the recording disk under the stack (a misbehaving device). */
  wrapDisk?: (disk: FaultyBackend) => DiskBackend;
  /** Puts the acknowledgement mark when the call is sent instead of when it is answered. */
  markBeforeReply?: boolean;
  /** Changes each crash image before a recovery boots on it (a recovery bug planted from outside the service). */
  beforeRecovery?: (image: OverlayImage) => Promise<unknown>;
}

export async function bootCrashStack(disk: DiskBackend, seed: number): Promise<System> {
  return bootSystem({ disk, seed, memorySizeBytes: CRASH_MEMORY_SIZE_BYTES, epochMs: CRASH_EPOCH_MS, upTo: 'fs', keepDiskOpen: true });
}

async function outcome(f: () => Promise<unknown>): Promise<{ value?: unknown; error?: ServiceError }> {
  try {
    return { value: await f() };
  } catch (e) {
    if (!(e instanceof ServiceError)) throw e;
    return { error: e };
  }
}

export async function recordRun(workload: Workload, seed: number, opCount: number, hooks: RecordHooks = {}): Promise<CrashRun> {
  const recorder = new FaultyBackend(CRASH_DISK_SIZE_BYTES);
  await formatDisk(recorder, { uuid: new Uint8Array(16).fill(7), logId: new Uint8Array(16).fill(9) });
  const disk = hooks.wrapDisk?.(recorder) ?? recorder;
  const sys = await bootCrashStack(disk, seed);
  await sys.kernel.idle();
  recorder.flush();
  recorder.resetLog();
  // The model reads the kernel's virtual clock as the service does: the service's restore
  // compares mtimes (object hashes), so the model's must be the same.
  const model = new FsModel(() => {
    const ms = CRASH_EPOCH_MS + sys.kernel.nowMs();
    return { sec: Math.floor(ms / 1000), nsec: Math.round((ms % 1000) * 1e6) };
  });
  const run: CrashRun = { workload: workload.name, seed, opCount, base: recorder.logBase(), log: recorder.log, marks: [], ackLabels: [], snapshots: [modelTree(model)], calls: 0 };
  const call: Call = async (op, body) => {
    run.calls++;
    const label = `${op} ${JSON.stringify(body, (_k, v: unknown) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v))}`;
    const acks = !NOT_ACK.has(op);
    const early = acks && hooks.markBeforeReply === true ? recorder.log.length : null;
    const real = await outcome(() => sys.user.call('fs', op, body));
    // Admin ops (not in the fs protocol's request union) the model answers itself: they change nothing a client sees.
    const expected = await outcome(async () => (op === 'checkpoint' ? model.checkpoint() : op === 'gc' ? model.gc() : model.apply(parseFsRequest(op, body))));
    if (real.error?.code !== expected.error?.code) {
      throw new RecordError(`live run disagrees with the model on ${label}: fs ${real.error?.code ?? 'ok'}, model ${expected.error?.code ?? 'ok'}`);
    }
    for (const key of ['handle', 'ino'] as const) {
      const a = (real.value as Record<string, unknown> | undefined)?.[key];
      const b = (expected.value as Record<string, unknown> | undefined)?.[key];
      if (a !== undefined && a !== b) throw new RecordError(`live run disagrees with the model on ${label}: ${key} ${String(a)} vs ${String(b)}`);
    }
    if (acks && !real.error) {
      recorder.mark(`ack ${op}`);
      run.marks.push(early ?? recorder.log.length);
      run.ackLabels.push(label);
      run.snapshots.push(modelTree(model));
    }
    if (real.error) throw real.error;
    return real.value;
  };
  const env: StepEnv = { advanceTimeMs: (ms) => sys.kernel.advanceTime(ms) };
  for (const step of workload.steps(seed, opCount)) {
    try {
      await step.run(call, env);
    } catch (e) {
      if (!(e instanceof ServiceError)) throw e; // an errno is a valid outcome; anything else is a bug
    }
  }
  const live = await dumpTree(sys.fs!);
  if (JSON.stringify(live) !== JSON.stringify(modelTree(model))) throw new RecordError(`${workload.name} seed ${seed}: the live tree differs from the model's at the end of the run`);
  await sys.shutdown();
  return run;
}
