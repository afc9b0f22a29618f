/**
 * The bench report's charts: how cost grows with work. Each chart is a registry entry
 * (title, axes); a row joins a chart through its `point` (report.ts), so a benchmark
 * decides where its figures go and this file decides how they look.
 *
 * Rendering: Vega-Lite specifications compiled by vega-lite and rendered to SVG by vega's
 * headless view (renderer 'none', no canvas: text widths are estimated). Both are loaded
 * only when a report is written, so `strata bench` without --report never pays for them.
 *
 * Invariant: a chart is drawn only from points measured in this run; an entry with no
 * points is left out of the report rather than drawn empty.
 */
import type { BenchRow } from './report.ts';

export interface ChartSpec {
  title: string;
  xTitle: string;
  yTitle: string;
  /** Log scales for work that spans decades (1,000 to 100,000 files). */
  xLog?: boolean;
  yLog?: boolean;
  /** One sentence under the chart: what to look for. */
  caption: string;
}

export const CHARTS: Record<string, ChartSpec> = {
  'fs-throughput-vs-size': {
    title: 'Sequential file throughput against file size',
    xTitle: 'file size (MiB)',
    yTitle: 'MB/s',
    xLog: true,
    yLog: true,
    caption: 'Write is 1 MiB writes then one fsync; read is 1 MiB reads. The raw lines are node:fs on a plain file on the same host filesystem.',
  },
  'mount-vs-files': {
    title: 'Mount time (boot of the whole stack) against file count',
    xTitle: 'files in the tree',
    yTitle: 'ms',
    xLog: true,
    caption: 'A mount reads the newest checkpoint and replays the log after it, so it grows with the checkpoint image, not with history.',
  },
  'recovery-vs-log': {
    title: 'Axiom recovery time against log length',
    xTitle: 'records in the log',
    yTitle: 'ms',
    xLog: true,
    yLog: true,
    caption: 'Open + replay of every committed transaction; with a checkpoint, only the records after it are replayed.',
  },
  'snapshot-vs-tree': {
    title: 'Snapshot operations against tree size',
    xTitle: 'files in the tree',
    yTitle: 'ms',
    xLog: true,
    yLog: true,
    caption: 'After changing 10 files (diff also after 1,000). Flat lines are the goal for create and diff: their cost follows the change, not the tree.',
  },
  'crash-states-vs-ops': {
    title: 'Crash states checked per second against workload length',
    xTitle: 'operations in the workload',
    yTitle: 'states/s',
    caption: 'Each state is booted on a fresh stack (journal replay, Axiom recovery, mount), checked against the model and fsck, then recovered a second time.',
  },
};

export interface ChartData {
  id: string;
  spec: ChartSpec;
  values: { x: number; y: number; series: string }[];
}

/** Groups the rows' points (and their baselines, where asked) by chart, in registry order. */
export function chartData(rows: readonly BenchRow[]): ChartData[] {
  const out: ChartData[] = [];
  for (const [id, spec] of Object.entries(CHARTS)) {
    const values: ChartData['values'] = [];
    for (const r of rows) {
      if (r.point?.chart !== id) continue;
      values.push({ x: r.point.x, y: r.value, series: r.point.series });
      if (r.point.baselineSeries && r.baseline) values.push({ x: r.point.x, y: r.baseline.value, series: r.point.baselineSeries });
    }
    if (values.length) out.push({ id, spec, values });
  }
  const unknown = rows.filter((r) => r.point && !CHARTS[r.point.chart]);
  if (unknown.length) throw new Error(`bench rows name unknown charts: ${[...new Set(unknown.map((r) => r.point!.chart))].join(', ')}`);
  return out;
}

/** The Vega-Lite specification of one chart (plain data; also written beside the SVG). */
export function vegaLiteSpec(c: ChartData): Record<string, unknown> {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: c.spec.title,
    width: 520,
    height: 300,
    data: { values: c.values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: c.spec.xTitle, scale: c.spec.xLog ? { type: 'log' } : { zero: true } },
      y: { field: 'y', type: 'quantitative', title: c.spec.yTitle, scale: c.spec.yLog ? { type: 'log' } : { zero: true } },
      color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 2, labelLimit: 320 } },
      tooltip: [
        { field: 'series', type: 'nominal' },
        { field: 'x', type: 'quantitative', title: c.spec.xTitle },
        { field: 'y', type: 'quantitative', title: c.spec.yTitle, format: ',.4~r' },
      ],
    },
  };
}

/** Renders a chart to SVG text. */
export async function renderSvg(c: ChartData): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const compiled = vegaLite.compile(vegaLiteSpec(c) as unknown as Parameters<typeof vegaLite.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
