/**
 * `strata bench [--quick] [--json FILE] [--report DIR] [--only GROUP]`: runs the
 * benchmarks on fresh images in a temporary directory and prints one table, each figure
 * beside the raw or peer baseline measured in the same run, the goals and their verdicts,
 * then the same rows as JSON. `--report DIR` also writes JSON, a Markdown page and SVG
 * charts of cost against work (tools/bench/report-page.ts). Progress goes to stderr, one
 * line as each group starts and one with its wall time (and the suite's) as it ends.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { helpText, parseArgs, UsageError, type OptionSpec } from './args.ts';
import { formatTable, toJson, type BenchRow } from '../bench/report.ts';
import { formatGoals, judgeGoals } from '../bench/goals.ts';
import { writeReport } from '../bench/report-page.ts';
import { benchDriver } from '../bench/driver.ts';
import { benchAxiom } from '../../axiom/bench.ts';
import { benchBlock } from '../../services/block/bench.ts';
import { benchFs } from '../bench/fs.ts';
import { benchContent } from '../../services/content/bench.ts';
import { benchIsolationGroup } from '../bench/isolation.ts';
import { benchGuest } from '../guest/bench.ts';
import { benchSnapshots } from '../bench/snapshots.ts';
import { benchCrashtest } from '../bench/crashtest.ts';
import { benchFsck } from '../fsck/bench.ts';
import { sqliteBaseline } from '../bench/sqlite.ts';
import { axiomHasher } from '../../services/content/hash.ts';

const spec: Record<string, OptionSpec> = {
  quick: { help: 'small sizes (about a minute), for CI' },
  json: { value: true, help: 'also write the results as JSON to this file' },
  report: { value: true, help: 'also write DIR/results.json, DIR/README.md (goals, tables, charts) and DIR/charts/*.svg' },
  only: { value: true, help: 'run one group only (driver, block, content, fs, snapshots, isolation, guest, axiom, crashtest, fsck)' },
  dir: { value: true, help: 'where to put the scratch images (default: a new temporary directory)' },
  help: { help: 'show this help' },
};

export const benchHelp = helpText(
  'strata bench [--quick] [--json FILE] [--report DIR] [--only GROUP] [--dir DIR]',
  'Run the benchmark suite and print a table with baselines, the goals and their verdicts, then JSON.',
  spec,
);

/** Wall time for the progress lines, e.g. "12.3 s". */
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** Adds the group name to rows from a layer's own benchmark. */
const grouped = (group: string, rows: Omit<BenchRow, 'group'>[]): BenchRow[] => rows.map((r) => ({ ...r, group }));

const groups: Record<string, (o: { dir: string; quick: boolean }) => Promise<BenchRow[]>> = {
  driver: benchDriver,
  block: (o) => benchBlock({ imagePath: path.join(o.dir, 'block-bench.img'), quick: o.quick }),
  content: benchContent,
  fs: benchFs,
  snapshots: benchSnapshots,
  isolation: benchIsolationGroup,
  guest: benchGuest,
  axiom: async (o) =>
    grouped(
      'axiom',
      (await benchAxiom({ ...o, baseline: sqliteBaseline, hasher: axiomHasher })).map((r) => ({ ...r, lowerIsBetter: r.unit === 'ms' })),
    ),
  crashtest: benchCrashtest,
  fsck: benchFsck,
};

export async function benchCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, spec);
  if (args.options.help) return console.log(benchHelp), 0;
  const only = args.options.only as string | undefined;
  if (only && !groups[only]) throw new UsageError(`no benchmark group '${only}' (have: ${Object.keys(groups).join(', ')})`);
  const quick = args.options.quick === true;
  const dir = (args.options.dir as string | undefined) ?? fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-'));
  fs.mkdirSync(dir, { recursive: true });
  if (args.options.report) fs.mkdirSync(String(args.options.report), { recursive: true }); // fail before the run, not after it
  const rows: BenchRow[] = [];
  const suiteT0 = performance.now();
  try {
    for (const [name, run] of Object.entries(groups)) {
      if (only && name !== only) continue;
      console.error(`bench: ${name}${quick ? ' (quick)' : ''} ...`);
      const groupT0 = performance.now();
      rows.push(...(await run({ dir, quick })));
      console.error(`bench: ${name} done in ${seconds(performance.now() - groupT0)} (suite so far ${seconds(performance.now() - suiteT0)})`);
    }
  } finally {
    if (!args.options.dir) fs.rmSync(dir, { recursive: true, force: true });
  }
  const meta = { quick, node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, date: new Date().toISOString() };
  console.log(formatTable(rows));
  const goals = judgeGoals(rows);
  console.log(`\ngoals (ratios against the same run's baselines):\n${formatGoals(goals)}\n`);
  const json = toJson(rows, { ...meta, goals });
  console.log(json);
  if (args.options.json) fs.writeFileSync(String(args.options.json), json + '\n');
  if (args.options.report) {
    const report = await writeReport(String(args.options.report), rows, meta);
    console.error(`bench: report written to ${report.dir}: ${report.files.join(', ')}`);
  }
  return 0;
}
