/**
 * The shell's `fsck` on a running system, from the layers' protocols alone (read only):
 *
 * - namespace (fs): a walk from the root reaches every directory once (no cycles, no
 *   directory with two names); each directory's '..' is the directory that names it and
 *   its nlink is 2 + its subdirectories; each other inode's nlink equals the names found
 *   for it; readdir's type agrees with getattr's;
 * - axiom: `verify` re-reads the log from the device and checks every frame and the hash
 *   chain to the last committed record;
 * - block: the mount's problems and a failed state; content: a failed state and the
 *   anomalies its index tolerated.
 *
 * It is not the offline `strata fsck IMAGE` (bitmap against every reference, refcounts,
 * every chunk's hash, snapshots' trees): that one reads the image itself. Open files and
 * writes in flight can make a live count differ for a moment; run it on a quiet system.
 */
import type { Attr } from '../../services/fs/protocol.ts';
import type { FsckApi, FsckProblemView, FsckReportView, ShellBackends } from './backends.ts';
import { explain } from './errors.ts';
import { listDir, stat } from './fsops.ts';
import { join } from './paths.ts';
import { WALK_DEPTH_MAX } from './limits.ts';

export class LiveFsck implements FsckApi {
  constructor(private readonly backends: ShellBackends) {}

  async check(): Promise<FsckReportView> {
    const problems: FsckProblemView[] = [];
    const checked: Record<string, number> = {};
    if (this.backends.fs) await this.namespace(problems, checked);
    const { axiom, block, content } = this.backends;
    if (axiom?.verify) {
      const v = await axiom.verify().catch((e) => Promise.reject(explain(e, 'axiom')));
      checked['log records'] = v.recordsVerified;
      if (!v.ok) problems.push({ area: 'axiom', message: `record ${v.badSeq}: ${v.reason}` });
    }
    if (block) {
      const [info, stats] = await Promise.all([block.info(), block.stats()]).catch((e) => Promise.reject(explain(e, 'block')));
      for (const p of info.mount.problems) problems.push({ area: 'block', message: `at mount: ${p}` });
      if (stats.failed) problems.push({ area: 'block', message: `failed: ${stats.failed}` });
      checked['data blocks'] = stats.dataBlocks;
    }
    if (content) {
      const s = await content.stats().catch((e) => Promise.reject(explain(e, 'content')));
      checked.chunks = s.chunkCount;
      if (s.failed) problems.push({ area: 'content', message: `failed: ${s.failed}` });
      if (s.anomalies) problems.push({ area: 'content', message: `${s.anomalies} log records broke a refcount rule and were tolerated` });
    }
    return { problems, checked };
  }

  private async namespace(problems: FsckProblemView[], checked: Record<string, number>): Promise<void> {
    const fs = this.backends.fs!;
    const root = await stat(fs, '/');
    const dirsSeen = new Map<number, string>();
    const names = new Map<number, { attr: Attr; count: number; path: string }>();
    let directories = 0;
    const visit = async (path: string, dir: Attr, parentIno: number, depth: number): Promise<void> => {
      if (depth > WALK_DEPTH_MAX) return void problems.push({ area: 'namespace', message: `${path}: deeper than ${WALK_DEPTH_MAX} levels` });
      const earlier = dirsSeen.get(dir.ino);
      if (earlier !== undefined) return void problems.push({ area: 'namespace', message: `${path}: directory inode ${dir.ino} is also ${earlier} (a cycle or a second name)` });
      dirsSeen.set(dir.ino, path);
      directories++;
      const dotdot = await fs.lookup(dir.ino, '..').catch((e) => Promise.reject(explain(e, path)));
      if (dotdot.ino !== parentIno) problems.push({ area: 'namespace', message: `${path}: '..' is inode ${dotdot.ino}, not its parent ${parentIno}` });
      const entries = await listDir(fs, dir.ino, path);
      let subdirs = 0;
      for (const e of entries) {
        const childPath = join(path, e.name);
        const attr = await fs.getattr(e.ino).catch((err) => Promise.reject(explain(err, childPath)));
        if (attr.type !== e.type) problems.push({ area: 'namespace', message: `${childPath}: listed as ${e.type}, is a ${attr.type}` });
        if (attr.type === 'dir') {
          subdirs++;
          await visit(childPath, attr, dir.ino, depth + 1);
        } else {
          const n = names.get(attr.ino) ?? { attr, count: 0, path: childPath };
          n.count++;
          names.set(attr.ino, n);
        }
      }
      if (dir.nlink !== 2 + subdirs) problems.push({ area: 'namespace', message: `${path}: nlink ${dir.nlink}, expected ${2 + subdirs}` });
    };
    await visit('/', root, root.ino, 0);
    for (const n of names.values()) {
      if (n.attr.nlink !== n.count) problems.push({ area: 'namespace', message: `${n.path}: nlink ${n.attr.nlink}, but ${n.count} name${n.count === 1 ? '' : 's'} found` });
    }
    checked.directories = directories;
    checked.inodes = directories + names.size;
  }
}
