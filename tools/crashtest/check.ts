/**
 * Checking one crash state against DESIGN.md's crash-consistency contract: boot a fresh
 * stack on the crash image (the real recovery: journal replay, Axiom recovery, mount),
 * then
 * 1. the recovered tree equals the model after some prefix of the acknowledged
 *    operations that contains every acknowledged one. With one step in flight at a time,
 *    that is the model after k or k + 1 acknowledgements (k = marks at or before the
 *    crash point): acknowledged means committed and flushed, so nothing acknowledged may
 *    be lost, and at most the one call in flight may have landed;
 * 2. fsck (the live checker: namespace links and counts, Axiom's chain re-read from the
 *    device, block and content failures) finds nothing. What the block mount found and
 *    repaired by design (a torn primary superblock rewritten from the spare) is recovery
 *    doing its job, not a violation, on the first recovery only: after the second one
 *    fsck must find nothing at all (fsck twice);
 * 3. a second recovery changes nothing: power is cut again right after the first
 *    recovery (only what it flushed survives) and a third boot sees the same tree;
 * 4. the offline checker (tools/fsck fsckImage, check only) finds nothing on the image
 *    the first recovery left: the contract's "fsck finds nothing to repair", read from
 *    the disk alone (every chunk re-hashed, refcounts and blocks cross-checked).
 *
 * A state yields zero or more violations, each of one kind; a boot that throws is a
 * violation too (recovery must not fail on a state the contract allows).
 */
import { backendsFor } from '../shell/backends.ts';
import { fsckImage } from '../fsck/index.ts';
import { RecoveryDisk } from './recovery-disk.ts';
import { bootCrashStack, type CrashRun, type RecordHooks } from './record.ts';
import { crashImage, type CrashState } from './states.ts';
import { ImageCursor, type OverlayImage } from './overlay.ts';
import { diffTrees, dumpTree, sameTree, type PathDiff, type Tree } from './tree.ts';

export const VIOLATION_KINDS = ['recovery-failed', 'lost-acknowledged', 'not-a-prefix', 'fsck', 'offline-fsck', 'second-recovery-differs'] as const;
export type ViolationKind = (typeof VIOLATION_KINDS)[number];

export interface Violation {
  kind: ViolationKind;
  message: string;
  /** Expected (model after the acknowledged prefix) against actual, per path. */
  diff: PathDiff[];
}

export interface StateVerdict {
  state: CrashState;
  acknowledged: number;
  violations: Violation[];
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

interface Recovered {
  tree: Tree;
  /** fsck's findings, the block mount's own ("block: at mount: ...") included. */
  problems: string[];
  afterRecovery: OverlayImage;
}

const MOUNT_FINDING = /^block: at mount: /;

/**
 * Boots on `image`, reads the tree and runs fsck, then cuts the power. The system is
 * abandoned, not stopped: a clean stop would only do work (drain pools, checkpoint) that
 * the power cut throws away, and it is half a state's time. Nothing of it stays
 * reachable (virtual clock: no host timers), so the collector takes it.
 */
async function recover(image: OverlayImage, seed: number, hooks: RecordHooks): Promise<Recovered> {
  await hooks.beforeRecovery?.(image);
  const disk = new RecoveryDisk(image);
  try {
    const sys = await bootCrashStack(disk, seed);
    await sys.kernel.idle();
    const tree = await dumpTree(sys.fs!);
    const report = await backendsFor(sys).fsck!.check();
    return { tree, problems: report.problems.map((p) => `${p.area}: ${p.message}`), afterRecovery: disk.durable };
  } finally {
    disk.powerOff();
  }
}

/** Builds a state's crash image; the image is the caller's to write (recovery does). */
export type ImageSource = (state: CrashState) => OverlayImage;

/** Images from one cursor per run: states in id order replay the log a few times, not once each. */
export function cursorImages(run: CrashRun): ImageSource {
  const cursor = new ImageCursor(run.base, run.log);
  return (state) => crashImage(cursor, run.log, state);
}

export async function checkState(run: CrashRun, state: CrashState, images: ImageSource = cursorImages(run), hooks: RecordHooks = {}): Promise<StateVerdict> {
  const acknowledged = run.marks.filter((m) => m <= state.entryCount).length;
  const verdict: StateVerdict = { state, acknowledged, violations: [] };
  const expected = run.snapshots[acknowledged];
  let first: Recovered;
  try {
    first = await recover(images(state), run.seed, hooks);
  } catch (e) {
    verdict.violations.push({ kind: 'recovery-failed', message: `recovery failed: ${errorText(e)}`, diff: [] });
    return verdict;
  }
  const allowed = [run.snapshots[acknowledged], run.snapshots[acknowledged + 1]].filter((t): t is Tree => t !== undefined);
  if (!allowed.some((t) => sameTree(t, first.tree))) {
    const earlier = run.snapshots.slice(0, acknowledged).findLastIndex((t) => sameTree(t, first.tree));
    verdict.violations.push(
      earlier >= 0
        ? { kind: 'lost-acknowledged', message: `recovered the state after ${earlier} acknowledgement(s), but ${acknowledged} were acknowledged (first lost: ${run.ackLabels[earlier]})`, diff: diffTrees(expected, first.tree) }
        : { kind: 'not-a-prefix', message: `the recovered tree is not the model after any prefix of ${acknowledged} or ${acknowledged + 1} acknowledgement(s)`, diff: diffTrees(expected, first.tree) },
    );
  }
  const problems = first.problems.filter((p) => !MOUNT_FINDING.test(p));
  if (problems.length > 0) verdict.violations.push({ kind: 'fsck', message: `fsck after recovery: ${problems.join('; ')}`, diff: [] });
  try {
    const offline = await fsckImage(new RecoveryDisk(first.afterRecovery.clone()), { repair: false });
    if (offline.problems.length > 0) verdict.violations.push({ kind: 'offline-fsck', message: `offline fsck after recovery: ${offline.problems.map((p) => `${p.area}/${p.kind}: ${p.message}`).join('; ')}`, diff: [] });
  } catch (e) {
    verdict.violations.push({ kind: 'offline-fsck', message: `offline fsck after recovery could not check the image: ${errorText(e)}`, diff: [] });
  }
  try {
    const second = await recover(first.afterRecovery, run.seed, hooks);
    if (second.problems.length > 0) verdict.violations.push({ kind: 'fsck', message: `fsck after a second recovery: ${second.problems.join('; ')}`, diff: [] });
    if (!sameTree(first.tree, second.tree)) {
      verdict.violations.push({ kind: 'second-recovery-differs', message: 'a crash right after recovery, then recovery again, gives another tree', diff: diffTrees(first.tree, second.tree) });
    }
  } catch (e) {
    verdict.violations.push({ kind: 'second-recovery-differs', message: `recovery after a crash right after recovery failed: ${errorText(e)}`, diff: [] });
  }
  return verdict;
}
