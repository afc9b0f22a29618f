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
import type { FsState } from '../../services/fs/state.ts';
import { checkAxiom, type AxiomView } from './axiom.ts';
import { FsckOperationalError, openImage, type ImageView } from './block.ts';
import { checkContent, type ContentView } from './content.ts';
import { checkNamespace, loadFsState, type NamespaceView } from './namespace.ts';
import { crossCheck, emptyPlan, type RepairPlan } from './refs.ts';
import { repairImage, type RepairBootOptions } from './repair.ts';
import { Findings, exitCodeOf, type FsckReport } from './report.ts';
import { checkSnapshots, type SnapshotView } from './snapshots.ts';

export { FsckOperationalError, type ImageView } from './block.ts';
export { formatReport, EXIT_CLEAN, EXIT_CORRECTED, EXIT_UNCORRECTED, EXIT_OPERATIONAL, type FsckReport, type FsckProblem, type FsckArea } from './report.ts';

export interface FsckOptions {
  repair: boolean;
  /** Options for the stack a repair boots (seed, memory, epoch). */
  boot?: RepairBootOptions;
}

/** One check pass: what each layer looks like rebuilt offline, and what was found. `strata inspect chunk|path` reads the same. */
export interface ImageExamination {
  findings: Findings;
  plan: RepairPlan;
  view: ImageView;
  axiom?: AxiomView;
  content?: ContentView;
  state?: FsState;
  namespace?: NamespaceView;
  snapshots?: SnapshotView;
}

/** Checks the image without writing anything. Throws FsckOperationalError when it is not a Strata image. */
export async function examineImage(disk: DiskBackend): Promise<ImageExamination> {
  const f = new Findings();
  const plan = emptyPlan();
  const view = await openImage(disk, f);
  const out: ImageExamination = { findings: f, plan, view };
  out.axiom = await checkAxiom(disk, view.layout, f);
  if (!out.axiom) return out;
  out.content = await checkContent(view, out.axiom, f);
  if (!out.content) return out;
  out.state = await loadFsState(view, out.axiom, out.content, f);
  if (out.state) {
    out.namespace = checkNamespace(out.state, f);
    out.snapshots = await checkSnapshots(out.state, out.content, f);
  }
  crossCheck(view, out.axiom, out.content, out.state, out.namespace, out.snapshots, f, plan);
  return out;
}

/** Checks (and with `repair`, repairs) the image on `disk`. Throws FsckOperationalError when it cannot be checked at all. */
export async function fsckImage(disk: DiskBackend, options: FsckOptions): Promise<FsckReport> {
  try {
    const first = await examineImage(disk);
    const problems = first.findings.problems;
    const actions: string[] = [];
    if (options.repair && (problems.some((p) => p.repairable) || first.plan.dropChunks.length > 0)) {
      actions.push(...(await repairImage(first.view, problems, first.plan, options.boot ?? {})));
      const again = await examineImage(disk);
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

