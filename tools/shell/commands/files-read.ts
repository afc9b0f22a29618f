/**
 * File commands that look without changing anything: ls, cd, pwd, cat, stat, tree, du,
 * df. All go through the fs protocol (backends.fs); df adds the content store's dedup
 * figures when that layer runs. --json output on ls, stat and df is for scripts: exact
 * numbers (bytes, not human units) and ISO times.
 */
import type { Attr } from '../../../services/fs/protocol.ts';
import type { CommandContext, CommandSpec } from '../command.ts';
import { CommandError, explain, STATUS_FAILED } from '../errors.ts';
import { count, formatColumns, formatTable, formatTime, formatTimePrecise, humanBytes, isoTime, modeString, octalMode, percent, ratio } from '../format.ts';
import { byName, listDir, readChunks, stat, walk } from '../fsops.ts';
import { join } from '../paths.ts';
import { CAT_SIZE_BYTES_MAX, WALK_DEPTH_MAX } from '../limits.ts';
import type { FsApi } from '../backends.ts';

interface Listed {
  name: string;
  path: string;
  attr: Attr;
  target?: string;
}

function attrJson(path: string, a: Attr, target?: string) {
  return {
    path,
    ino: a.ino,
    type: a.type,
    mode: octalMode(a.mode),
    nlink: a.nlink,
    uid: a.uid,
    gid: a.gid,
    sizeBytes: a.sizeBytes,
    blockCount: a.blockCount,
    atime: isoTime(a.atime),
    mtime: isoTime(a.mtime),
    ctime: isoTime(a.ctime),
    dataVersion: a.dataVersion,
    ...(target === undefined ? {} : { target }),
  };
}

async function withTarget(fs: FsApi, l: Listed): Promise<Listed> {
  if (l.attr.type !== 'symlink') return l;
  try {
    return { ...l, target: await fs.readlink(l.attr.ino) };
  } catch (e) {
    throw explain(e, l.path);
  }
}

function shortName(l: Listed): string {
  return l.attr.type === 'dir' && l.name !== '.' && l.name !== '..' ? `${l.name}/` : l.name;
}

function longRows(items: Listed[]): string[] {
  return formatTable(
    items.map((l) => [modeString(l.attr.type, l.attr.mode), String(l.attr.nlink), humanBytes(l.attr.sizeBytes), formatTime(l.attr.mtime), l.target === undefined ? l.name : `${l.name} -> ${l.target}`]),
    ['left', 'right', 'right', 'left', 'left'],
  );
}

async function dirItems(ctx: CommandContext, path: string, dir: Attr, all: boolean): Promise<Listed[]> {
  const fs = ctx.fs();
  const entries = (await listDir(fs, dir.ino, path)).filter((e) => all || !e.name.startsWith('.')).sort(byName);
  const items: Listed[] = [];
  if (all) {
    items.push({ name: '.', path, attr: dir });
    items.push({ name: '..', path: join(path, '..'), attr: await fs.lookup(dir.ino, '..').catch((e) => Promise.reject(explain(e, path))) });
  }
  for (const e of entries) {
    await ctx.checkInterrupted();
    const p = join(path, e.name);
    const attr = await fs.getattr(e.ino).catch((err) => Promise.reject(explain(err, p)));
    items.push(await withTarget(fs, { name: e.name, path: p, attr }));
  }
  return items;
}

const ls: CommandSpec = {
  name: 'ls',
  group: 'files',
  usage: '[-l] [-a] [--json] [PATH...]',
  summary: 'list a directory (or show a file)',
  details: ['Directories are shown with a trailing /. -l: mode, links, size, modification time (UTC).'],
  flags: { long: { short: 'l', help: 'long format' }, all: { short: 'a', help: 'include names starting with . (and . and ..)' }, json: { help: 'JSON: one object per entry, exact sizes' } },
  operands: [0, Infinity],
  complete: ['path'],
  async run(ctx, p) {
    const fs = ctx.fs();
    const operands = p.args.length ? p.args : ['.'];
    const long = p.has('long');
    let status = 0;
    const files: Listed[] = [];
    const dirs: { path: string; items: Listed[] }[] = [];
    for (const op of operands) {
      const path = ctx.path(op);
      try {
        // as ls does: -l shows a symlink operand itself, otherwise what it points to
        const attr = await stat(fs, path, !long);
        if (attr.type === 'dir') dirs.push({ path, items: await dirItems(ctx, path, attr, p.has('all')) });
        else files.push(await withTarget(fs, { name: op, path, attr }));
      } catch (e) {
        ctx.warn(explain(e).message);
        status = STATUS_FAILED;
      }
    }
    if (p.has('json')) {
      ctx.json([...files, ...dirs.flatMap((d) => d.items)].map((l) => ({ name: l.name, ...attrJson(l.path, l.attr, l.target) })));
      return status;
    }
    const show = (items: Listed[]) => {
      if (long) for (const line of longRows(items)) ctx.print(line);
      else if (ctx.isTTY) for (const line of formatColumns(items.map(shortName), ctx.widthChars)) ctx.print(line);
      else for (const l of items) ctx.print(shortName(l));
    };
    show(files);
    dirs.forEach((d, i) => {
      if (operands.length > 1) {
        if (files.length || i > 0) ctx.print();
        ctx.print(`${d.path}:`);
      }
      show(d.items);
    });
    return status;
  },
};

const cd: CommandSpec = {
  name: 'cd',
  group: 'files',
  usage: '[DIR]',
  summary: 'change the current directory (default /)',
  operands: [0, 1],
  complete: ['dir'],
  async run(ctx, p) {
    const path = ctx.path(p.args[0] ?? '/');
    const attr = await stat(ctx.fs(), path);
    if (attr.type !== 'dir') throw new CommandError(`${path}: Not a directory (ENOTDIR)`, STATUS_FAILED, 'ENOTDIR');
    ctx.shell.cwd = path;
  },
};

const pwd: CommandSpec = {
  name: 'pwd',
  group: 'files',
  usage: '',
  summary: 'print the current directory',
  async run(ctx) {
    ctx.print(ctx.shell.cwd);
  },
};

const cat: CommandSpec = {
  name: 'cat',
  group: 'files',
  usage: 'PATH...',
  summary: 'print files',
  details: [`Binary files and files over ${humanBytes(CAT_SIZE_BYTES_MAX)} are refused: copy them out with get.`],
  operands: [1, Infinity],
  complete: ['path'],
  async run(ctx, p) {
    const fs = ctx.fs();
    let status = 0;
    for (const op of p.args) {
      const path = ctx.path(op);
      try {
        const attr = await stat(fs, path);
        if (attr.sizeBytes > CAT_SIZE_BYTES_MAX) throw new CommandError(`${path}: ${humanBytes(attr.sizeBytes)} is too much for a terminal (use: get ${op} FILE)`);
        const decoder = new TextDecoder('utf-8', { fatal: true });
        let last = '';
        await readChunks(fs, path, attr, async (data) => {
          await ctx.checkInterrupted();
          let text: string;
          try {
            if (data.includes(0)) throw new Error('NUL');
            text = decoder.decode(data, { stream: true });
          } catch {
            throw new CommandError(`${path}: binary file, ${humanBytes(attr.sizeBytes)} (use: get ${op} FILE)`);
          }
          if (text.length) last = text;
          ctx.write(text);
        });
        if (last !== '' && !last.endsWith('\n')) ctx.write('\n');
      } catch (e) {
        ctx.warn(explain(e).message);
        status = STATUS_FAILED;
      }
    }
    return status;
  },
};

const statCmd: CommandSpec = {
  name: 'stat',
  group: 'files',
  usage: '[--json] PATH...',
  summary: "show a file's attributes (a symlink itself, not its target)",
  flags: { json: { help: 'JSON: exact numbers, ISO times' } },
  operands: [1, Infinity],
  complete: ['path'],
  async run(ctx, p) {
    const fs = ctx.fs();
    const out: ReturnType<typeof attrJson>[] = [];
    let status = 0;
    for (const op of p.args) {
      const path = ctx.path(op);
      try {
        const l = await withTarget(fs, { name: op, path, attr: await stat(fs, path, false) });
        const a = l.attr;
        if (p.has('json')) {
          out.push(attrJson(path, a, l.target));
          continue;
        }
        ctx.print(`  File: ${path}${l.target === undefined ? '' : ` -> ${l.target}`}`);
        for (const line of formatTable([
          ['  Type:', a.type, 'Inode:', String(a.ino), 'Links:', String(a.nlink)],
          ['  Size:', `${humanBytes(a.sizeBytes)} (${count(a.sizeBytes)} bytes)`, 'Blocks:', `${a.blockCount} (512 B)`, 'Version:', String(a.dataVersion)],
          ['  Mode:', `${octalMode(a.mode)} (${modeString(a.type, a.mode)})`, 'Uid:', String(a.uid), 'Gid:', String(a.gid)],
        ]))
          ctx.print(line);
        ctx.print(`Access: ${formatTimePrecise(a.atime)}`);
        ctx.print(`Modify: ${formatTimePrecise(a.mtime)}`);
        ctx.print(`Change: ${formatTimePrecise(a.ctime)}`);
      } catch (e) {
        ctx.warn(explain(e).message);
        status = STATUS_FAILED;
      }
    }
    if (p.has('json')) ctx.json(p.args.length === 1 && out.length === 1 ? out[0] : out);
    return status;
  },
};

const tree: CommandSpec = {
  name: 'tree',
  group: 'files',
  usage: '[-a] [PATH]',
  summary: 'show a directory tree',
  flags: { all: { short: 'a', help: 'include names starting with .' } },
  operands: [0, 1],
  complete: ['path'],
  async run(ctx, p) {
    const fs = ctx.fs();
    const root = ctx.path(p.args[0] ?? '.');
    const rootAttr = await stat(fs, root);
    ctx.print(root);
    let dirCount = 0;
    let fileCount = 0;
    const draw = async (path: string, dir: Attr, prefix: string, depth: number): Promise<void> => {
      if (depth > WALK_DEPTH_MAX) throw new CommandError(`${path}: deeper than ${WALK_DEPTH_MAX} levels`);
      const entries = (await listDir(fs, dir.ino, path)).filter((e) => p.has('all') || !e.name.startsWith('.')).sort(byName);
      for (let i = 0; i < entries.length; i++) {
        await ctx.checkInterrupted();
        const e = entries[i];
        const lastOne = i === entries.length - 1;
        const childPath = join(path, e.name);
        let label = e.type === 'dir' ? `${e.name}/` : e.name;
        if (e.type === 'symlink') label += ` -> ${await fs.readlink(e.ino).catch((err) => Promise.reject(explain(err, childPath)))}`;
        ctx.print(`${prefix}${lastOne ? '└── ' : '├── '}${label}`);
        if (e.type === 'dir') {
          dirCount++;
          const attr = await fs.getattr(e.ino).catch((err) => Promise.reject(explain(err, childPath)));
          await draw(childPath, attr, prefix + (lastOne ? '    ' : '│   '), depth + 1);
        } else fileCount++;
      }
    };
    if (rootAttr.type === 'dir') await draw(root, rootAttr, '', 0);
    ctx.print();
    ctx.print(`${dirCount} director${dirCount === 1 ? 'y' : 'ies'}, ${fileCount} file${fileCount === 1 ? '' : 's'}`);
  },
};

const du: CommandSpec = {
  name: 'du',
  group: 'files',
  usage: '[-s] [--apparent] [PATH...]',
  summary: 'space used under each directory (hard links counted once)',
  flags: { summary: { short: 's', help: 'only a total for each operand' }, apparent: { help: 'file sizes rather than space used' } },
  operands: [0, Infinity],
  complete: ['path'],
  async run(ctx, p) {
    const fs = ctx.fs();
    const rows: string[][] = [];
    const seen = new Set<number>();
    const sizeOf = (a: Attr) => (p.has('apparent') ? a.sizeBytes : a.blockCount * 512);
    for (const op of p.args.length ? p.args : ['.']) {
      const root = ctx.path(op);
      const totals: number[] = [];
      await walk(
        fs,
        root,
        await stat(fs, root),
        async (e) => {
          await ctx.checkInterrupted();
          totals.push(0);
          if (e.attr.type !== 'dir' && !seen.has(e.attr.ino)) {
            seen.add(e.attr.ino);
            totals[totals.length - 1] += sizeOf(e.attr);
          }
        },
        (e) => {
          const mine = totals.pop()!;
          if (totals.length) totals[totals.length - 1] += mine;
          if (e.attr.type === 'dir' ? !p.has('summary') || e.depth === 0 : e.depth === 0) rows.push([humanBytes(mine), e.path]);
        },
      );
    }
    for (const line of formatTable(rows, ['right', 'left'])) ctx.print(line);
  },
};

const df: CommandSpec = {
  name: 'df',
  group: 'files',
  usage: '[--json]',
  summary: 'space on the filesystem, and the dedup ratio',
  details: ['Dedup: bytes the files name (logical) against bytes stored once per distinct chunk (needs services/content).'],
  flags: { json: { help: 'JSON: exact bytes' } },
  async run(ctx, p) {
    const s = await ctx.fs().statfs().catch((e) => Promise.reject(explain(e, '/')));
    const sizeBytes = s.blockCount * s.blockSizeBytes;
    const freeBytes = s.blocksFree * s.blockSizeBytes;
    const usedBytes = sizeBytes - freeBytes;
    const content = ctx.backends.content;
    const dedup = content ? await content.stats().catch((e) => Promise.reject(explain(e, 'content'))) : null;
    if (p.has('json')) {
      ctx.json({
        sizeBytes,
        usedBytes,
        freeBytes,
        blockSizeBytes: s.blockSizeBytes,
        files: s.fileCount,
        filesFree: s.filesFree,
        dedup: dedup && { logicalBytes: dedup.logicalBytes, storedBytes: dedup.storedBytes, chunkCount: dedup.chunkCount, ratio: dedup.storedBytes > 0 ? dedup.logicalBytes / dedup.storedBytes : null },
      });
      return;
    }
    for (const line of formatTable(
      [
        ['Filesystem', 'Size', 'Used', 'Free', 'Use%', 'Files'],
        ['strata', humanBytes(sizeBytes), humanBytes(usedBytes), humanBytes(freeBytes), percent(usedBytes, sizeBytes), count(s.fileCount)],
      ],
      ['left', 'right', 'right', 'right', 'right', 'right'],
    ))
      ctx.print(line);
    if (dedup) ctx.print(`dedup: ${humanBytes(dedup.logicalBytes)} named by files, ${humanBytes(dedup.storedBytes)} stored (${ratio(dedup.logicalBytes, dedup.storedBytes)}), ${count(dedup.chunkCount)} chunk${dedup.chunkCount === 1 ? '' : 's'}`);
    else ctx.print('dedup: not available yet (needs services/content)');
  },
};

export const fileReadCommands: CommandSpec[] = [ls, cd, pwd, cat, statCmd, tree, du, df];
