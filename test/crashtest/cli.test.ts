// `strata crashtest` as a user meets it: --help, mistakes refused by name, a replayed
// state with --json, the same verdicts on a second run, and a failure's printed report.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { crashtestCommand, crashtestHelp, parseSeeds } from '../../tools/cli/crashtest.ts';
import { UsageError } from '../../tools/cli/args.ts';
import { runCrashtest, type CrashtestReport } from '../../tools/crashtest/run.ts';
import { findWorkload } from '../../tools/crashtest/workloads.ts';
import { plantedHooks } from '../../tools/crashtest/planted.ts';
import { formatReport } from '../../tools/crashtest/report.ts';

async function capture(argv: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((s: unknown) => void lines.push(String(s)));
  const spyErr = vi.spyOn(console, 'error').mockImplementation(() => {});
  try {
    return { code: await crashtestCommand(argv), out: lines.join('\n') };
  } finally {
    spy.mockRestore();
    spyErr.mockRestore();
  }
}

/** A report without its timings, for comparing two runs. */
function verdicts(r: CrashtestReport): unknown {
  return { ...r, elapsedMs: 0, statesPerSecond: 0, workloads: r.workloads.map((w) => ({ ...w, elapsedMs: 0 })) };
}

describe('strata crashtest (cli)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('--help lists the options and every workload', async () => {
    const { code, out } = await capture(['--help']);
    expect(code).toBe(0);
    expect(out).toBe(crashtestHelp);
    for (const word of ['--mode', '--max-states', '--jobs', '--seeds', '1..40', 'rename-over', 'big-file', 'snapshot-restore', 'dedup-gc', 'random']) expect(out).toContain(word);
    expect(out).not.toContain('not available');
  });

  it('refuses mistakes by name', async () => {
    await expect(crashtestCommand(['--workload', 'nope'])).rejects.toThrow(UsageError);
    await expect(crashtestCommand(['--seeds', '5..2'])).rejects.toThrow(/A <= B/);
    await expect(crashtestCommand(['--seeds', '1..3,2'])).rejects.toThrow(/twice/);
    await expect(crashtestCommand(['--seeds', 'x'])).rejects.toThrow(/--seeds takes/);
    await expect(crashtestCommand(['--seed', '1', '--seeds', '1..2'])).rejects.toThrow(/not both/);
    await expect(crashtestCommand(['--random', '--seeds', '1..2', '--state', '3'])).rejects.toThrow(/--state replays one seed/);
    await expect(crashtestCommand(['--mode', 'sideways'])).rejects.toThrow(/unknown --mode 'sideways'/);
    await expect(crashtestCommand(['--random', '--workload', 'big-file'])).rejects.toThrow(/not both/);
    await expect(crashtestCommand(['--state', '3'])).rejects.toThrow(/one workload/);
    await expect(crashtestCommand(['--ops', '-1'])).rejects.toThrow(/--ops/);
    await expect(crashtestCommand(['--shard', '2/2'])).rejects.toThrow(/--shard/);
  });

  it('replays one state with --json and exits 0 when it holds', async () => {
    const { code, out } = await capture(['--random', '--seed', '4', '--ops', '5', '--state', '2', '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(out) as CrashtestReport;
    expect(report.statesChecked).toBe(1);
    expect(report.workloads[0].workload).toBe('random');
    expect(report.failures).toEqual([]);
  });

  it('is deterministic: the same seed gives the same states and verdicts', async () => {
    const argv = ['--workload', 'truncate-holes', '--seed', '9', '--ops', '4', '--max-states', '6', '--json'];
    const a = JSON.parse((await capture(argv)).out) as CrashtestReport;
    const b = JSON.parse((await capture(argv)).out) as CrashtestReport;
    expect(a.statesChecked).toBe(6);
    expect(verdicts(b)).toEqual(verdicts(a));
  });

  it('a failure prints its state, the per-path diff and the replay line', async () => {
    const report = await runCrashtest({ workloads: [findWorkload('append-fsync')!], seed: 2, opCount: 3, families: ['flush'], hooks: plantedHooks('flush-ignored') });
    expect(report.failures.length).toBeGreaterThan(0);
    const text = formatReport(report);
    expect(text).toContain('FAIL append-fsync seed 2 state #');
    expect(text).toMatch(/lost-acknowledged: recovered the state after 0 acknowledgement\(s\)/);
    expect(text).toMatch(/\/log\n {6}expected file 644 \d+ nlink=1 [0-9a-f:]+\n {6}actual {3}\(absent\)/);
    expect(text).toContain(`replay: strata crashtest --seed 2 --workload append-fsync --ops 3 --state ${report.failures[0].stateId}`);
  });
});

describe('strata crashtest --seeds', () => {
  afterEach(() => vi.restoreAllMocks());

  it('parses ranges and lists in order', () => {
    expect(parseSeeds('1..4')).toEqual([1, 2, 3, 4]);
    expect(parseSeeds('7,1..2,40')).toEqual([7, 1, 2, 40]);
  });

  it('one command over many seeds: the sum of the single-seed runs, with a progress line per seed', async () => {
    const argv = ['--random', '--ops', '4', '--max-states', '5', '--json'];
    const errors: string[] = [];
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((s: unknown) => void lines.push(String(s)));
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (errors.push(String(s)), true));
    expect(await crashtestCommand([...argv, '--seeds', '4..6'])).toBe(0);
    const many = JSON.parse(lines.join('\n')) as CrashtestReport;
    vi.restoreAllMocks();
    const singles: CrashtestReport[] = [];
    for (const seed of [4, 5, 6]) singles.push(JSON.parse((await capture([...argv, '--seed', String(seed)])).out) as CrashtestReport);
    expect(many.seeds).toEqual([4, 5, 6]);
    expect(many.workloads[0].runs).toBe(3);
    expect(many.statesChecked).toBe(singles.reduce((n, r) => n + r.statesChecked, 0));
    expect(many.workloads[0].logEntries).toBe(singles.reduce((n, r) => n + r.workloads[0].logEntries, 0));
    expect(many.workloads[0].states.torn.enumerated).toBe(singles.reduce((n, r) => n + r.workloads[0].states.torn.enumerated, 0));
    expect(errors.filter((e) => /^crashtest: seed \d+: \d+ states, 0 failing; \d\/3 seeds/.test(e))).toHaveLength(3);
    expect(formatReport(many)).toContain('crashtest: seeds 4..6, 4 ops per workload');
  });
});

describe('strata crashtest --jobs', () => {
  it('two processes check the same states with the same verdicts as one', async () => {
    const argv = ['--workload', 'many-small-files', '--seed', '5', '--ops', '4', '--max-states', '8', '--json'];
    const one = JSON.parse((await capture(argv)).out) as CrashtestReport;
    const two = JSON.parse((await capture([...argv, '--jobs', '2'])).out) as CrashtestReport;
    expect(two.statesChecked).toBe(8);
    expect(verdicts(two)).toEqual(verdicts(one));
  });
});
