/**
 * The performance goals (issue 11 of 11), each judged from rows of one run: a ratio to
 * the baseline measured in the same run, or an absolute bound where the goal is one.
 * A goal whose rows are missing (a group not run, a size only the full suite reaches) is
 * "not measured", never met by default.
 */
import { ratio, type BenchRow } from './report.ts';

export interface GoalVerdict {
  goal: string;
  /** The figure the verdict rests on, in words, e.g. "0.39x (102 vs 259 MB/s)". */
  figure: string;
  status: 'met' | 'missed' | 'not measured';
}

interface Goal {
  goal: string;
  judge(rows: readonly BenchRow[]): Omit<GoalVerdict, 'goal'>;
}

const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toPrecision(3));
const notMeasured = (why: string): Omit<GoalVerdict, 'goal'> => ({ figure: why, status: 'not measured' });

/** The row of the largest x in a chart series (e.g. the biggest file written). */
function largest(rows: readonly BenchRow[], chart: string, series: string): BenchRow | undefined {
  return rows.filter((r) => r.point?.chart === chart && r.point.series === series).sort((a, b) => b.point!.x - a.point!.x)[0];
}

function ratioGoal(goal: string, min: number, find: (rows: readonly BenchRow[]) => BenchRow | undefined): Goal {
  return {
    goal,
    judge(rows) {
      const r = find(rows);
      const q = r && ratio(r);
      if (!r || q === undefined) return notMeasured('no such row in this run');
      return { figure: `${q.toFixed(2)}x (${fmt(r.value)} vs ${fmt(r.baseline!.value)} ${r.unit}, ${r.name})`, status: q >= min ? 'met' : 'missed' };
    },
  };
}

/** Flat: the time at the largest x is at most `factorMax` times the time at the smallest. */
function flatGoal(goal: string, chart: string, series: readonly string[], factorMax: number, xFrom: number, xTo: number): Goal {
  return {
    goal,
    judge(rows) {
      const parts: string[] = [];
      let ok = true;
      for (const s of series) {
        const pts = rows.filter((r) => r.point?.chart === chart && r.point.series === s);
        const lo = pts.find((r) => r.point!.x === xFrom);
        const hi = pts.find((r) => r.point!.x === xTo);
        if (!lo || !hi) return notMeasured(`no ${s} figures at both ${xFrom.toLocaleString('en')} and ${xTo.toLocaleString('en')}`);
        const factor = hi.value / lo.value;
        parts.push(`${s}: ${fmt(lo.value)} -> ${fmt(hi.value)} ${hi.unit} (${factor.toFixed(2)}x)`);
        if (factor > factorMax) ok = false;
      }
      return { figure: parts.join('; '), status: ok ? 'met' : 'missed' };
    },
  };
}

export const GOALS: readonly Goal[] = [
  ratioGoal('Sequential 1 GiB file write with fsync: at least 0.5 of the raw durable write', 0.5, (rows) => {
    const r = largest(rows, 'fs-throughput-vs-size', 'write + fsync');
    return r && r.point!.x >= 1024 ? r : undefined;
  }),
  ratioGoal('Sequential 1 GiB file read: at least 0.5 of the raw read', 0.5, (rows) => {
    const r = largest(rows, 'fs-throughput-vs-size', 'read');
    return r && r.point!.x >= 1024 ? r : undefined;
  }),
  ratioGoal('Random 4 KiB reads of a cached file: at least 0.2 of raw page-cache reads', 0.2, (rows) => rows.find((r) => r.group === 'fs' && r.name.startsWith('rand read 4 KiB of a cached file, QD1'))),
  ratioGoal('Durable metadata transactions, 16 clients: at least 2x SQLite', 2, (rows) => rows.find((r) => r.group === 'axiom' && r.name.startsWith('axiom commit, 16 proposers (file'))),
  {
    goal: 'Recovery of a 1,000,000-record log with checkpoints: under 1 s',
    judge(rows) {
      const r = rows.find((x) => x.point?.chart === 'recovery-vs-log' && x.point.series === 'recent checkpoint' && x.point.x >= 1_000_000);
      if (!r) return notMeasured('the full suite builds the 1,000,000-record log');
      return { figure: `${fmt(r.value)} ms`, status: r.value < 1000 ? 'met' : 'missed' };
    },
  },
  flatGoal('Snapshot create and diff: flat in tree size from 1,000 to 100,000 files (at most 2x)', 'snapshot-vs-tree', ['create', 'diff, 10 changes'], 2, 1000, 100_000),
  ratioGoal('Guest 9P write throughput: at least v86\'s built-in filesystem', 1, (rows) => rows.find((r) => r.group === 'guest' && /dd write/.test(r.name))),
  ratioGoal('Guest 9P read throughput: at least v86\'s built-in filesystem', 1, (rows) => rows.find((r) => r.group === 'guest' && /dd read/.test(r.name))),
];

export function judgeGoals(rows: readonly BenchRow[]): GoalVerdict[] {
  return GOALS.map((g) => ({ goal: g.goal, ...g.judge(rows) }));
}

export function formatGoals(verdicts: readonly GoalVerdict[]): string {
  const width = Math.max(...verdicts.map((v) => v.status.length));
  return verdicts.map((v) => `${v.status.padEnd(width)}  ${v.goal}\n${' '.repeat(width + 2)}${v.figure}`).join('\n');
}
