/**
 * cp and clone: copies made through the fs protocol (read in chunks, write in chunks).
 *
 * cp copies contents and modes; with -r whole trees, symlinks inside a tree as symlinks.
 * clone is `cp -r` that also keeps modification and access times: a snapshot-like copy
 * of a file or a tree under a new name. The protocol has no clone operation, so the
 * bytes travel through the shell; with services/content underneath, every chunk of the
 * copy is a chunk the store holds already, so a clone costs metadata, not space
 * (df's dedup line shows it).
 *
 * Copying a directory into itself is refused before anything is written.
 */
import type { Attr } from '../../../services/fs/protocol.ts';
import type { CommandContext, CommandSpec } from '../command.ts';
import { about, CommandError, explain, STATUS_FAILED } from '../errors.ts';
import { byName, DIR_MODE_DEFAULT, listDir, openForWrite, parentOf, readChunks, stat, statOrNull, writeAll } from '../fsops.ts';
import { isWithin, join } from '../paths.ts';
import { WALK_DEPTH_MAX } from '../limits.ts';
import { destination } from './files-write.ts';

interface CopyOptions {
  recursive: boolean;
  keepTimes: boolean;
}

async function copyFile(ctx: CommandContext, from: string, attr: Attr, to: string, o: CopyOptions): Promise<void> {
  const fs = ctx.fs();
  const t = await openForWrite(fs, to, { truncate: true, mode: attr.mode });
  const bar = ctx.progress(to, attr.sizeBytes);
  try {
    await readChunks(fs, from, attr, async (data, doneBytes) => {
      await ctx.checkInterrupted();
      await writeAll(fs, to, t.handle, doneBytes - data.length, data);
      bar.update(doneBytes);
    });
  } finally {
    bar.finish();
    await fs.close(t.handle).catch(() => {});
  }
  await about(to, () => fs.setattr(t.attr.ino, { mode: attr.mode, ...(o.keepTimes ? { atime: attr.atime, mtime: attr.mtime } : {}) }));
}

async function copyTree(ctx: CommandContext, from: string, attr: Attr, to: string, o: CopyOptions, depth: number): Promise<void> {
  const fs = ctx.fs();
  await ctx.checkInterrupted();
  if (depth > WALK_DEPTH_MAX) throw new CommandError(`${from}: deeper than ${WALK_DEPTH_MAX} levels`);
  if (attr.type === 'file') return copyFile(ctx, from, attr, to, o);
  const { parent, name } = await parentOf(fs, to);
  if (attr.type === 'symlink') {
    const target = await about(from, () => fs.readlink(attr.ino));
    await about(to, () => fs.symlink(parent.ino, name, target));
    return;
  }
  const existing = await statOrNull(fs, to);
  const dir = existing?.type === 'dir' ? existing : await about(to, () => fs.mkdir(parent.ino, name, DIR_MODE_DEFAULT));
  for (const e of (await listDir(fs, attr.ino, from)).sort(byName)) {
    const childFrom = join(from, e.name);
    const childAttr = await about(childFrom, () => fs.getattr(e.ino));
    await copyTree(ctx, childFrom, childAttr, join(to, e.name), o, depth + 1);
  }
  await about(to, () => fs.setattr(dir.ino, { mode: attr.mode, ...(o.keepTimes ? { atime: attr.atime, mtime: attr.mtime } : {}) }));
}

async function copyAll(ctx: CommandContext, operands: string[], o: CopyOptions): Promise<number> {
  const fs = ctx.fs();
  const sources = operands.slice(0, -1);
  let status = 0;
  for (const op of sources) {
    const from = ctx.path(op);
    try {
      const attr = await stat(fs, from);
      if (attr.type === 'dir' && !o.recursive) throw new CommandError(`${from}: Is a directory (EISDIR; use cp -r)`, STATUS_FAILED, 'EISDIR');
      const to = await destination(ctx, from, operands[operands.length - 1], sources.length > 1);
      if (attr.type === 'dir' && isWithin(from, to)) throw new CommandError(`${from}: cannot copy a directory into itself (${to}) (EINVAL)`, STATUS_FAILED, 'EINVAL');
      const existing = await statOrNull(fs, to);
      if (existing && existing.ino === attr.ino) throw new CommandError(`${from} and ${to} are the same file`);
      await copyTree(ctx, from, attr, to, o, 0);
    } catch (e) {
      ctx.warn(explain(e).message);
      status = STATUS_FAILED;
    }
  }
  return status;
}

const cp: CommandSpec = {
  name: 'cp',
  group: 'files',
  usage: '[-r] SRC... DST',
  summary: 'copy files (into DST if it is a directory); -r copies directories',
  flags: { recursive: { short: 'r', help: 'copy directories and everything in them' } },
  operands: [2, Infinity],
  complete: ['path'],
  run: (ctx, p) => copyAll(ctx, p.args, { recursive: p.has('recursive'), keepTimes: false }),
};

const clone: CommandSpec = {
  name: 'clone',
  group: 'files',
  usage: 'SRC DST',
  summary: 'copy a file or a whole tree, keeping modes and times (shares every chunk)',
  details: ['The copy is byte for byte; with services/content it stores no new chunks.'],
  operands: [2, 2],
  complete: ['path', 'path'],
  run: (ctx, p) => copyAll(ctx, p.args, { recursive: true, keepTimes: true }),
};

export const fileCopyCommands: CommandSpec[] = [cp, clone];
