/**
 * The shell's core: runs lines and scripts against a ShellHost, one command at a time.
 *
 * - runLine(text): every command on the line, like sh (a failure does not stop the
 *   next); returns the last status.
 * - runScript(text, name): stops at the first failing command and returns its status;
 *   every error line then carries "NAME:LINE: ". `exit N` stops with N.
 * - A command's errors are one line each ("ls: /x: No such file or directory (ENOENT)");
 *   a usage error adds the command's usage; an unknown command is status 127 with a
 *   suggestion; a bug in the shell is one "internal error" line, status 70, and the
 *   shell keeps running (STRATA_DEBUG=1 prints its stack).
 * - interrupt() (Ctrl-C) stops the running command at its next check (status 130).
 *
 * Statuses: 0 ok, 1 failed, 2 usage, 3 not available yet, 4 fsck found problems,
 * 70 internal error, 127 unknown command, 130 interrupted.
 */
import nodeFs from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';
import { formatTraceEntry } from '../../kernel/trace.ts';
import { need } from './backends.ts';
import type { ShellHost, ShutdownReport } from './host.ts';
import { parseOperands, resolveSubcommand, usageLine, type CommandContext, type CommandTable, type Parsed, type ShellState } from './command.ts';
import { RAW_OPERAND_COMMANDS } from './commands/builtins.ts';
import { CommandError, Interrupted, ShellUsageError, STATUS_INTERNAL, STATUS_UNKNOWN_COMMAND } from './errors.ts';
import { ProgressBar } from './format.ts';
import { OUTPUT_WIDTH_CHARS_DEFAULT, PROGRESS_THRESHOLD_BYTES, SCRIPT_LINES_MAX, SHELL_HOST_TURN_MS } from './limits.ts';
import { absolute } from './paths.ts';
import { defaultTable } from './table.ts';
import { tokenize, TokenizeError } from './tokenize.ts';

export interface ShellOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ShellOptions {
  output: ShellOutput;
  /** Where error lines go (default: output). */
  error?: ShellOutput;
  /** Base of relative host paths (default: process.cwd()). */
  hostCwd?: string;
  table?: CommandTable;
}

export class Shell implements ShellState {
  cwd = '/';
  readonly table: CommandTable;
  readonly history: string[] = [];
  tracing = false;
  lastStatus = 0;
  /** Set once `exit` ran: the status to leave with. */
  exitStatus: number | null = null;
  private running = false;
  private interruptedFlag = false;
  /** When the running command last let the host's event loop turn (checkInterrupted). */
  private hostTurnAtMs = 0;
  private scratch: string | null = null;
  private location = '';

  constructor(
    readonly host: ShellHost,
    private readonly options: ShellOptions,
  ) {
    this.table = options.table ?? defaultTable();
  }

  // ---- ShellState --------------------------------------------------------------------

  setTracing(on: boolean): void {
    this.tracing = on;
    const trace = this.host.system.kernel.trace;
    trace.enabled = on;
    trace.sink = on ? (e) => this.options.output.write(`trace ${formatTraceEntry(e)}\n`) : undefined;
  }

  requestExit(status: number): void {
    this.exitStatus = status;
  }

  scratchDir(): string {
    if (this.scratch === null) this.scratch = nodeFs.mkdtempSync(nodePath.join(os.tmpdir(), 'strata-shell-'));
    return this.scratch;
  }

  hostPath(path: string): string {
    return nodePath.resolve(this.options.hostCwd ?? process.cwd(), path);
  }

  /** $NAME for the tokenizer. */
  variable = (name: string): string | undefined => {
    if (name === 'TMP') return this.scratchDir();
    if (name === 'HOME') return os.homedir();
    if (name === 'PWD') return this.cwd;
    return undefined;
  };

  // ---- running -----------------------------------------------------------------------

  /** Ctrl-C: stops the running command at its next check. Returns false if none was running. */
  interrupt(): boolean {
    if (!this.running) return false;
    this.interruptedFlag = true;
    return true;
  }

  get busy(): boolean {
    return this.running;
  }

  private errorLine(text: string): void {
    (this.options.error ?? this.options.output).write(`${this.location}${text}\n`);
  }

  /** Runs every command on a line (interactive use); returns the last status. */
  async runLine(text: string): Promise<number> {
    let commands;
    try {
      commands = tokenize(text, { vars: this.variable });
    } catch (e) {
      if (!(e instanceof TokenizeError)) throw e;
      this.errorLine(`syntax error: ${e.message}`);
      return (this.lastStatus = 2);
    }
    for (const c of commands) {
      await this.runWords(c.words);
      if (this.exitStatus !== null) break;
    }
    return this.lastStatus;
  }

  /** Runs a script; stops at the first failure (its status) or at exit. */
  async runScript(text: string, name = 'script'): Promise<number> {
    const lineCount = text.split('\n').length;
    if (lineCount > SCRIPT_LINES_MAX) {
      this.errorLine(`${name}: ${lineCount} lines is more than ${SCRIPT_LINES_MAX}`);
      return 2;
    }
    let commands;
    try {
      commands = tokenize(text, { vars: this.variable });
    } catch (e) {
      if (!(e instanceof TokenizeError)) throw e;
      this.errorLine(`${name}:${e.line}: syntax error: ${e.message}`);
      return (this.lastStatus = 2);
    }
    for (const c of commands) {
      this.location = `${name}:${c.line}: `;
      let status: number;
      try {
        status = await this.runWords(c.words);
      } finally {
        this.location = '';
      }
      if (this.exitStatus !== null) return this.exitStatus;
      if (status !== 0) return status;
    }
    return 0;
  }

  /** Runs one command given as words; prints its errors; returns (and records) its status. */
  runWords = async (words: string[]): Promise<number> => {
    const status = await this.execute(words);
    this.lastStatus = status;
    return status;
  };

  private async execute(words: string[]): Promise<number> {
    const [first, ...rest] = words;
    const top = this.table.get(first);
    if (!top) {
      const hint = this.suggest(first);
      this.errorLine(`${first}: unknown command${hint ? ` (did you mean ${hint}?)` : ''}; help lists the commands`);
      return STATUS_UNKNOWN_COMMAND;
    }
    let name = first;
    let spec = top;
    const nested = this.running;
    try {
      const sub = resolveSubcommand(top, rest);
      ({ spec, name } = sub);
      if (!spec.run) throw new ShellUsageError(`needs a subcommand: ${spec.subcommands!.map((s) => s.name).join(', ')}`);
      const parsed: Parsed = RAW_OPERAND_COMMANDS.has(spec.name) && spec === top ? rawParsed(sub.rest) : parseOperands(spec, sub.rest);
      if (!nested) {
        this.running = true;
        this.interruptedFlag = false;
        this.hostTurnAtMs = performance.now();
      }
      const status = await spec.run(this.context(name), parsed);
      return status ?? 0;
    } catch (e) {
      if (e instanceof CommandError) {
        this.errorLine(`${name}: ${e.message}`);
        if (e instanceof ShellUsageError) this.errorLine(`usage: ${usageLine(name, spec)}`);
        return e.status;
      }
      const message = e instanceof Error ? e.message : String(e);
      this.errorLine(`${name}: internal error (a bug, not your mistake): ${message}`);
      if (process.env.STRATA_DEBUG && e instanceof Error && e.stack) this.errorLine(e.stack);
      return STATUS_INTERNAL;
    } finally {
      if (!nested) this.running = false;
    }
  }

  private context(name: string): CommandContext {
    const out = this.options.output;
    const shell = this;
    return {
      name,
      shell,
      get backends() {
        return shell.host.backends;
      },
      isTTY: out.isTTY === true,
      widthChars: out.columns ?? OUTPUT_WIDTH_CHARS_DEFAULT,
      print: (line = '') => void out.write(line + '\n'),
      write: (text) => void out.write(text),
      warn: (message) => this.errorLine(`${name}: ${message}`),
      json: (value) => void out.write(JSON.stringify(value, null, 2) + '\n'),
      progress: (label, totalBytes) => new ProgressBar(out, label, totalBytes, totalBytes >= PROGRESS_THRESHOLD_BYTES),
      checkInterrupted: async () => {
        if (performance.now() - this.hostTurnAtMs >= SHELL_HOST_TURN_MS) {
          await new Promise((resolve) => setImmediate(resolve));
          this.hostTurnAtMs = performance.now();
        }
        if (this.interruptedFlag) throw new Interrupted();
      },
      fs: () => need(this.host.backends, 'fs'),
      path: (operand) => absolute(this.cwd, operand),
    };
  }

  /** The known commands closest to a typo (edit distance 1, or 2 for longer words). */
  private suggest(word: string): string | undefined {
    const scored = this.table.names().map((n) => ({ n, d: editDistance(n, word) }));
    const best = Math.min(...scored.map((s) => s.d));
    if (best > Math.min(2, Math.max(1, word.length - 2))) return undefined;
    return scored.filter((s) => s.d === best).map((s) => `'${s.n}'`).join(' or ');
  }

  /** Clean stop: sync, stop every service, close the disk, remove $TMP. */
  async shutdown(): Promise<ShutdownReport> {
    try {
      return await this.host.shutdown();
    } finally {
      if (this.scratch !== null) nodeFs.rmSync(this.scratch, { recursive: true, force: true });
      this.scratch = null;
    }
  }
}

function rawParsed(args: string[]): Parsed {
  return { args, flags: {}, has: () => false, value: () => undefined };
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}
