/**
 * File commands that change the tree: write, append, touch, mkdir, rm, mv, ln, truncate.
 * (cp and clone are in files-copy.ts; put, get and mkfile in files-host.ts.)
 *
 * Each is a short sequence of fs protocol calls; none syncs: data and metadata are
 * durable when the filesystem says so (sync, or its own commit rules), exactly as for
 * any other client. An operand that names an existing directory as the destination of
 * mv or ln means "into it", as in sh.
 */
import { ServiceError } from '../../../kernel/errors.ts';
import type { CommandSpec } from '../command.ts';
import { parseSizeBytes } from '../command.ts';
import { about, CommandError, explain, hasCode, ShellUsageError, STATUS_FAILED } from '../errors.ts';
import { DIR_MODE_DEFAULT, FILE_MODE_DEFAULT, parentOf, stat, statOrNull, walk, writeFile } from '../fsops.ts';
import { basename, dirname, isWithin, join } from '../paths.ts';

const encoder = new TextEncoder();

function textOperand(words: string[], noNewline: boolean): Uint8Array {
  return encoder.encode(words.join(' ') + (noNewline ? '' : '\n'));
}

const write: CommandSpec = {
  name: 'write',
  group: 'files',
  usage: '[-n] PATH [TEXT...]',
  summary: 'replace a file with TEXT and a newline (creating it)',
  details: ['Words are joined by single spaces. In double quotes, \\n and \\t are a newline and a tab.'],
  flags: { 'no-newline': { short: 'n', help: 'no newline at the end' } },
  operands: [1, Infinity],
  complete: ['path', 'none'],
  async run(ctx, p) {
    await writeFile(ctx.fs(), ctx.path(p.args[0]), textOperand(p.args.slice(1), p.has('no-newline')));
  },
};

const append: CommandSpec = {
  name: 'append',
  group: 'files',
  usage: '[-n] PATH [TEXT...]',
  summary: 'add TEXT and a newline to the end of a file (creating it)',
  flags: { 'no-newline': { short: 'n', help: 'no newline at the end' } },
  operands: [1, Infinity],
  complete: ['path', 'none'],
  async run(ctx, p) {
    await writeFile(ctx.fs(), ctx.path(p.args[0]), textOperand(p.args.slice(1), p.has('no-newline')), { append: true });
  },
};

const touch: CommandSpec = {
  name: 'touch',
  group: 'files',
  usage: 'PATH...',
  summary: "create empty files, or set an existing file's times to now",
  operands: [1, Infinity],
  complete: ['path'],
  async run(ctx, p) {
    const fs = ctx.fs();
    for (const op of p.args) {
      const path = ctx.path(op);
      const attr = await statOrNull(fs, path);
      if (attr) await about(path, () => fs.setattr(attr.ino, { atime: 'now', mtime: 'now' }));
      else {
        const { parent, name } = await parentOf(fs, path);
        const { handle } = await about(path, () => fs.create(parent.ino, name, FILE_MODE_DEFAULT, { read: true, write: true }));
        await fs.close(handle);
      }
    }
  },
};

const mkdir: CommandSpec = {
  name: 'mkdir',
  group: 'files',
  usage: '[-p] DIR...',
  summary: 'make directories',
  flags: { parents: { short: 'p', help: 'make missing parents too; no error if the directory exists' } },
  operands: [1, Infinity],
  complete: ['dir'],
  async run(ctx, p) {
    const fs = ctx.fs();
    for (const op of p.args) {
      const path = ctx.path(op);
      if (!p.has('parents')) {
        const { parent, name } = await parentOf(fs, path);
        await about(path, () => fs.mkdir(parent.ino, name, DIR_MODE_DEFAULT));
        continue;
      }
      let dir = '/';
      for (const part of path.split('/').filter(Boolean)) {
        dir = join(dir, part);
        const attr = await statOrNull(fs, dir);
        if (attr?.type === 'dir') continue;
        if (attr) throw explain(new ServiceError('EEXIST', ''), dir);
        const parent = await stat(fs, dirname(dir));
        try {
          await fs.mkdir(parent.ino, part, DIR_MODE_DEFAULT);
        } catch (e) {
          if (!hasCode(e, 'EEXIST')) throw explain(e, dir);
        }
      }
    }
  },
};

const rm: CommandSpec = {
  name: 'rm',
  group: 'files',
  usage: '[-r] [-f] PATH...',
  summary: 'remove files (and, with -r, directories and everything in them)',
  flags: { recursive: { short: 'r', help: 'remove directories and their contents' }, force: { short: 'f', help: 'no error for paths that do not exist' } },
  operands: [1, Infinity],
  complete: ['path'],
  async run(ctx, p) {
    const fs = ctx.fs();
    let status = 0;
    for (const op of p.args) {
      const path = ctx.path(op);
      try {
        if (path === '/') throw new CommandError('/: refusing to remove the root directory');
        const attr = await statOrNull(fs, path, false);
        if (!attr) {
          if (p.has('force')) continue;
          throw explain(new ServiceError('ENOENT', ''), path);
        }
        if (attr.type === 'dir' && !p.has('recursive')) throw new CommandError(`${path}: Is a directory (EISDIR; use rm -r)`, STATUS_FAILED, 'EISDIR');
        await walk(
          fs,
          path,
          attr,
          () => ctx.checkInterrupted(),
          async (e) => {
            const { parent, name } = await parentOf(fs, e.path);
            await about(e.path, () => (e.attr.type === 'dir' ? fs.rmdir(parent.ino, name) : fs.unlink(parent.ino, name)));
          },
        );
        if (isWithin(path, ctx.shell.cwd)) ctx.shell.cwd = dirname(path) === path ? '/' : dirname(path);
      } catch (e) {
        ctx.warn(explain(e).message);
        status = STATUS_FAILED;
      }
    }
    return status;
  },
};

/** The destination of mv/ln/cp: inside DST if it is a directory, else DST itself. */
export async function destination(ctx: Parameters<NonNullable<CommandSpec['run']>>[0], source: string, dstOperand: string, many: boolean): Promise<string> {
  const dst = ctx.path(dstOperand);
  const attr = await statOrNull(ctx.fs(), dst);
  if (attr?.type === 'dir') return join(dst, basename(source));
  if (many) throw new CommandError(`${dst}: Not a directory (ENOTDIR; several sources need a directory)`, STATUS_FAILED, 'ENOTDIR');
  return dst;
}

const mv: CommandSpec = {
  name: 'mv',
  group: 'files',
  usage: 'SRC... DST',
  summary: 'rename or move (into DST if it is a directory)',
  operands: [2, Infinity],
  complete: ['path'],
  async run(ctx, p) {
    const fs = ctx.fs();
    const sources = p.args.slice(0, -1);
    const many = sources.length > 1;
    for (const op of sources) {
      const from = ctx.path(op);
      const to = await destination(ctx, from, p.args[p.args.length - 1], many);
      const src = await parentOf(fs, from);
      await stat(fs, from, false);
      const dst = await parentOf(fs, to);
      await about(from, () => fs.rename(src.parent.ino, src.name, dst.parent.ino, dst.name));
      if (isWithin(from, ctx.shell.cwd)) ctx.shell.cwd = to + ctx.shell.cwd.slice(from.length);
    }
  },
};

const ln: CommandSpec = {
  name: 'ln',
  group: 'files',
  usage: '[-s] TARGET LINK',
  summary: 'make a hard link (or, with -s, a symbolic link) named LINK',
  details: ['A symbolic link stores TARGET as written; a relative TARGET is relative to the link.'],
  flags: { symbolic: { short: 's', help: 'symbolic link' } },
  operands: [2, 2],
  complete: ['path', 'path'],
  async run(ctx, p) {
    const fs = ctx.fs();
    const [targetOp, linkOp] = p.args;
    const link = await destination(ctx, targetOp.replace(/\/+$/, '') || '/', linkOp, false);
    const { parent, name } = await parentOf(fs, link);
    if (p.has('symbolic')) {
      await about(link, () => fs.symlink(parent.ino, name, targetOp));
      return;
    }
    const target = await stat(fs, ctx.path(targetOp), false);
    await about(link, () => fs.link(target.ino, parent.ino, name));
  },
};

const truncate: CommandSpec = {
  name: 'truncate',
  group: 'files',
  usage: '-s SIZE PATH...',
  summary: 'shrink or extend files to SIZE (creating them); extending leaves a hole',
  flags: { size: { short: 's', value: 'SIZE', help: 'new size: 4096, 64K, 1.5M, 2G' } },
  operands: [1, Infinity],
  complete: ['path'],
  async run(ctx, p) {
    const sizeText = p.value('size');
    if (sizeText === undefined) throw new ShellUsageError('needs -s SIZE');
    const sizeBytes = parseSizeBytes(sizeText);
    const fs = ctx.fs();
    for (const op of p.args) {
      const path = ctx.path(op);
      let attr = await statOrNull(fs, path);
      if (!attr) {
        const { parent, name } = await parentOf(fs, path);
        const created = await about(path, () => fs.create(parent.ino, name, FILE_MODE_DEFAULT, { read: true, write: true }));
        await fs.close(created.handle);
        attr = created.attr;
      }
      const ino = attr.ino;
      await about(path, () => fs.truncate(ino, sizeBytes));
    }
  },
};

export const fileWriteCommands: CommandSpec[] = [write, append, touch, mkdir, rm, mv, ln, truncate];
