/**
 * Tab completion from the command table: command names, subcommands, flags, fixed
 * words (trace on|off), Strata paths (listed through the fs protocol, so what completes
 * is what the filesystem holds) and host paths (for put and get).
 *
 * The completer has node:readline's shape: (line) -> [candidates, the text they
 * replace]. Candidates are written as they must be typed (spaces and quotes escaped
 * with a backslash, or kept inside an open quote); a directory ends in '/'.
 * A failing listing (no such directory, no fs yet) completes to nothing, silently.
 */
import nodeFs from 'node:fs';
import nodePath from 'node:path';
import type { Attr } from '../../services/fs/protocol.ts';
import type { ArgKind, CommandSpec } from './command.ts';
import { listDir } from './fsops.ts';
import { COMPLETION_CANDIDATES_MAX } from './limits.ts';
import { absolute } from './paths.ts';
import type { Shell } from './shell.ts';
import { tokenizePartial } from './tokenize.ts';

function escapeWord(text: string, openQuote: '"' | "'" | null): string {
  if (openQuote === "'") return "'" + text;
  if (openQuote === '"') return '"' + text.replace(/(["\\$`])/g, '\\$1');
  return text.replace(/([\s'"\\$;#&|<>(){}*?!])/g, '\\$1');
}

function operandKind(spec: CommandSpec, index: number): ArgKind {
  const kinds = spec.complete ?? [];
  if (kinds.length === 0) return 'none';
  return kinds[Math.min(index, kinds.length - 1)];
}

async function strataPaths(shell: Shell, typed: string, dirsOnly: boolean): Promise<string[]> {
  const fs = shell.host.backends.fs;
  if (!fs) return [];
  const slash = typed.lastIndexOf('/');
  const dirPart = slash < 0 ? '' : typed.slice(0, slash + 1);
  const prefix = typed.slice(slash + 1);
  const dirPath = absolute(shell.cwd, dirPart || '.');
  let dir: Attr;
  try {
    dir = await fs.resolve(dirPath);
    if (dir.type !== 'dir') return [];
    const entries = await listDir(fs, dir.ino, dirPath);
    return entries
      .filter((e) => e.name.startsWith(prefix) && (prefix.startsWith('.') || !e.name.startsWith('.')))
      .filter((e) => !dirsOnly || e.type === 'dir' || e.type === 'symlink')
      .map((e) => dirPart + e.name + (e.type === 'dir' ? '/' : ''))
      .sort()
      .slice(0, COMPLETION_CANDIDATES_MAX);
  } catch {
    return [];
  }
}

function hostPaths(shell: Shell, typed: string): string[] {
  const slash = typed.lastIndexOf('/');
  const dirPart = slash < 0 ? '' : typed.slice(0, slash + 1);
  const prefix = typed.slice(slash + 1);
  try {
    const dir = shell.hostPath(dirPart || '.');
    return nodeFs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.name.startsWith(prefix) && (prefix.startsWith('.') || !e.name.startsWith('.')))
      .map((e) => dirPart + e.name + (e.isDirectory() || (e.isSymbolicLink() && isDir(nodePath.join(dir, e.name))) ? '/' : ''))
      .sort()
      .slice(0, COMPLETION_CANDIDATES_MAX);
  } catch {
    return [];
  }
}

function isDir(p: string): boolean {
  try {
    return nodeFs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Candidates for the end of `line`, and the text they replace. */
export async function complete(shell: Shell, line: string): Promise<[string[], string]> {
  const partial = tokenizePartial(line, { vars: shell.variable });
  const replaced = line.slice(partial.currentStart);
  const typed = partial.current;
  const finish = (words: string[]): [string[], string] => [words.map((w) => escapeWord(w, partial.openQuote)), replaced];
  const names = (list: string[]) => finish(list.filter((n) => n.startsWith(typed)));

  if (partial.words.length === 0) return names(shell.table.names());
  let spec = shell.table.get(partial.words[0]);
  if (!spec) return finish([]);
  let rest = partial.words.slice(1);
  if (spec.name === 'try') {
    // try CMD ...: complete CMD's operands as CMD's
    if (rest.length === 0) return names(shell.table.names());
    spec = shell.table.get(rest[0]);
    if (!spec) return finish([]);
    rest = rest.slice(1);
  }
  while (spec.subcommands?.length) {
    if (rest.length === 0) return names(spec.subcommands.map((s) => s.name));
    const sub: CommandSpec | undefined = spec.subcommands.find((s) => s.name === rest[0]);
    if (!sub) return finish([]);
    spec = sub;
    rest = rest.slice(1);
  }
  if (typed.startsWith('-')) {
    const flags = Object.entries(spec.flags ?? {}).flatMap(([long, f]) => [`--${long}`, ...(f.short ? [`-${f.short}`] : [])]);
    return names(flags.sort());
  }
  const valueFlags = new Set(Object.entries(spec.flags ?? {}).filter(([, f]) => f.value).flatMap(([long, f]) => [`--${long}`, ...(f.short ? [`-${f.short}`] : [])]));
  let index = 0;
  for (let i = 0; i < rest.length; i++) {
    if (valueFlags.has(rest[i])) i++;
    else if (!rest[i].startsWith('-') || rest[i] === '-') index++;
  }
  if (valueFlags.has(rest[rest.length - 1] ?? '')) return finish([]);
  const kind = operandKind(spec, index);
  if (kind === 'none') return finish([]);
  if (kind === 'command') return names(shell.table.names());
  if (kind === 'host') return finish(hostPaths(shell, typed));
  if (kind === 'path' || kind === 'dir') return finish(await strataPaths(shell, typed, kind === 'dir'));
  return names(kind.words);
}
