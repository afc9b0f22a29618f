/**
 * The command table's vocabulary: what a command declares (name, usage, flags, how
 * many operands, what each operand completes to, subcommands) and what it gets when it
 * runs (a CommandContext: output, the shell's state, the backends, interruption).
 *
 * Commands are data plus one run function, so `help`, `help CMD`, argument checking and
 * tab completion all come from the same table and cannot drift apart. Flags are parsed
 * here, the same way for every command: -l -a and -la, --json, --name=value or
 * --name value, `--` ends the options; anything unknown is a usage error naming it.
 */
import type { FsApi, ShellBackends } from './backends.ts';
import type { ShellHost } from './host.ts';
import type { ProgressBar } from './format.ts';
import { ShellUsageError } from './errors.ts';

export type CommandGroup = 'files' | 'snapshots' | 'system' | 'shell';

/** What an operand completes to. */
export type ArgKind = 'path' | 'dir' | 'host' | 'command' | 'none' | { words: string[] };

export interface FlagSpec {
  /** One-letter form (`l` for -l). */
  short?: string;
  /** Present if the flag takes a value: its name in the usage (`N`, `SEED`). */
  value?: string;
  help: string;
}

export interface Parsed {
  args: string[];
  flags: Record<string, string | true>;
  has(flag: string): boolean;
  value(flag: string): string | undefined;
}

export interface CommandSpec {
  name: string;
  group: CommandGroup;
  /** Operands and flags after the name, e.g. "[-l] [-a] [--json] [PATH...]". */
  usage: string;
  summary: string;
  /** More lines for `help CMD`. */
  details?: string[];
  flags?: Record<string, FlagSpec>;
  /** [fewest, most] operands (most may be Infinity); default [0, 0]. */
  operands?: [number, number];
  /** Completion of each operand by position; the last kind repeats. */
  complete?: ArgKind[];
  /** A command with subcommands (snap create, snap list ...) dispatches on its first operand. */
  subcommands?: CommandSpec[];
  run?(ctx: CommandContext, parsed: Parsed): Promise<number | void>;
}

/** The shell as commands see it (implemented by shell.ts's Shell). */
export interface ShellState {
  cwd: string;
  readonly host: ShellHost;
  readonly table: CommandTable;
  readonly history: readonly string[];
  readonly tracing: boolean;
  setTracing(on: boolean): void;
  /** Set by `exit`: the shell stops after this command with this status. */
  requestExit(status: number): void;
  /** The host directory behind $TMP, made on first use and removed at shutdown. */
  scratchDir(): string;
  /** An absolute host path for a host-side operand (relative to the host's working directory). */
  hostPath(path: string): string;
  /** Runs one command given as words (for `try`); prints its errors; returns its status. */
  runWords(words: string[]): Promise<number>;
}

export interface CommandContext {
  /** The full name as typed ("ls", "snap diff"): the prefix of every error line. */
  readonly name: string;
  readonly shell: ShellState;
  readonly backends: ShellBackends;
  /** True when the output is a terminal (progress bars, columns). */
  readonly isTTY: boolean;
  readonly widthChars: number;
  print(line?: string): void;
  write(text: string): void;
  /** A non-fatal problem, printed as "NAME: message" on the error stream; the command goes on. */
  warn(message: string): void;
  /** Pretty JSON, for --json. */
  json(value: unknown): void;
  /** A progress bar for a transfer of totalBytes (drawn only on a terminal, for large ones). */
  progress(label: string, totalBytes: number): ProgressBar;
  /**
   * Throws Interrupted if Ctrl-C was pressed since the command began. Call it between
   * chunks of a long command: it also gives the terminal a turn when the command has held
   * the thread for SHELL_HOST_TURN_MS (the deterministic kernel yields to the host only
   * every SCHEDULER_STEPS_PER_YIELD steps, and a command's own work between steps, such
   * as making random bytes, can make that seconds), so a Ctrl-C typed meanwhile is seen.
   */
  checkInterrupted(): Promise<void>;
  /** The filesystem, or NotAvailableError. */
  fs(): FsApi;
  /** An operand as an absolute Strata path (relative to the current directory). */
  path(operand: string): string;
}

export class CommandTable {
  private readonly byName = new Map<string, CommandSpec>();

  constructor(specs: CommandSpec[]) {
    for (const s of specs) this.add(s);
  }

  add(spec: CommandSpec): void {
    if (this.byName.has(spec.name)) throw new Error(`command '${spec.name}' is defined twice`);
    if (!spec.run && !spec.subcommands?.length) throw new Error(`command '${spec.name}' has neither run nor subcommands`);
    this.byName.set(spec.name, spec);
  }

  get(name: string): CommandSpec | undefined {
    return this.byName.get(name);
  }

  all(): CommandSpec[] {
    return [...this.byName.values()];
  }

  names(): string[] {
    return [...this.byName.keys()].sort();
  }
}

/** Descends into subcommands: ["snap", "diff", "a"] -> {spec: snap diff, name: "snap diff", rest: ["a"]}. */
export function resolveSubcommand(spec: CommandSpec, words: string[]): { spec: CommandSpec; name: string; rest: string[] } {
  let name = spec.name;
  let rest = words;
  while (spec.subcommands?.length && rest.length && !rest[0].startsWith('-')) {
    const sub = spec.subcommands.find((s) => s.name === rest[0]);
    if (!sub) throw new ShellUsageError(`unknown subcommand '${rest[0]}' (have: ${spec.subcommands.map((s) => s.name).join(', ')})`);
    spec = sub;
    name = `${name} ${sub.name}`;
    rest = rest.slice(1);
  }
  return { spec, name, rest };
}

export function usageLine(name: string, spec: CommandSpec): string {
  return `${name}${spec.usage ? ' ' + spec.usage : ''}`;
}

/** Parses operands and flags by the spec; throws ShellUsageError naming the problem. */
export function parseOperands(spec: CommandSpec, words: string[]): Parsed {
  const flags: Record<string, string | true> = {};
  const args: string[] = [];
  const specs = spec.flags ?? {};
  const byShort = new Map<string, string>();
  for (const [long, f] of Object.entries(specs)) if (f.short) byShort.set(f.short, long);
  let onlyOperands = false;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (onlyOperands || w === '-' || !w.startsWith('-')) {
      args.push(w);
    } else if (w === '--') {
      onlyOperands = true;
    } else if (w.startsWith('--')) {
      const eq = w.indexOf('=');
      const long = w.slice(2, eq < 0 ? undefined : eq);
      const f = specs[long];
      if (!f) throw new ShellUsageError(`unknown option --${long}`);
      if (!f.value) {
        if (eq >= 0) throw new ShellUsageError(`--${long} takes no value`);
        flags[long] = true;
      } else {
        const v = eq >= 0 ? w.slice(eq + 1) : words[++i];
        if (v === undefined) throw new ShellUsageError(`--${long} needs a value (${f.value})`);
        flags[long] = v;
      }
    } else {
      for (let j = 1; j < w.length; j++) {
        const long = byShort.get(w[j]);
        if (!long) throw new ShellUsageError(`unknown option -${w[j]}`);
        const f = specs[long];
        if (!f.value) {
          flags[long] = true;
          continue;
        }
        const v = j + 1 < w.length ? w.slice(j + 1) : words[++i];
        if (v === undefined) throw new ShellUsageError(`-${w[j]} needs a value (${f.value})`);
        flags[long] = v;
        break;
      }
    }
  }
  const [min, max] = spec.operands ?? [0, 0];
  if (args.length < min) throw new ShellUsageError(min === 1 && max === 1 ? 'missing operand' : `needs at least ${min} operand${min === 1 ? '' : 's'}`);
  if (args.length > max) throw new ShellUsageError(max === 0 ? `takes no operands (got '${args[0]}')` : `too many operands (at most ${max})`);
  return {
    args,
    flags,
    has: (flag) => flags[flag] !== undefined,
    value: (flag) => {
      const v = flags[flag];
      return typeof v === 'string' ? v : undefined;
    },
  };
}

/** Parses a count operand: a non-negative integer no larger than max. */
export function parseCount(text: string, what: string, max: number): number {
  if (!/^\d+$/.test(text)) throw new ShellUsageError(`${what} must be a whole number, got '${text}'`);
  const n = Number(text);
  if (n > max) throw new ShellUsageError(`${what} must be at most ${max}, got ${n}`);
  return n;
}

/** Parses a size like 4096, 64K, 1.5M, 2G (binary units; B, KiB, MB all accepted). */
export function parseSizeBytes(text: string, what = 'size'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGTP]?)(i?B)?$/i.exec(text.trim());
  if (!m) throw new ShellUsageError(`${what} '${text}' is not a size (examples: 4096, 64K, 1.5M, 2G)`);
  const mult = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40, P: 2 ** 50 }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G' | 'T' | 'P'];
  const n = Math.round(Number(m[1]) * mult);
  if (!Number.isSafeInteger(n)) throw new ShellUsageError(`${what} '${text}' is too large`);
  return n;
}
