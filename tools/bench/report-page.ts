/**
 * `strata bench --report DIR`: the run written as files a reader can open.
 *
 *   DIR/results.json        every row with its baseline and ratio, and the run's meta
 *   DIR/README.md           goals and their verdicts, one table per group, the charts
 *   DIR/charts/NAME.svg     one chart of cost against work per CHARTS entry with points
 *   DIR/charts/NAME.vl.json its Vega-Lite specification (open it in the Vega editor)
 *
 * The page says when and where it was measured; every ratio in it is against the
 * baseline of the same run. Files are written to a temporary name and renamed, so a
 * reader never sees half a report.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chartData, renderSvg, vegaLiteSpec } from './charts.ts';
import { judgeGoals, type GoalVerdict } from './goals.ts';
import { fmt, ratio, toJson, type BenchRow } from './report.ts';

export interface ReportFiles {
  dir: string;
  files: string[];
  goals: GoalVerdict[];
}

function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/** Markdown table cells must not carry a raw '|'. */
const cell = (s: string) => s.replace(/\|/g, '\\|');

export function markdownPage(rows: readonly BenchRow[], meta: Record<string, unknown>, goals: readonly GoalVerdict[], charts: readonly { id: string; title: string; caption: string }[]): string {
  const out: string[] = [];
  out.push('# Strata benchmark report', '');
  out.push(`Measured ${String(meta.date ?? '')} with Node ${String(meta.node ?? '')} on ${String(meta.cpus ?? '?')} CPUs (${String(meta.cpuModel ?? 'unknown')})${meta.quick ? ', quick sizes (`--quick`): small files, short logs' : ''}.`);
  out.push('Each figure stands beside its baseline measured in the same run; the ratio is figure / baseline, inverted for times, so above 1 means better than the baseline.', '');
  out.push('## Goals', '', '| status | goal | figure |', '| --- | --- | --- |');
  for (const g of goals) out.push(`| ${g.status} | ${cell(g.goal)} | ${cell(g.figure)} |`);
  out.push('');
  const groups = [...new Set(rows.map((r) => r.group))];
  out.push('## Figures', '');
  for (const group of groups) {
    out.push(`### ${group}`, '', '| benchmark | value | unit | baseline | baseline value | ratio |', '| --- | ---: | --- | --- | ---: | ---: |');
    for (const r of rows.filter((x) => x.group === group)) {
      const q = ratio(r);
      out.push(`| ${cell(r.name)} | ${fmt(r.value)} | ${cell(r.unit)} | ${cell(r.baseline?.name ?? '-')} | ${r.baseline ? fmt(r.baseline.value) : '-'} | ${q === undefined ? '-' : `${q.toFixed(2)}x`} |`);
    }
    const notes = rows.filter((x) => x.group === group && x.note);
    if (notes.length) {
      out.push('');
      for (const n of notes) out.push(`- ${n.name}: ${n.note}`);
    }
    out.push('');
  }
  if (charts.length) {
    out.push('## How cost grows with work', '');
    for (const c of charts) out.push(`### ${c.title}`, '', `![${c.title}](charts/${c.id}.svg)`, '', c.caption, '');
  }
  return out.join('\n');
}

export async function writeReport(dir: string, rows: readonly BenchRow[], meta: Record<string, unknown>): Promise<ReportFiles> {
  fs.mkdirSync(path.join(dir, 'charts'), { recursive: true });
  const files: string[] = [];
  const put = (name: string, text: string) => {
    writeAtomically(path.join(dir, name), text);
    files.push(name);
  };
  const goals = judgeGoals(rows);
  put('results.json', toJson([...rows], { ...meta, goals }) + '\n');
  const charts = chartData(rows);
  for (const c of charts) {
    put(`charts/${c.id}.vl.json`, JSON.stringify(vegaLiteSpec(c), null, 2) + '\n');
    put(`charts/${c.id}.svg`, await renderSvg(c));
  }
  put('README.md', markdownPage(rows, meta, goals, charts.map((c) => ({ id: c.id, title: c.spec.title, caption: c.spec.caption }))));
  return { dir, files, goals };
}
