// The bench report: chart points grouped by chart (baselines as their own line), goals
// judged from ratios of the same run (met, missed, or not measured when a row is
// missing), and `writeReport` writing JSON, Markdown and real SVG charts. No timings.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chartData, vegaLiteSpec } from '../../tools/bench/charts.ts';
import { judgeGoals } from '../../tools/bench/goals.ts';
import { markdownPage, writeReport } from '../../tools/bench/report-page.ts';
import type { BenchRow } from '../../tools/bench/report.ts';

const seqRows = (writeMBps: number, rawMBps: number): BenchRow[] =>
  [64, 1024].flatMap((x) => [
    { group: 'fs', name: `seq write ${x} MiB file + fsync`, unit: 'MB/s', value: writeMBps, baseline: { name: 'raw', value: rawMBps }, point: { chart: 'fs-throughput-vs-size', x, series: 'write + fsync', baselineSeries: 'raw write' } },
    { group: 'fs', name: `seq read ${x} MiB file`, unit: 'MB/s', value: 10, baseline: { name: 'raw', value: 1000 }, point: { chart: 'fs-throughput-vs-size', x, series: 'read', baselineSeries: 'raw read' } },
  ]);

const snapshotRows = (createAt100k: number): BenchRow[] =>
  [1000, 10_000, 100_000].flatMap((x) => [
    { group: 'snapshots', name: `create, ${x} files`, unit: 'ms', value: x === 100_000 ? createAt100k : 10, lowerIsBetter: true, point: { chart: 'snapshot-vs-tree', x, series: 'create' } },
    { group: 'snapshots', name: `diff, ${x} files`, unit: 'ms', value: 5, lowerIsBetter: true, point: { chart: 'snapshot-vs-tree', x, series: 'diff, 10 changes' } },
  ]);

describe('chart data', () => {
  it('groups points by chart and adds the baseline as a line where asked', () => {
    const charts = chartData(seqRows(100, 200));
    expect(charts.map((c) => c.id)).toEqual(['fs-throughput-vs-size']);
    const series = new Set(charts[0].values.map((v) => v.series));
    expect([...series].sort()).toEqual(['raw read', 'raw write', 'read', 'write + fsync']);
    expect(charts[0].values.filter((v) => v.series === 'raw write').map((v) => v.y)).toEqual([200, 200]);
    const spec = vegaLiteSpec(charts[0]) as { encoding: { x: { scale: { type: string } } } };
    expect(spec.encoding.x.scale.type).toBe('log');
  });

  it('leaves out charts without points and refuses unknown chart names', () => {
    expect(chartData([{ group: 'g', name: 'n', unit: 'ms', value: 1 }])).toEqual([]);
    expect(() => chartData([{ group: 'g', name: 'n', unit: 'ms', value: 1, point: { chart: 'no-such-chart', x: 1, series: 's' } }])).toThrow(/no-such-chart/);
  });
});

describe('goals', () => {
  const verdict = (rows: BenchRow[], prefix: string) => judgeGoals(rows).find((g) => g.goal.startsWith(prefix))!;

  it('judges a ratio goal at the 1 GiB size only, against the same run', () => {
    expect(verdict(seqRows(150, 200), 'Sequential 1 GiB file write').status).toBe('met');
    const missed = verdict(seqRows(50, 200), 'Sequential 1 GiB file write');
    expect(missed.status).toBe('missed');
    expect(missed.figure).toMatch(/^0\.25x \(50(\.0)? vs 200 MB\/s/);
    const small = seqRows(150, 200).filter((r) => r.point!.x !== 1024);
    expect(verdict(small, 'Sequential 1 GiB file write').status).toBe('not measured');
  });

  it('judges flatness from the smallest and largest tree', () => {
    expect(verdict(snapshotRows(15), 'Snapshot create and diff').status).toBe('met');
    const grown = verdict(snapshotRows(400), 'Snapshot create and diff');
    expect(grown.status).toBe('missed');
    expect(grown.figure).toContain('create: 10.0 -> 400 ms (40.00x)');
  });

  it('says "not measured" for every goal of an empty run', () => {
    expect(new Set(judgeGoals([]).map((g) => g.status))).toEqual(new Set(['not measured']));
  });
});

describe('writeReport', () => {
  it('writes results.json, a Markdown page and one SVG chart per chart with points', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-report-'));
    try {
      const rows = [...seqRows(100, 200), ...snapshotRows(12), { group: 'axiom', name: 'a | b', unit: 'txn/s', value: 3, baseline: { name: 'sqlite', value: 1 } }];
      const out = await writeReport(dir, rows, { date: '2026-01-01', node: 'v20', cpus: 2, quick: true });
      expect(out.files.sort()).toEqual(
        ['README.md', 'results.json', 'charts/fs-throughput-vs-size.svg', 'charts/fs-throughput-vs-size.vl.json', 'charts/snapshot-vs-tree.svg', 'charts/snapshot-vs-tree.vl.json'].sort(),
      );
      const json = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')) as { results: { ratio: number | null }[]; meta: { goals: unknown[] } };
      expect(json.results).toHaveLength(rows.length);
      expect(json.results.at(-1)!.ratio).toBe(3);
      expect(json.meta.goals.length).toBeGreaterThan(0);
      const svg = fs.readFileSync(path.join(dir, 'charts/fs-throughput-vs-size.svg'), 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
      expect(svg).toContain('Sequential file throughput against file size');
      for (const s of ['write + fsync', 'raw write', 'read', 'raw read']) expect(svg).toContain(s);
      const page = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
      expect(page).toContain('![Snapshot operations against tree size](charts/snapshot-vs-tree.svg)');
      expect(page).toContain('| a \\| b | 3.00 | txn/s | sqlite | 1.00 | 3.00x |');
      expect(fs.readdirSync(dir).some((f) => f.includes('.tmp-'))).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('puts the goals first on the page', () => {
    const page = markdownPage(seqRows(150, 200), { date: 'd' }, judgeGoals(seqRows(150, 200)), []);
    expect(page.indexOf('## Goals')).toBeLessThan(page.indexOf('## Figures'));
    expect(page).toMatch(/\| met \| Sequential 1 GiB file write/);
  });
});
