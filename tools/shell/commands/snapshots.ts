/**
 * Snapshot commands: snap create NAME, snap list, snap show NAME, snap diff A [B],
 * snap restore NAME, snap delete NAME. They speak to backends.snapshots (SnapshotsApi
 * in backends.ts); until the filesystem serves snapshots each one says
 * "not available yet (needs snapshots in services/fs)".
 *
 * diff prints one line per changed path, git's letters: A added, D removed (deleted),
 * M modified, T type changed, R renamed (OLD -> NEW: a removed and an added path alike but
 * for times); B defaults to the live tree. --json on list and diff.
 */
import type { CommandContext, CommandSpec } from '../command.ts';
import { need, type ChangeKind, type DiffEntryView, type SnapshotView } from '../backends.ts';
import { explain } from '../errors.ts';
import { count, formatTable, formatTime, humanBytes, isoTime } from '../format.ts';
import { statOrNull } from '../fsops.ts';

const HASH_SHOWN_CHARS = 12;

function api(ctx: CommandContext) {
  return need(ctx.backends, 'snapshots');
}

async function call<T>(subject: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw explain(e, subject);
  }
}

function snapJson(s: SnapshotView) {
  return { name: s.name, rootHash: s.rootHash, createdAt: isoTime(s.createdAt), seq: s.seq ?? null, fileCount: s.fileCount ?? null, dirCount: s.dirCount ?? null, sizeBytes: s.sizeBytes ?? null, exclusiveBytes: s.exclusiveBytes ?? null };
}

const LETTER: Record<ChangeKind, string> = { added: 'A', removed: 'D', modified: 'M', type: 'T', renamed: 'R' };

function sizeChange(e: DiffEntryView): string {
  const b = e.sizeBytesBefore;
  const a = e.sizeBytesAfter;
  if (e.change === 'added') return a === undefined ? '' : humanBytes(a);
  if (e.change === 'removed' || e.change === 'renamed') return b === undefined ? '' : humanBytes(b);
  if (a === undefined || b === undefined) return '';
  return `${humanBytes(b)} -> ${humanBytes(a)}`;
}

const create: CommandSpec = {
  name: 'create',
  group: 'snapshots',
  usage: 'NAME',
  summary: 'snapshot the live tree under NAME',
  operands: [1, 1],
  complete: ['none'],
  async run(ctx, p) {
    const s = await call(p.args[0], () => api(ctx).create(p.args[0]));
    ctx.print(`snapshot ${s.name}: root ${s.rootHash.slice(0, HASH_SHOWN_CHARS)}${s.fileCount === undefined ? '' : `, ${count(s.fileCount)} files`}${s.sizeBytes === undefined ? '' : `, ${humanBytes(s.sizeBytes)}`}`);
  },
};

const list: CommandSpec = {
  name: 'list',
  group: 'snapshots',
  usage: '[--json]',
  summary: 'list snapshots, oldest first',
  flags: { json: { help: 'JSON: full root hashes, ISO times' } },
  async run(ctx, p) {
    const snaps = await call('snapshots', () => api(ctx).list());
    if (p.has('json')) return void ctx.json(snaps.map(snapJson));
    if (snaps.length === 0) return void ctx.print('no snapshots');
    // SEQ and ONLY (bytes no other snapshot nor the live tree holds) when the backend knows them.
    const withSeq = snaps.some((s) => s.seq !== undefined);
    const withOnly = snaps.some((s) => s.exclusiveBytes !== undefined);
    const dash = <T>(v: T | undefined, f: (v: T) => string) => (v === undefined ? '-' : f(v));
    const rows = [['NAME', 'CREATED', ...(withSeq ? ['SEQ'] : []), 'FILES', 'SIZE', ...(withOnly ? ['ONLY'] : []), 'ROOT']];
    for (const s of snaps) {
      rows.push([
        s.name,
        formatTime(s.createdAt),
        ...(withSeq ? [dash(s.seq, String)] : []),
        dash(s.fileCount, count),
        dash(s.sizeBytes, humanBytes),
        ...(withOnly ? [dash(s.exclusiveBytes, humanBytes)] : []),
        s.rootHash.slice(0, HASH_SHOWN_CHARS),
      ]);
    }
    const align = rows[0].map((h) => (h === 'NAME' || h === 'CREATED' || h === 'ROOT' ? 'left' : 'right')) as ('left' | 'right')[];
    for (const line of formatTable(rows, align)) ctx.print(line);
  },
};

const show: CommandSpec = {
  name: 'show',
  group: 'snapshots',
  usage: 'NAME',
  summary: "a snapshot's details",
  operands: [1, 1],
  complete: ['none'],
  async run(ctx, p) {
    const s = await call(p.args[0], () => api(ctx).show(p.args[0]));
    const rows = [
      ['name:', s.name],
      ['created:', `${formatTime(s.createdAt)} UTC`],
      ['root:', s.rootHash],
    ];
    if (s.fileCount !== undefined) rows.push(['files:', count(s.fileCount)]);
    if (s.dirCount !== undefined) rows.push(['directories:', count(s.dirCount)]);
    if (s.sizeBytes !== undefined) rows.push(['size:', `${humanBytes(s.sizeBytes)} (${count(s.sizeBytes)} bytes)`]);
    if (s.exclusiveBytes !== undefined) rows.push(['only here:', `${humanBytes(s.exclusiveBytes)} (held by no other snapshot nor the live tree)`]);
    if (s.seq !== undefined) rows.push(['log seq:', String(s.seq)]);
    for (const line of formatTable(rows)) ctx.print(line);
  },
};

const diff: CommandSpec = {
  name: 'diff',
  group: 'snapshots',
  usage: '[--json] A [B]',
  summary: 'what changed from snapshot A to snapshot B (default: the live tree)',
  flags: { json: { help: 'JSON: one object per changed path' } },
  operands: [1, 2],
  complete: ['none'],
  async run(ctx, p) {
    const [from, to] = p.args;
    const changes = await call(from, () => api(ctx).diff(from, to));
    if (p.has('json')) return void ctx.json({ from, to: to ?? null, changes });
    const shown = (path: string, type: string) => (type === 'dir' ? `${path}/` : path);
    const rows = changes.map((e) => [LETTER[e.change], e.change === 'renamed' && e.from !== undefined ? `${shown(e.from, e.type)} -> ${shown(e.path, e.type)}` : shown(e.path, e.type), sizeChange(e)]);
    for (const line of formatTable(rows, ['left', 'left', 'right'])) ctx.print(line);
    const n = (k: ChangeKind) => changes.filter((e) => e.change === k).length;
    const parts = (['added', 'removed', 'modified', 'renamed', 'type'] as ChangeKind[]).filter((k) => n(k) > 0).map((k) => `${n(k)} ${k === 'type' ? 'type changed' : k}`);
    ctx.print(changes.length === 0 ? `no changes from ${from} to ${to ?? 'the live tree'}` : `${changes.length} change${changes.length === 1 ? '' : 's'}: ${parts.join(', ')}`);
  },
};

const restore: CommandSpec = {
  name: 'restore',
  group: 'snapshots',
  usage: 'NAME',
  summary: 'make the live tree what it was in snapshot NAME (other snapshots stay)',
  operands: [1, 1],
  complete: ['none'],
  async run(ctx, p) {
    await call(p.args[0], () => api(ctx).restore(p.args[0]));
    ctx.print(`restored ${p.args[0]}`);
    const fs = ctx.backends.fs;
    if (fs && ctx.shell.cwd !== '/' && (await statOrNull(fs, ctx.shell.cwd))?.type !== 'dir') {
      ctx.print(`(${ctx.shell.cwd} is gone; now in /)`);
      ctx.shell.cwd = '/';
    }
  },
};

const del: CommandSpec = {
  name: 'delete',
  group: 'snapshots',
  usage: 'NAME',
  summary: 'forget snapshot NAME (gc reclaims what nothing else holds)',
  operands: [1, 1],
  complete: ['none'],
  async run(ctx, p) {
    await call(p.args[0], () => api(ctx).delete(p.args[0]));
  },
};

export const snapCommand: CommandSpec = {
  name: 'snap',
  group: 'snapshots',
  usage: 'create|list|show|diff|restore|delete ...',
  summary: 'snapshots: create, list, show, diff, restore, delete',
  subcommands: [create, list, show, diff, restore, del],
};
