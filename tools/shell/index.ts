/**
 * The service shell's public surface, for tools/cli (boot, shell, run) and tests:
 *
 *   runShell(host, {input, output, script?})   the prompt, or a script; then a clean
 *                                              shutdown; resolves with the exit status
 *   runScript(host, text, {name})              runShell with a script
 *   bootShell(image, {...})                    open an image, boot it, runShell
 *   openImageHost(image, {...})                just the booted host (ShellHost)
 *   ShellHost.start({disk, boot})              any disk and boot function (tests)
 *
 * Exit status: a script's is its first failing command's (see shell.ts for the codes),
 * or N from `exit N`; an interactive session's is 0, or N from `exit N`.
 * The history file is historyFileFor(image): $STRATA_HISTORY, else .strata_history
 * beside the image, else ~/.strata_history.
 */
import type { Readable } from 'node:stream';
import { historyFileFor } from './history.ts';
import type { ShellHost } from './host.ts';
import { openImageHost, type OpenImageOptions } from './image.ts';
import { runInteractive } from './repl.ts';
import { Shell, type ShellOutput } from './shell.ts';
import { STATUS_FAILED, STATUS_INTERRUPTED } from './errors.ts';

export { ShellHost, type BootFn, type BootReport, type ShellHostOptions, type ShutdownReport } from './host.ts';
export { Shell, type ShellOutput } from './shell.ts';
export { openImageHost, type OpenImageOptions } from './image.ts';
export { historyFileFor } from './history.ts';
export type { ShellBackends, ShellSystem, KernelView } from './backends.ts';
export { SHELL_ENDPOINTS, backendsFor } from './backends.ts';
export {
  STATUS_OK,
  STATUS_FAILED,
  STATUS_USAGE,
  STATUS_NOT_AVAILABLE,
  STATUS_INTERNAL,
  STATUS_UNKNOWN_COMMAND,
  STATUS_INTERRUPTED,
} from './errors.ts';
export { FSCK_STATUS_ERRORS_LEFT } from './commands/system.ts';
export { checkScript } from './check.ts';

export interface RunShellOptions {
  input?: Readable;
  output?: ShellOutput & NodeJS.WritableStream;
  /** Error lines (default: the output). */
  error?: ShellOutput;
  /** Run this script instead of a prompt; stops at the first failure. */
  script?: string;
  /** The script's name in error lines ("demo.strata:3: ..."). */
  scriptName?: string;
  /** undefined: historyFileFor(host.imagePath); null: none. */
  historyFile?: string | null;
  /** Base of relative host paths in put and get (default: process.cwd()). */
  hostCwd?: string;
  /** Start with `trace on`. */
  trace?: boolean;
  /** Handle SIGINT and SIGTERM: stop the running command, then shut down cleanly (the CLI). */
  signals?: boolean;
  /** Print a line when the shutdown is done (default true). */
  announceShutdown?: boolean;
}

export async function runShell(host: ShellHost, options: RunShellOptions = {}): Promise<number> {
  const output = options.output ?? process.stdout;
  const shell = new Shell(host, { output, error: options.error, hostCwd: options.hostCwd });
  // A signal stops the running command; a script then stops too, and a prompt leaves
  // after the current line (a terminal's Ctrl-C never gets here: readline takes it).
  const onSignal = () => {
    shell.interrupt();
    shell.requestExit(STATUS_INTERRUPTED);
  };
  if (options.signals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  let status = 0;
  try {
    if (options.trace) shell.setTracing(true);
    if (options.script !== undefined) status = await shell.runScript(options.script, options.scriptName);
    else {
      status = await runInteractive(shell, {
        input: options.input ?? process.stdin,
        output,
        historyFile: options.historyFile === undefined ? historyFileFor(host.imagePath) : options.historyFile,
        banner: `Strata shell${host.imagePath ? ` on ${host.imagePath}` : ''}. help lists the commands; exit, Ctrl-D or Ctrl-C shut down cleanly.`,
      });
    }
  } finally {
    if (options.signals) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    const report = await shell.shutdown();
    if (report.syncError !== undefined) {
      (options.error ?? output).write(`shutdown: the final sync failed: ${report.syncError}; services were still stopped and flushed\n`);
      if (status === 0) status = STATUS_FAILED;
    } else if (options.announceShutdown !== false) output.write('shutdown: filesystem synced, services stopped, disk flushed and closed\n');
  }
  return status;
}

/** Runs a script on a booted host (stopping at the first failure), then shuts down cleanly. */
export function runScript(host: ShellHost, text: string, options: Omit<RunShellOptions, 'script'> & { name?: string } = {}): Promise<number> {
  return runShell(host, { ...options, script: text, scriptName: options.name ?? options.scriptName });
}

export interface BootShellOptions extends RunShellOptions, Omit<OpenImageOptions, 'log'> {
  /** Boot-log lines (default: written to the output). */
  log?: (line: string) => void;
}

/** Opens and boots an image, prints the boot log, runs the prompt or the script, shuts down. */
export async function bootShell(imagePath: string, options: BootShellOptions = {}): Promise<number> {
  const output = options.output ?? process.stdout;
  const host = await openImageHost(imagePath, { seed: options.seed, create: options.create, sizeBytes: options.sizeBytes, log: options.log ?? ((l) => void output.write(l + '\n')) });
  return runShell(host, options);
}
