/**
 * Benchmark results: one row per figure, each with the baseline it was measured against
 * in the same run, printed as an aligned table and as JSON. Every layer's benchmark
 * returns BenchRow[]; `strata bench` gathers them.
 */

export interface BenchRow {
  /** What was measured, e.g. "seq write 1 MiB + flush". */
  name: string;
  /** Layer or group, e.g. "driver". */
  group: string;
  unit: string;
  value: number;
  /** The raw or peer figure of the same work, measured in the same run. */
  baseline?: { name: string; value: number };
  /** True when a smaller value is better (latencies, times). */
  lowerIsBetter?: boolean;
  note?: string;
  /**
   * Where this figure sits on one of the report's charts of cost against work (see
   * charts.ts): the chart, the x value (file size, log length, tree size, ...), and the
   * series name of the line it belongs to. With `baselineSeries`, the baseline is
   * plotted too, as a line of that name.
   */
  point?: ChartPoint;
}

export interface ChartPoint {
  chart: string;
  x: number;
  series: string;
  baselineSeries?: string;
}

/** value / baseline for "higher is better", baseline / value otherwise; 1 means parity. */
export function ratio(row: BenchRow): number | undefined {
  if (!row.baseline || !row.baseline.value || !row.value) return undefined;
  return row.lowerIsBetter ? row.baseline.value / row.value : row.value / row.baseline.value;
}

/** A figure for tables: whole numbers with separators from 100, two decimals from 1, three significant digits below. */
export function fmt(n: number): string {
  if (n >= 100) return Math.round(n).toLocaleString('en-US');
  if (n >= 1) return n.toFixed(2);
  return n.toPrecision(3);
}

export function formatTable(rows: BenchRow[]): string {
  const header = ['group', 'benchmark', 'value', 'unit', 'baseline', 'baseline value', 'ratio'];
  const body = rows.map((r) => {
    const q = ratio(r);
    return [r.group, r.name, fmt(r.value), r.unit, r.baseline?.name ?? '-', r.baseline ? fmt(r.baseline.value) : '-', q === undefined ? '-' : `${q.toFixed(2)}x`];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const numeric = new Set([2, 5, 6]);
  const line = (cells: string[]) => cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function toJson(rows: BenchRow[], meta: Record<string, unknown>): string {
  return JSON.stringify({ meta, results: rows.map((r) => ({ ...r, ratio: ratio(r) ?? null })) }, null, 2);
}
