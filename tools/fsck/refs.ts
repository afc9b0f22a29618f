/**
 * Cross-checks between layers, after each was rebuilt on its own:
 *
 * - refcounts: a chunk's refcount in the content index must equal the pages of inodes in
 *   the filesystem state that name it (orphans included: their references go with the
 *   FsFree the next mount commits). Snapshots take no references.
 * - chunks: every page the live tree names is stored; a chunk whose bytes fail their hash
 *   is named with every live and snapshot path it affects (never repairable). A chunk no
 *   page and no snapshot reaches is dangling: garbage by design (a deleted file's pages
 *   stay until gc, a crash leaves chunks put but never named), so, as git fsck's dangling
 *   objects, it is a note, and --repair drops it (a gc from the filesystem's roots).
 * - blocks: every allocated data block is referenced (a chunk extent, or an image a
 *   checkpoint names: the content index image, the fs image), and every referenced block
 *   is allocated, and inside the data region.
 *
 * Produces the repair plan repair.ts carries out: refcount deltas, whether a gc is due,
 * and blocks to mark allocated.
 */
import { extentsIn } from '../../services/content/image.ts';
import { mergeExtents, subtractExtents } from '../../services/content/gc.ts';
import { hexOf } from '../../services/content/errors.ts';
import type { FsState } from '../../services/fs/state.ts';
import type { Extent } from '../../services/content/ports.ts';
import type { ImageView } from './block.ts';
import type { AxiomView } from './axiom.ts';
import type { ContentView } from './content.ts';
import type { NamespaceView } from './namespace.ts';
import type { SnapshotView } from './snapshots.ts';
import type { Findings } from './report.ts';
import { PATHS_PER_CHUNK_MAX, REFCOUNT_DELTA_REPAIR_MAX, invariant, setRuns } from './limits.ts';

export interface RepairPlan {
  /** Hex hash -> refcount change that makes it right. */
  refDeltas: Map<string, number>;
  /** Dangling chunks to drop (a gc with the filesystem's roots does it). */
  dropChunks: string[];
  /** Data blocks in use that the bitmap shows free. */
  markAllocated: Extent[];
  /** Leaked blocks (the content store's mount frees them). */
  leaked: Extent[];
  /** The bitmap cannot be read: rebuild it from these referenced extents (plus the reserved regions). */
  rebuildBitmap?: Extent[];
}

export function emptyPlan(): RepairPlan {
  return { refDeltas: new Map(), dropChunks: [], markAllocated: [], leaked: [] };
}

/** Problems after which the services' own mount would refuse the image, or the log is not to be followed: nothing is repaired from it. */
export const REPAIR_BLOCKERS = new Set(['bad-record', 'shared-blocks']);

const runs = (xs: Extent[]) => xs.slice(0, 4).map((x) => `[${x.blockIndex}, +${x.blockCount})`).join(', ') + (xs.length > 4 ? `, ... ${xs.length - 4} more run(s)` : '');
const blocksIn = (xs: Extent[]) => xs.reduce((n, x) => n + x.blockCount, 0);

export function crossCheck(view: ImageView, axiom: AxiomView, content: ContentView, state: FsState | undefined, ns: NamespaceView | undefined, snaps: SnapshotView | undefined, f: Findings, plan: RepairPlan): void {
  // Repairs follow the log; only an intact log, replayed without a record refused, may be repaired from.
  const canRepair = axiom.trustworthy && state !== undefined && !f.problems.some((p) => REPAIR_BLOCKERS.has(p.kind));
  // Pages the live tree names, and the paths naming each chunk.
  const expected = new Map<string, number>();
  const livePaths = new Map<string, string[]>();
  if (state) {
    for (const n of state.inodes.values()) {
      if (!n.pages) continue;
      for (const [index, p] of n.pages) {
        if (!p.hash) continue;
        const k = hexOf(p.hash);
        expected.set(k, (expected.get(k) ?? 0) + 1);
        const path = ns?.pathsOf.get(n.ino)?.[0] ?? `inode ${n.ino} (unlinked)`;
        const list = livePaths.get(k) ?? [];
        if (list.length < PATHS_PER_CHUNK_MAX && !list.includes(path)) list.push(path);
        livePaths.set(k, list);
        if (!content.index.get(k)) f.problem('content', 'missing-chunk', k, `${path}: page ${index} names chunk ${k}, which is not stored`, { paths: [path] });
      }
    }
  }
  for (const k of content.badChunks) {
    const e = content.index.get(k)!;
    const paths = [...(livePaths.get(k) ?? []), ...(snaps?.pathsOf.get(k) ?? [])];
    const ioError = content.unreadable.get(k);
    if (ioError !== undefined) f.problem('content', 'chunk-unreadable', k, `chunk ${k} at blocks [${e.blockIndex}, +${e.blockCount}) cannot be read: ${ioError}${paths.length ? '' : ' (no file names it)'}`, { paths });
    else f.problem('content', 'chunk-hash', k, `chunk ${k} at blocks [${e.blockIndex}, +${e.blockCount}): its ${e.sizeBytes} bytes do not hash to its name${paths.length ? '' : ' (no file names it)'}`, { paths });
  }
  if (state) {
    for (const e of content.index.values()) {
      const k = hexOf(e.hash);
      const want = expected.get(k) ?? 0;
      if (e.refcount !== want) {
        const fixable = canRepair && Math.abs(want - e.refcount) <= REFCOUNT_DELTA_REPAIR_MAX;
        f.problem('refcount', 'refcount', k, `chunk ${k}: refcount ${e.refcount}, but ${want} page(s) of the filesystem name it`, { repairable: fixable, paths: livePaths.get(k) });
        if (fixable) plan.refDeltas.set(k, want - e.refcount);
      }
      if (want === 0 && !snaps?.reached.has(k)) plan.dropChunks.push(k);
    }
    if (plan.dropChunks.length) {
      const bytes = plan.dropChunks.reduce((n, k) => n + content.index.get(k)!.sizeBytes, 0);
      const first = plan.dropChunks.slice(0, 3).map((k) => k.slice(0, 16)).join(', ');
      f.note('content', `${plan.dropChunks.length} dangling chunk(s), ${bytes} bytes, named by no file and no snapshot (${first}${plan.dropChunks.length > 3 ? ', ...' : ''}): garbage the next gc drops (--repair drops them now)`);
      f.count('dangling chunks', plan.dropChunks.length);
    }
  }
  f.count('chunk references', [...expected.values()].reduce((a, b) => a + b, 0));

  // Blocks.
  const layout = view.layout;
  const referenced = mergeExtents([
    ...[...content.index.values()].filter((e) => e.blockCount > 0).map((e) => ({ blockIndex: e.blockIndex, blockCount: e.blockCount })),
    ...extentsIn(axiom.checkpointImage),
  ]);
  const dataEnd = layout.data.blockIndex + layout.data.blockCount;
  const outside = referenced.filter((x) => x.blockIndex < layout.data.blockIndex || x.blockIndex + x.blockCount > dataEnd);
  if (outside.length) f.problem('bitmap', 'outside-data', 'extents', `referenced blocks lie outside the data region: ${runs(outside)}`);
  if (!view.bits) {
    // Every reference is known (the log is intact): the bitmap can be rebuilt from them.
    const damaged = f.problems.find((p) => p.kind === 'bitmap-damaged');
    if (damaged && canRepair && outside.length === 0) {
      damaged.repairable = true;
      damaged.message += ` (--repair rebuilds it from the ${blocksIn(referenced)} referenced block(s))`;
      plan.rebuildBitmap = referenced;
    }
    return;
  }
  const allocated = setRuns(view.bits, layout.data.blockIndex, dataEnd);
  const inData = subtractExtents(referenced, outside);
  const leaked = subtractExtents(allocated, inData);
  const free = subtractExtents(inData, allocated);
  invariant(blocksIn(allocated) - blocksIn(leaked) + blocksIn(free) === blocksIn(inData), 'allocated - leaked + free = referenced');
  f.count('allocated data blocks', blocksIn(allocated));
  if (leaked.length) {
    f.problem('bitmap', 'leaked-blocks', 'leaked', `${blocksIn(leaked)} block(s) allocated but referenced by nothing: ${runs(leaked)}`, { repairable: canRepair });
    plan.leaked = leaked;
  }
  if (free.length) {
    f.problem('bitmap', 'in-use-free', 'free', `${blocksIn(free)} block(s) in use but marked free in the bitmap (the allocator could hand them out again): ${runs(free)}`, { repairable: canRepair });
    plan.markAllocated = free;
  }
}
