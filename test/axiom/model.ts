// Property: Axiom behaves like a list of committed transactions, through waves of
// concurrent proposals and checkpoints, clean reopens, and power loss at any device
// operation with any loss mode. After every step the log replays exactly the model's
// history since the newest checkpoint; after a crash, the in-flight wave contributed a
// prefix of its items (in submission order) that holds every acknowledged one.
import { expect } from 'vitest';
import fc from 'fast-check';
import { FaultyBackend, type CrashMode } from '../../kernel/machine/disk/faulty.ts';
import { AxiomLog, type AxiomOptions } from '../../axiom/log.ts';
import { DiskLogDevice } from '../../axiom/disk-device.ts';
import { AXIOM_BLOCK_SIZE_BYTES } from '../../axiom/limits.ts';
import { KillSwitchDevice, replay, taggedTxn } from './helpers.ts';

const REGION_BLOCKS = 12;
const OPTIONS: AxiomOptions = { batchSizeBytesMax: 8192 };

type Item = { kind: 'txn'; id: number } | { kind: 'cp'; id: number };
export type Cmd =
  | { kind: 'wave'; items: { checkpoint: boolean; records: number; padBytes: number }[]; crash: { afterOps: number; mode: CrashMode } | null }
  | { kind: 'reopen' };

const modeArb: fc.Arbitrary<CrashMode> = fc.oneof(
  fc.constant<CrashMode>('lose-all'),
  fc.constant<CrashMode>('keep-all'),
  fc.nat().map((s): CrashMode => ({ subset: s })),
  fc.nat().map((s): CrashMode => ({ torn: s })),
);

export const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 6, arbitrary: fc.record({
    kind: fc.constant('wave' as const),
    items: fc.array(
      fc.record({ checkpoint: fc.integer({ min: 0, max: 19 }).map((x) => x === 0), records: fc.integer({ min: 1, max: 6 }), padBytes: fc.integer({ min: 0, max: 240 }) }),
      { minLength: 1, maxLength: 16 },
    ),
    crash: fc.option(fc.record({ afterOps: fc.integer({ min: 1, max: 12 }), mode: modeArb }), { freq: 3 }),
  }) },
  { weight: 1, arbitrary: fc.constant<Cmd>({ kind: 'reopen' }) },
);

class World {
  readonly backend = new FaultyBackend((REGION_BLOCKS + 1) * AXIOM_BLOCK_SIZE_BYTES, { recordLog: false });
  readonly region = new DiskLogDevice(this.backend, 1, REGION_BLOCKS);
  device = new KillSwitchDevice(this.region);
  log!: AxiomLog;
  /** Every committed item, in log order. */
  history: Item[] = [];
  nextId = 1;

  async start(): Promise<void> {
    await AxiomLog.format(this.region, { logId: new Uint8Array(16).fill(9), checkpointImageSizeBytesMax: 256 });
    this.log = await AxiomLog.open(this.device, OPTIONS);
  }

  async reopen(): Promise<void> {
    this.device = new KillSwitchDevice(this.region);
    this.log = await AxiomLog.open(this.device, OPTIONS);
  }

  /** What the log replays now, as items. */
  async replayed(): Promise<Item[]> {
    return (await replay(this.log)).map((t): Item => {
      const r = t.records[0];
      if (r.type === 'Checkpoint') return { kind: 'cp', id: (r.payload.image as { id: number }).id };
      if (r.type === 'FileCreate') return { kind: 'txn', id: r.payload.ino };
      throw new Error(`unexpected ${r.type}`);
    });
  }

  /** The model's view: history from the newest checkpoint on. */
  expected(history: Item[]): Item[] {
    let from = 0;
    history.forEach((it, i) => {
      if (it.kind === 'cp') from = i;
    });
    return history.slice(from);
  }
}

async function runWave(w: World, cmd: Extract<Cmd, { kind: 'wave' }>): Promise<void> {
  if (cmd.crash) w.device.arm(cmd.crash.afterOps);
  const items: Item[] = [];
  const work = cmd.items.map((spec) => {
    const id = w.nextId++;
    const item: Item = spec.checkpoint ? { kind: 'cp', id } : { kind: 'txn', id };
    items.push(item);
    return spec.checkpoint ? w.log.checkpoint({ id }) : w.log.propose(taggedTxn(id, spec.records, spec.padBytes));
  });
  const results = await Promise.allSettled(work);
  const settled = items.map((item, i) => ({ item, result: results[i] }));
  modelStats.waves++;
  for (const { result } of settled) {
    if (result.status === 'rejected') expect(['NOSPC', 'EIO']).toContain((result.reason as { code: string }).code);
    if (result.status === 'rejected' && (result.reason as { code: string }).code === 'NOSPC') modelStats.nospc++;
  }
  const candidates = settled.filter(({ result }) => result.status === 'fulfilled' || (result.reason as { code: string }).code === 'EIO');
  if (!w.device.killed) {
    w.device.arm(Infinity);
    expect(candidates.every(({ result }) => result.status === 'fulfilled')).toBe(true);
    w.history.push(...candidates.map(({ item }) => item));
    return;
  }
  // Power lost mid-wave: keep what the crash mode keeps, recover, and find which prefix survived.
  modelStats.crashes++;
  w.backend.crash(cmd.crash!.mode);
  await w.reopen();
  const got = await w.replayed();
  const lastAcked = candidates.map(({ result }) => result.status).lastIndexOf('fulfilled');
  for (let j = 0; j <= candidates.length; j++) {
    const history = [...w.history, ...candidates.slice(0, j).map(({ item }) => item)];
    if (JSON.stringify(w.expected(history)) === JSON.stringify(got)) {
      expect(j, 'every acknowledged item survived').toBeGreaterThan(lastAcked);
      w.history = history;
      return;
    }
  }
  throw new Error(`recovered ${JSON.stringify(got)} is no prefix of ${JSON.stringify(candidates.map((c) => c.item))} after ${JSON.stringify(w.expected(w.history))}`);
}

async function check(w: World): Promise<void> {
  expect(await w.replayed()).toEqual(w.expected(w.history));
  expect(await w.log.verify()).toMatchObject({ ok: true });
}

export const modelStats = { waves: 0, crashes: 0, nospc: 0, laps: 0 };

export async function runModel(cmds: Cmd[]): Promise<void> {
  const w = new World();
  await w.start();
  for (const cmd of cmds) {
    if (cmd.kind === 'reopen') {
      await w.log.close();
      await w.reopen();
    } else {
      await runWave(w, cmd);
    }
    await check(w);
  }
  modelStats.laps = Math.max(modelStats.laps, Math.floor(w.log.stats().tailPos / w.log.stats().ringSizeBytes));
  await w.log.close();
  await w.reopen();
  await check(w);
}

