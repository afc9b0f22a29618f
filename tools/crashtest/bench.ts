/**
 * What one crash state costs, per workload: states checked per CPU second with the crash
 * images the harness uses (overlays on the run's base, overlay.ts), against the same
 * states checked on full-copy images (buildImage: a 32 MiB copy of the base and a replay
 * of the log prefix per state, what the harness did before), measured in the same run,
 * state by state alternately so both see the same machine. Also where a state's time
 * goes: image, first recovery (boot: journal replay, Axiom recovery, mounts), tree dump
 * and live fsck, offline fsck, second recovery (boot, dump, fsck again).
 *
 * CPU time (process.cpuUsage, this process only) rather than wall time: the figure should
 * not depend on what else the machine runs. Prints a table and JSON (tools/bench/report.ts).
 *
 *   npx tsx tools/crashtest/bench.ts [--states N] [--workload NAME]
 */
import { parseArgs as parseNodeArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { formatTable, toJson, type BenchRow } from '../bench/report.ts';
import { backendsFor } from '../shell/backends.ts';
import { fsckImage } from '../fsck/index.ts';
import { checkState, cursorImages, type ImageSource } from './check.ts';
import { OverlayImage } from './overlay.ts';
import { bootCrashStack, recordRun, type CrashRun } from './record.ts';
import { RecoveryDisk } from './recovery-disk.ts';
import { buildImage, enumerateStates, spread, type CrashState } from './states.ts';
import { dumpTree } from './tree.ts';
import { ALL_WORKLOADS, OP_COUNT_DEFAULT, findWorkload, type Workload } from './workloads.ts';

const GROUP = 'crashtest-images';
const SEED = 1;

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t0 = cpuMs();
  await f();
  return cpuMs() - t0;
}

/** One state's phases, as check.ts's recover() runs them (ms of CPU). */
async function phases(run: CrashRun, images: ImageSource, state: CrashState): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  let t = cpuMs();
  const lap = (name: string) => {
    const now = cpuMs();
    out[name] = (out[name] ?? 0) + now - t;
    t = now;
  };
  let image = images(state);
  lap('image');
  for (const pass of ['first', 'second']) {
    const disk = new RecoveryDisk(image);
    const sys = await bootCrashStack(disk, run.seed);
    await sys.kernel.idle();
    lap(`${pass} recovery: boot`);
    await dumpTree(sys.fs!);
    lap(`${pass} recovery: tree dump`);
    await backendsFor(sys).fsck!.check();
    lap(`${pass} recovery: fsck`);
    disk.powerOff();
    image = disk.durable;
    if (pass === 'first') {
      await fsckImage(new RecoveryDisk(image.clone()), { repair: false });
      lap('offline fsck');
    }
  }
  return out;
}

export async function benchCrashImages(opts: { statesPerWorkload: number; workloads: readonly Workload[] }): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const phaseTotals: Record<string, number> = {};
  let phaseStates = 0;
  for (const workload of opts.workloads) {
    const run = await recordRun(workload, SEED, OP_COUNT_DEFAULT);
    const states = spread(enumerateStates(run.log, SEED), opts.statesPerWorkload);
    const overlay = cursorImages(run);
    const copies: ImageSource = (s) => new OverlayImage(buildImage(run.base, run.log, s));
    let overlayMs = 0;
    let copyMs = 0;
    for (const s of states) {
      overlayMs += await timed(async () => {
        const v = await checkState(run, s, overlay);
        if (v.violations.length) throw new Error(`crashtest bench: ${workload.name} state ${s.id}: ${v.violations[0].message}`);
      });
      copyMs += await timed(() => checkState(run, s, copies));
    }
    rows.push({
      group: GROUP,
      name: `${workload.name}: states per CPU second`,
      unit: 'states/s',
      value: states.length / (overlayMs / 1000),
      baseline: { name: 'full-copy images (buildImage)', value: states.length / (copyMs / 1000) },
      note: `${states.length} states spread over all ${enumerateStates(run.log, SEED).length} of seed ${SEED}, --ops ${OP_COUNT_DEFAULT}; each: image, recover, compare with the model, fsck, recover again, fsck`,
    });
    for (const s of spread(states, 8)) {
      for (const [k, v] of Object.entries(await phases(run, overlay, s))) phaseTotals[k] = (phaseTotals[k] ?? 0) + v;
      phaseStates++;
    }
  }
  for (const [k, v] of Object.entries(phaseTotals)) {
    rows.push({ group: `${GROUP} phases`, name: `one state: ${k}`, unit: 'ms CPU', value: v / phaseStates, lowerIsBetter: true, note: `mean over ${phaseStates} states of every workload` });
  }
  return rows;
}

async function main(): Promise<void> {
  const { values } = parseNodeArgs({ options: { states: { type: 'string', default: '40' }, workload: { type: 'string' } } });
  const statesPerWorkload = Number(values.states);
  if (!Number.isSafeInteger(statesPerWorkload) || statesPerWorkload < 1) throw new Error(`--states must be a positive integer, got '${values.states}'`);
  let workloads: Workload[] = [...ALL_WORKLOADS];
  if (values.workload !== undefined) {
    const w = findWorkload(values.workload);
    if (!w) throw new Error(`no workload '${values.workload}'`);
    workloads = [w];
  }
  const rows = await benchCrashImages({ statesPerWorkload, workloads });
  console.log(formatTable(rows));
  console.log(toJson(rows, { seed: SEED, statesPerWorkload, opCount: OP_COUNT_DEFAULT }));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
