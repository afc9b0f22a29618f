/**
 * `strata crashtest`: the crash-recovery harness (tools/crashtest/). Records workloads on
 * the deterministic kernel over a recording faulty disk, rebuilds crash states, recovers
 * each on a fresh stack and checks DESIGN.md's crash-consistency contract. Prints a
 * table (or --json), a progress line on a terminal, and exits 1 on any violation.
 *
 * --jobs N runs N shards of the same selection in child processes (the same program with
 * --shard i/N --json) and merges their reports; the verdicts are the same as with one job.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { helpText, parseArgs, UsageError, type OptionSpec } from './args.ts';
import { ALL_WORKLOADS, OP_COUNT_DEFAULT, RANDOM_WORKLOAD, findWorkload, type Workload } from '../crashtest/workloads.ts';
import { CRASH_FAMILIES, type CrashFamily } from '../crashtest/states.ts';
import { runCrashtest, runSeeds, type CrashtestOptions, type CrashtestReport } from '../crashtest/run.ts';
import { formatReport, mergeReports } from '../crashtest/report.ts';

const MODE_FAMILIES: Record<string, CrashFamily> = { flush: 'flush', prefix: 'prefix', subsets: 'subsets', torn: 'torn' };
const JOBS_MAX = 64;
/** --seeds names at most this many seeds (a run of 10^5 seeds is days of work already). */
export const SEEDS_MAX = 100_000;
/** The CLI's entry and the repository root (children run it through tsx from there). */
const STRATA_ENTRY_PATH = fileURLToPath(new URL('../strata.ts', import.meta.url));
const REPO_ROOT_PATH = fileURLToPath(new URL('../..', import.meta.url));

const spec: Record<string, OptionSpec> = {
  seed: { value: true, help: 'seed of the workloads, the subsets and the torn cuts (default 1)' },
  seeds: { value: true, help: `many seeds in one run, in order: A..B (inclusive), a comma list, or both (1..40,77); one report summed per workload and mode, a progress line per seed on stderr (at most ${SEEDS_MAX})` },
  workload: { value: true, help: `one workload (default: every one): ${ALL_WORKLOADS.map((w) => w.name).join(', ')}` },
  random: { help: 'the seeded random workload only (same as --workload random)' },
  ops: { value: true, help: `steps per workload (default ${OP_COUNT_DEFAULT})` },
  mode: { value: true, help: 'crash states: flush, prefix, subsets, torn, or all (default); a comma list works too' },
  'max-states': { value: true, help: 'at most this many states per workload, shared evenly by the modes (default: every state)' },
  state: { value: true, help: 'check only this state id (what a failure prints to replay it)' },
  json: { help: 'print the report as JSON only' },
  jobs: { value: true, help: 'run in N processes (default 1)' },
  shard: { value: true, help: 'I/N: check every Nth selected state from the Ith (what --jobs runs)' },
  help: { help: 'show this help' },
};

export const crashtestHelp =
  helpText(
    'strata crashtest [--seed N | --seeds A..B] [--workload NAME|--random] [--ops N] [--mode flush|prefix|subsets|torn|all] [--max-states N] [--state ID] [--json] [--jobs N]',
    'Record a workload on a faulty disk, rebuild crash states (every flush boundary, every prefix of a flush window, seeded subsets\n' +
      'of a window, torn writes at 512-byte boundaries), recover each on a fresh stack and check the crash-consistency contract\n' +
      '(the tree, every snapshot under /.snapshots included, is the model after a prefix of the acknowledged operations that\n' +
      'holds all of them; fsck, live and offline, and Axiom\'s chain are clean; a crash right after recovery changes nothing).\n' +
      'Exit status 1 on any violation; each failure prints its replay line.',
    spec,
  ) + `\n\nworkloads:\n${ALL_WORKLOADS.map((w) => `  ${w.name.padEnd(18)}${w.stresses}`).join('\n')}\n\n` +
  'The long run: strata crashtest --seeds 1..N --json > report.json (a progress line per seed on stderr); every\n' +
  'failure prints the one --seed/--state command that replays it.';

function intOption(options: Record<string, string | boolean>, name: string, fallback: number, min: number): number {
  const raw = options[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got '${String(raw)}'`);
  return n;
}

/** `1..40`, `3,5,9`, `1..4,10`: the seeds in the order given; duplicates refused. */
export function parseSeeds(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:\.\.(\d+))?$/.exec(part.trim());
    if (!m) throw new UsageError(`--seeds takes A..B or a comma list of seeds, got '${text}'`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || to < from) throw new UsageError(`--seeds: '${part}' is not a range A..B with A <= B`);
    if (out.length + (to - from + 1) > SEEDS_MAX) throw new UsageError(`--seeds names more than ${SEEDS_MAX} seeds`);
    for (let s = from; s <= to; s++) out.push(s);
  }
  if (new Set(out).size !== out.length) throw new UsageError(`--seeds names a seed twice: '${text}'`);
  return out;
}

function parseFamilies(text: string): CrashFamily[] {
  if (text === 'all') return [...CRASH_FAMILIES];
  return text.split(',').map((m) => {
    const f = MODE_FAMILIES[m];
    if (f === undefined) throw new UsageError(`unknown --mode '${m}' (have: flush, prefix, subsets, torn, all)`);
    return f;
  });
}

function parseWorkloads(options: Record<string, string | boolean>): Workload[] {
  if (options.random === true) return [RANDOM_WORKLOAD];
  const name = options.workload;
  if (typeof name !== 'string') return [...ALL_WORKLOADS];
  const w = findWorkload(name);
  if (!w) throw new UsageError(`no workload '${name}' (have: ${ALL_WORKLOADS.map((x) => x.name).join(', ')})`);
  return [w];
}

/** Runs the same command in `jobs` child processes, one shard each, and merges their JSON. */
async function runJobs(argv: string[], jobs: number): Promise<CrashtestReport> {
  const t0 = performance.now();
  const base = argv.filter((a, i) => !a.startsWith('--jobs') && argv[i - 1] !== '--jobs' && a !== '--json');
  const child = (index: number) =>
    new Promise<CrashtestReport>((resolve, reject) => {
      const args = ['--import', 'tsx', STRATA_ENTRY_PATH, 'crashtest', ...base, '--shard', `${index}/${jobs}`, '--json'];
      const p = spawn(process.execPath, args, { cwd: REPO_ROOT_PATH, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      p.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
      p.on('error', reject);
      p.on('close', (code) => {
        if (code !== 0 && code !== 1) return reject(new Error(`crashtest shard ${index}/${jobs} exited with ${code}`));
        try {
          resolve(JSON.parse(out) as CrashtestReport);
        } catch (e) {
          reject(new Error(`crashtest shard ${index}/${jobs} printed no report: ${(e as Error).message}`));
        }
      });
    });
  const parts = await Promise.all(Array.from({ length: jobs }, (_, i) => child(i)));
  return mergeReports(parts, performance.now() - t0);
}

export async function crashtestCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, spec);
  if (args.options.help) return console.log(crashtestHelp), 0;
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument '${args.positionals[0]}'`);
  if (args.options.random === true && args.options.workload !== undefined) throw new UsageError('give --workload or --random, not both');
  const workloads = parseWorkloads(args.options);
  if (args.options.seeds !== undefined && args.options.seed !== undefined) throw new UsageError('give --seed or --seeds, not both');
  if (args.options.seeds !== undefined && args.options.state !== undefined) throw new UsageError('--state replays one seed: give --seed, not --seeds');
  const seeds = typeof args.options.seeds === 'string' ? parseSeeds(args.options.seeds) : null;
  const options: CrashtestOptions = {
    workloads,
    seed: seeds?.[0] ?? intOption(args.options, 'seed', 1, 0),
    opCount: intOption(args.options, 'ops', OP_COUNT_DEFAULT, 0),
    families: parseFamilies(typeof args.options.mode === 'string' ? args.options.mode : 'all'),
  };
  if (args.options['max-states'] !== undefined) options.maxStatesPerWorkload = intOption(args.options, 'max-states', 0, 1);
  if (args.options.state !== undefined) {
    if (workloads.length !== 1) throw new UsageError('--state needs one workload (--workload NAME or --random)');
    options.stateId = intOption(args.options, 'state', 0, 0);
  }
  if (typeof args.options.shard === 'string') {
    const m = /^(\d+)\/(\d+)$/.exec(args.options.shard);
    if (!m || Number(m[1]) >= Number(m[2])) throw new UsageError(`--shard must be I/N with I < N, got '${args.options.shard}'`);
    options.shard = { index: Number(m[1]), count: Number(m[2]) };
  }
  const jobs = intOption(args.options, 'jobs', 1, 1);
  if (jobs > JOBS_MAX) throw new UsageError(`--jobs is at most ${JOBS_MAX}`);
  const json = args.options.json === true;
  let report: CrashtestReport;
  if (jobs > 1 && options.stateId === undefined && options.shard === undefined) {
    if (!json) console.error(`crashtest: ${jobs} jobs ...`);
    report = await runJobs(argv, jobs);
  } else {
    const tty = !json && process.stderr.isTTY;
    if (tty) {
      options.onProgress = (p) => process.stderr.write(`\rcrashtest: ${p.workload} ${p.done}/${p.total} states, ${p.violations} failing   ${p.done === p.total ? '\n' : ''}`);
    }
    if (seeds === null) report = await runCrashtest(options);
    else {
      // One line per seed on stderr, terminal or not: the long run's log shows how far it got.
      const tag = options.shard ? ` shard ${options.shard.index}/${options.shard.count}` : '';
      report = await runSeeds(options, seeds, (seed, r, total) =>
        process.stderr.write(`crashtest${tag}: seed ${seed}: ${r.statesChecked} states, ${r.failures.length} failing; ${total.seeds.length}/${seeds.length} seeds, ${total.statesChecked} states, ${total.failures.length} failing, ${total.statesPerSecond.toFixed(1)} states/s\n`),
      );
    }
  }
  console.log(json ? JSON.stringify(report, null, 2) : formatReport(report));
  return report.failures.length > 0 || Object.keys(report.violationsByKind).length > 0 ? 1 : 0;
}
