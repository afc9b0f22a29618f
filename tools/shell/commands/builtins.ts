/**
 * The shell's own commands: help [CMD [SUB]], echo, try, exit [N], history.
 * `help` is generated from the command table, so it lists exactly what runs.
 */
import type { CommandSpec, CommandTable, CommandGroup } from '../command.ts';
import { parseCount, resolveSubcommand, usageLine } from '../command.ts';
import { ShellUsageError } from '../errors.ts';
import { formatTable } from '../format.ts';

const GROUP_TITLES: Record<CommandGroup, string> = { files: 'files', snapshots: 'snapshots', system: 'system', shell: 'the shell' };

export function overview(table: CommandTable): string[] {
  const lines = ['Strata service shell. help CMD shows a command in detail.'];
  for (const group of Object.keys(GROUP_TITLES) as CommandGroup[]) {
    const specs = table.all().filter((s) => s.group === group);
    if (!specs.length) continue;
    lines.push('', `${GROUP_TITLES[group]}:`);
    lines.push(...formatTable(specs.map((s) => [`  ${s.name}`, s.summary])));
  }
  lines.push(
    '',
    'Paths are relative to the current directory (cd, pwd). Quote words with spaces in',
    "'single' or \"double\" quotes; ; separates commands; # starts a comment; $TMP is a",
    'scratch directory on the host (removed at exit); $HOME is your home directory.',
    'Sizes are binary (KiB, MiB); times are UTC. Ctrl-C stops a command; at the prompt,',
    'Ctrl-C, Ctrl-D or exit shut the system down cleanly.',
  );
  return lines;
}

export function commandHelp(name: string, spec: CommandSpec): string[] {
  const lines = [`usage: ${usageLine(name, spec)}`, '', spec.summary];
  if (spec.details) lines.push(...spec.details);
  const flags = Object.entries(spec.flags ?? {});
  if (flags.length) {
    lines.push('', 'options:');
    lines.push(
      ...formatTable(
        flags.map(([long, f]) => [`  ${f.short ? `-${f.short}, ` : '    '}--${long}${f.value ? ` ${f.value}` : ''}`, f.help]),
      ),
    );
  }
  if (spec.subcommands?.length) {
    lines.push('', 'subcommands:');
    lines.push(...formatTable(spec.subcommands.map((s) => [`  ${usageLine(`${name} ${s.name}`, s)}`, s.summary])));
  }
  return lines;
}

const help: CommandSpec = {
  name: 'help',
  group: 'shell',
  usage: '[CMD [SUB]]',
  summary: 'list the commands, or explain one',
  operands: [0, 2],
  complete: ['command'],
  async run(ctx, p) {
    const table = ctx.shell.table;
    if (p.args.length === 0) {
      for (const line of overview(table)) ctx.print(line);
      return;
    }
    const spec = table.get(p.args[0]);
    if (!spec) throw new ShellUsageError(`no command '${p.args[0]}' (help lists them)`);
    const { spec: sub, name } = resolveSubcommand(spec, p.args.slice(1));
    for (const line of commandHelp(name, sub)) ctx.print(line);
  },
};

const echo: CommandSpec = {
  name: 'echo',
  group: 'shell',
  usage: '[-n] [TEXT...]',
  summary: 'print TEXT (for narrating scripts); -n: no newline',
  details: ['Every word is printed as it is (dashes included), except a first -n.'],
  operands: [0, Infinity],
  complete: ['none'],
  async run(ctx, p) {
    const noNewline = p.args[0] === '-n';
    ctx.write(p.args.slice(noNewline ? 1 : 0).join(' ') + (noNewline ? '' : '\n'));
  },
};

const tryCmd: CommandSpec = {
  name: 'try',
  group: 'shell',
  usage: 'CMD [ARGS...]',
  summary: "run CMD; if it fails, print its error but succeed (so a script goes on)",
  operands: [1, Infinity],
  complete: ['command'],
  async run(ctx, p) {
    await ctx.shell.runWords(p.args);
    return 0;
  },
  // Everything after the command name belongs to CMD, flags included (see shell.ts).
};

const exit: CommandSpec = {
  name: 'exit',
  group: 'shell',
  usage: '[STATUS]',
  summary: 'shut the system down cleanly (sync, flush, checkpoint) and leave',
  operands: [0, 1],
  complete: ['none'],
  async run(ctx, p) {
    const status = p.args[0] === undefined ? 0 : parseCount(p.args[0], 'STATUS', 255);
    ctx.shell.requestExit(status);
    return status;
  },
};

const history: CommandSpec = {
  name: 'history',
  group: 'shell',
  usage: '[N]',
  summary: 'the last N lines typed (all by default)',
  operands: [0, 1],
  complete: ['none'],
  async run(ctx, p) {
    const all = ctx.shell.history;
    const n = p.args[0] === undefined ? all.length : parseCount(p.args[0], 'N', all.length);
    const start = all.length - n;
    all.slice(start).forEach((line, i) => ctx.print(`${String(start + i + 1).padStart(5)}  ${line}`));
  },
};

/** Commands whose operands are passed on untouched (no flag parsing). */
export const RAW_OPERAND_COMMANDS = new Set(['try', 'echo']);

export const builtinCommands: CommandSpec[] = [help, echo, tryCmd, exit, history];
