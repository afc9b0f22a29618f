/**
 * What `strata fsck` finds: problems by area, each with a stable `kind` (tests and the
 * crash harness match on it), a one-line message naming the structure, block, record or
 * path, whether it can be repaired safely, and whether this run repaired it. `checked`
 * counts what was looked at, so a clean report still says how much it covered.
 *
 * Exit codes follow e2fsck(8): 0 nothing wrong, 1 errors found and all corrected, 4 errors
 * left uncorrected, 8 operational error (no image, not a Strata image, an I/O failure).
 * Notes are things a healthy image after a crash may show (a torn journal or log tail,
 * orphan inodes the next mount frees); they never change the exit code.
 */

export const FSCK_AREAS = ['superblock', 'journal', 'bitmap', 'axiom', 'content', 'refcount', 'namespace', 'snapshot'] as const;
export type FsckArea = (typeof FSCK_AREAS)[number];

export const EXIT_CLEAN = 0;
export const EXIT_CORRECTED = 1;
export const EXIT_UNCORRECTED = 4;
export const EXIT_OPERATIONAL = 8;

export interface FsckProblem {
  area: FsckArea;
  /** Stable name of the kind of damage, e.g. 'chunk-hash', 'leaked-blocks', 'spare-stale'. */
  kind: string;
  message: string;
  /** A safe repair exists (fsck --repair applies it). */
  repairable: boolean;
  /** This run repaired it (and the check after the repair no longer finds it). */
  repaired: boolean;
  /** Identifies the problem across the check before and after a repair. */
  key: string;
  /** Files and directories affected, when known (live tree paths, '/.snapshots/NAME/...'). */
  paths?: string[];
}

export interface FsckNote {
  area: FsckArea;
  message: string;
}

export interface FsckReport {
  problems: FsckProblem[];
  notes: FsckNote[];
  /** What was checked, by name ('chunks', 'inodes', 'data blocks', ...). */
  checked: Record<string, number>;
  /** What --repair did, one line each. */
  actions: string[];
  exitCode: number;
}

/** Collects problems of one pass. */
export class Findings {
  readonly problems: FsckProblem[] = [];
  readonly notes: FsckNote[] = [];
  readonly checked: Record<string, number> = {};

  problem(area: FsckArea, kind: string, subject: string, message: string, opts: { repairable?: boolean; paths?: string[] } = {}): void {
    const key = `${area}/${kind}/${subject}`;
    if (this.problems.some((p) => p.key === key)) return;
    this.problems.push({ area, kind, message, repairable: opts.repairable ?? false, repaired: false, key, ...(opts.paths?.length ? { paths: opts.paths } : {}) });
  }

  note(area: FsckArea, message: string): void {
    this.notes.push({ area, message });
  }

  count(what: string, n: number): void {
    this.checked[what] = (this.checked[what] ?? 0) + n;
  }

  has(area: FsckArea): boolean {
    return this.problems.some((p) => p.area === area);
  }
}

export function exitCodeOf(problems: readonly FsckProblem[]): number {
  if (problems.some((p) => !p.repaired)) return EXIT_UNCORRECTED;
  return problems.length ? EXIT_CORRECTED : EXIT_CLEAN;
}

/** The report as text: one line per problem, then the actions and the counts. */
export function formatReport(report: FsckReport): string {
  const lines: string[] = [];
  for (const p of report.problems) {
    const state = p.repaired ? 'REPAIRED' : p.repairable ? 'repairable' : 'NOT REPAIRABLE';
    lines.push(`${p.area}: ${p.kind}: ${p.message} [${state}]`);
    if (p.paths?.length) lines.push(`  affects: ${p.paths.slice(0, 20).join(', ')}${p.paths.length > 20 ? `, ... ${p.paths.length - 20} more` : ''}`);
  }
  for (const n of report.notes) lines.push(`note: ${n.area}: ${n.message}`);
  for (const a of report.actions) lines.push(`repair: ${a}`);
  lines.push(`checked: ${Object.entries(report.checked).map(([k, v]) => `${v} ${k}`).join(', ')}`);
  const verdict = ['clean', 'errors corrected', '', '', 'errors left uncorrected', '', '', '', 'operational error'][report.exitCode] ?? `exit ${report.exitCode}`;
  lines.push(`${report.problems.length} problem(s): ${verdict} (exit ${report.exitCode})`);
  return lines.join('\n');
}
