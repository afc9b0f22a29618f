/**
 * The offline checker as a library: `fsckImage(disk, { repair })` over any disk backend
 * (a raw image file, memory, the faulty disk of the crash harness), with nothing else
 * running on that disk.
 *
 * One check pass reads, in order: superblocks, journal and bitmap (block.ts); the Axiom
 * log, its chain verified (axiom.ts); the content index rebuilt and every chunk re-hashed
 * (content.ts); the filesystem state rebuilt and its namespace walked (namespace.ts);
 * every snapshot's tree walked (snapshots.ts); then refcounts, chunks and blocks cross-
 * checked (refs.ts). A check pass writes nothing.
 *
 * With `repair`, repair.ts fixes what is safe and a second pass checks again: a problem
 * is marked repaired only if that pass no longer finds it. Anything that cannot be read
 * at all (not a Strata image, an I/O error) is an FsckOperationalError (exit 8).
 */
import type { DiskBackend } from '../../kernel/machine/disk/backend.ts';
import { DiskIoError } from '../../kernel/machine/disk/backend.ts';
import { checkAxiom } from './axiom.ts';
import { FsckOperationalError, openImage } from './block.ts';
import { checkContent } from './content.ts';
import { checkNamespace, loadFsState, type NamespaceView } from './namespace.ts';
import { crossCheck, emptyPlan, type RepairPlan } from './refs.ts';
import { repairImage, type RepairBootOptions } from './repair.ts';
import { EXIT_OPERATIONAL, Findings, exitCodeOf, type FsckReport } from './report.ts';
import { checkSnapshots, type SnapshotView } from './snapshots.ts';

export { FsckOperationalError } from './block.ts';
export { formatReport, EXIT_CLEAN, EXIT_CORRECTED, EXIT_UNCORRECTED, EXIT_OPERATIONAL, type FsckReport, type FsckProblem, type FsckArea } from './report.ts';

export interface FsckOptions {
  repair: boolean;
  /** Options for the stack a repair boots (seed, memory, epoch). */
  boot?: RepairBootOptions;
}

interface Pass {
  findings: Findings;
  plan: RepairPlan;
  view: Awaited<ReturnType<typeof openImage>>;
}

async function checkPass(disk: DiskBackend): Promise<Pass> {
  const f = new Findings();
  const plan = emptyPlan();
  const view = await openImage(disk, f);
  const axiom = await checkAxiom(disk, view.layout, f);
  if (!axiom) return { findings: f, plan, view };
  const content = await checkContent(view, axiom, f);
  if (!content) return { findings: f, plan, view };
  const state = await loadFsState(view, axiom, content, f);
  let ns: NamespaceView | undefined;
  let snaps: SnapshotView | undefined;
  if (state) {
    ns = checkNamespace(state, f);
    snaps = await checkSnapshots(state, content, f);
  }
  crossCheck(view, axiom, content, state, ns, snaps, f, plan);
  return { findings: f, plan, view };
}

/** Checks (and with `repair`, repairs) the image on `disk`. Throws FsckOperationalError when it cannot be checked at all. */
export async function fsckImage(disk: DiskBackend, options: FsckOptions): Promise<FsckReport> {
  try {
    const first = await checkPass(disk);
    const problems = first.findings.problems;
    const actions: string[] = [];
    if (options.repair && problems.some((p) => p.repairable)) {
      actions.push(...(await repairImage(first.view, problems, first.plan, options.boot ?? {})));
      const again = await checkPass(disk);
      const left = new Set(again.findings.problems.map((p) => p.key));
      for (const p of problems) p.repaired = p.repairable && !left.has(p.key);
      for (const p of again.findings.problems) if (!problems.some((q) => q.key === p.key)) problems.push(p);
    }
    return { problems, notes: first.findings.notes, checked: first.findings.checked, actions, exitCode: exitCodeOf(problems) };
  } catch (e) {
    if (e instanceof DiskIoError) throw new FsckOperationalError(`the disk failed: ${e.message}`);
    throw e;
  }
}

/** fsckImage, with an operational error turned into a report of exit code 8. */
export async function fsckReportOrFailure(disk: DiskBackend, options: FsckOptions): Promise<FsckReport | { exitCode: typeof EXIT_OPERATIONAL; error: string }> {
  try {
    return await fsckImage(disk, options);
  } catch (e) {
    if (e instanceof FsckOperationalError) return { exitCode: EXIT_OPERATIONAL, error: e.message };
    throw e;
  }
}
