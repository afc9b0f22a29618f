// Crash checking for the filesystem (DESIGN.md's crash-consistency contract): run a seeded
// workload over the whole stack on a recording faulty disk, mark the disk log at every
// acknowledgement, keep the model's tree after every operation; then rebuild crash images
// at chosen points of the log and check each recovers to the model after the acknowledged
// prefix, or after one more operation (the one in flight when the power went).
import { expect } from 'vitest';
import { Random } from '../../kernel/random.ts';
import { FaultyBackend, imageAt, type CrashMode } from '../../kernel/machine/disk/faulty.ts';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { ServiceError } from '../../kernel/errors.ts';
import { ROOT_INO, parseFsRequest } from '../../services/fs/protocol.ts';
import { FsModel } from '../../tools/model/fs-model.ts';
import { bootFsStack, formatTestDisk, MiB, patterned } from '../helpers/stack.ts';
import { dumpFs } from './model-check.ts';

type Call = (op: string, body: Record<string, unknown>) => Promise<unknown>;

const DIRS = ['/', '/d0', '/d1'];
const NAMES = ['a', 'b', 'c'];

interface Op {
  describe: string;
  run(call: Call): Promise<void>;
}

async function ino(call: Call, path: string): Promise<number> {
  return ((await call('resolve', { path, followLast: false })) as { ino: number }).ino;
}

function join(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** A seeded workload of operations that each complete (a write is closed, so committed). */
export function workload(seed: number, count: number): Op[] {
  const r = new Random(seed);
  const pick = <T>(xs: T[]) => xs[r.below(xs.length)];
  const ops: Op[] = [
    { describe: 'mkdir /d0', run: async (call) => void (await call('mkdir', { parent: ROOT_INO, name: 'd0', mode: 0o755 })) },
    { describe: 'mkdir /d1', run: async (call) => void (await call('mkdir', { parent: ROOT_INO, name: 'd1', mode: 0o755 })) },
  ];
  for (let i = 0; i < count; i++) {
    const dir = pick(DIRS);
    const name = pick(NAMES);
    const path = join(dir, name);
    const kind = r.below(10);
    if (kind <= 3) {
      const offsetBytes = pick([0, 100, 64 * 1024 - 10, 200 * 1024]);
      const lengthBytes = pick([10, 5000, 70 * 1024]);
      const seedData = r.u32();
      ops.push({
        describe: `write ${path} @${offsetBytes} +${lengthBytes}`,
        run: async (call) => {
          let handle: number;
          try {
            handle = ((await call('open', { ino: await ino(call, path), flags: { read: true, write: true } })) as { handle: number }).handle;
          } catch (e) {
            if (!(e instanceof ServiceError) || e.code !== 'ENOENT') throw e;
            handle = ((await call('create', { parent: await ino(call, dir), name, mode: 0o644 })) as { handle: number }).handle;
          }
          await call('write', { handle, offsetBytes, data: patterned(lengthBytes, seedData) });
          await call('close', { handle });
        },
      });
    } else if (kind === 4) {
      const sizeBytes = pick([0, 50, 64 * 1024 + 3]);
      ops.push({ describe: `truncate ${path} ${sizeBytes}`, run: async (call) => void (await call('truncate', { ino: await ino(call, path), sizeBytes })) });
    } else if (kind === 5) {
      const to = join(pick(DIRS), pick(NAMES));
      ops.push({
        describe: `rename ${path} ${to}`,
        run: async (call) => {
          const toDir = to.slice(0, to.lastIndexOf('/')) || '/';
          await call('rename', { parent: await ino(call, dir), name, newParent: await ino(call, toDir), newName: to.slice(to.lastIndexOf('/') + 1) });
        },
      });
    } else if (kind === 6) {
      ops.push({ describe: `unlink ${path}`, run: async (call) => void (await call('unlink', { parent: await ino(call, dir), name })) });
    } else if (kind === 7) {
      const to = join(pick(DIRS), pick(NAMES));
      ops.push({
        describe: `link ${path} ${to}`,
        run: async (call) => {
          const toDir = to.slice(0, to.lastIndexOf('/')) || '/';
          await call('link', { ino: await ino(call, path), parent: await ino(call, toDir), name: to.slice(to.lastIndexOf('/') + 1) });
        },
      });
    } else if (kind === 8) {
      ops.push({ describe: `symlink ${path}`, run: async (call) => void (await call('symlink', { parent: await ino(call, dir), name, target: 'somewhere' })) });
    } else if (kind === 9 && r.below(3) === 0) {
      ops.push({ describe: 'checkpoint', run: async (call) => void (await call('checkpoint', {})) });
    } else {
      ops.push({ describe: `mkdir ${path}`, run: async (call) => void (await call('mkdir', { parent: await ino(call, dir), name, mode: 0o700 })) });
    }
  }
  return ops;
}

async function attempt(op: Op, call: Call): Promise<void> {
  try {
    await op.run(call);
  } catch (e) {
    if (!(e instanceof ServiceError)) throw e; // an errno is a valid outcome; anything else is a bug
  }
}

export interface CrashRun {
  /** The model's tree at each acknowledgement point (0: before the workload). */
  snapshots: Record<string, string>[];
  /** The disk log's length at each acknowledgement point after the first. */
  marks: number[];
  base: Uint8Array;
  log: FaultyBackend['log'];
  calls: number;
}

/** Calls whose reply is not an acknowledgement of durable state: their effect commits later. */
const NOT_ACK = new Set(['write', 'read', 'getattr', 'lookup', 'resolve', 'readdir', 'readlink', 'walk', 'statfs']);

/**
 * Runs the workload on the real stack over a recording disk, and each protocol call on the
 * model right after it (same inode and handle numbers, same errno, checked). Every reply
 * that acknowledges durable state is an acknowledgement point: the disk log is marked and
 * the model's tree kept. A write is acknowledged by the close or fsync that commits it.
 */
export async function recordRun(seed: number, count: number): Promise<CrashRun> {
  const disk = (await formatTestDisk(new FaultyBackend(48 * MiB))) as FaultyBackend;
  const sys = await bootFsStack(disk);
  await sys.kernel.idle();
  disk.flush();
  disk.resetLog();
  const model = new FsModel();
  const snapshots = [model.dump()];
  const marks: number[] = [];
  let calls = 0;
  const call: Call = async (op, body) => {
    calls++;
    const outcome = async (f: () => Promise<unknown>) => {
      try {
        return { value: await f() };
      } catch (e) {
        if (!(e instanceof ServiceError)) throw e;
        return { error: e };
      }
    };
    const real = await outcome(() => sys.user.call('fs', op, body));
    // A checkpoint changes nothing a client can see: the model has nothing to do.
    const expected = await outcome(async () => (op === 'checkpoint' ? {} : model.apply(parseFsRequest(op, body))));
    expect(real.error?.code, `${op} ${JSON.stringify(body).slice(0, 80)}`).toBe(expected.error?.code);
    for (const key of ['handle', 'ino'] as const) {
      const a = (real.value as Record<string, unknown> | undefined)?.[key];
      if (a !== undefined) expect(a).toBe((expected.value as Record<string, unknown>)[key]);
    }
    if (!NOT_ACK.has(op) && !real.error) {
      disk.mark(`ack ${op}`);
      marks.push(disk.log.length);
      snapshots.push(model.dump());
    }
    if (real.error) throw real.error;
    return real.value;
  };
  for (const op of workload(seed, count)) await attempt(op, call);
  expect(await dumpFs(sys.fs!)).toEqual(model.dump()); // the live run itself agrees with the model
  await sys.shutdown();
  return { snapshots, marks, base: disk.logBase(), log: disk.log, calls };
}

/** Recovers from the crash image after `entryCount` log entries under `mode`, and checks the contract. */
export async function checkCrash(run: CrashRun, entryCount: number, mode: CrashMode): Promise<void> {
  const image = imageAt(run.base, run.log, { entryCount, mode });
  const acked = run.marks.filter((m) => m <= entryCount).length;
  const disk = new MemoryBackend(image);
  const sys = await bootFsStack(disk);
  try {
    const tree = await dumpFs(sys.fs!);
    const allowed = [run.snapshots[acked], run.snapshots[acked + 1]].filter(Boolean);
    const ok = allowed.some((s) => JSON.stringify(s) === JSON.stringify(tree));
    if (!ok) {
      expect(tree, `crash after log entry ${entryCount} (${JSON.stringify(mode)}), ${acked} ops acknowledged`).toEqual(run.snapshots[acked]);
    }
    const verify = await sys.axiom!.verify();
    expect(verify.ok).toBe(true);
  } finally {
    await sys.shutdown();
  }
}
