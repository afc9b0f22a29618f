/**
 * The interactive prompt: node:readline with history (history.ts), tab completion
 * (completion.ts) and Ctrl-C handling, over any input and output streams (a terminal,
 * a pipe, or a test's fake terminal).
 *
 * - The prompt shows the current directory: `strata:/docs> `.
 * - Lines run one at a time in the order typed; lines typed while a command runs wait.
 * - Ctrl-C while a command runs interrupts it (status 130) and the prompt comes back;
 *   at the prompt it clears a half-typed line, and on an empty line it leaves, as do
 *   Ctrl-D and `exit` (the caller then shuts the system down cleanly).
 * - Without a terminal (input piped in) there is no prompt and no line editing; every
 *   line runs, as in `sh < file`; the status is the last command's.
 */
import readline from 'node:readline';
import type { Readable } from 'node:stream';
import { complete } from './completion.ts';
import { History } from './history.ts';
import { HISTORY_LINES_MAX } from './limits.ts';
import type { Shell, ShellOutput } from './shell.ts';

export interface InteractiveOptions {
  input: Readable;
  output: ShellOutput & NodeJS.WritableStream;
  /** null: no history file. */
  historyFile: string | null;
  /** Printed once before the first prompt. */
  banner?: string;
}

export function promptFor(shell: Shell): string {
  return `strata:${shell.cwd}> `;
}

/** Runs the prompt until exit, Ctrl-D or Ctrl-C on an empty line; resolves with the status. */
export function runInteractive(shell: Shell, options: InteractiveOptions): Promise<number> {
  const history = new History(options.historyFile);
  shell.history.push(...history.lines);
  const terminal = options.output.isTTY === true && (options.input as { isTTY?: boolean }).isTTY === true;
  const rl = readline.createInterface({
    input: options.input,
    output: options.output,
    terminal,
    history: history.newestFirst(),
    historySize: HISTORY_LINES_MAX,
    removeHistoryDuplicates: true,
    completer: (line: string, callback: (err: Error | null, result: [string[], string]) => void) => {
      complete(shell, line).then(
        (r) => callback(null, r),
        () => callback(null, [[], line]),
      );
    },
    tabSize: 4,
  });
  let rlClosed = false;
  const prompt = () => {
    if (!terminal || rlClosed) return;
    rl.setPrompt(promptFor(shell));
    rl.prompt();
  };

  return new Promise((resolve) => {
    let queue = Promise.resolve();
    // Set by exit or Ctrl-C: lines still queued are dropped. The end of piped input is
    // not a request to leave early: the queued lines still run.
    let leaving = false;
    const leave = () => {
      if (leaving) return;
      leaving = true;
      rl.close();
    };
    rl.on('line', (line) => {
      queue = queue.then(async () => {
        if (leaving) return;
        history.add(line);
        if (line.trim() && !line.startsWith(' ') && shell.history[shell.history.length - 1] !== line) shell.history.push(line);
        await shell.runLine(line);
        if (shell.exitStatus !== null) leave();
        else prompt();
      });
    });
    rl.on('SIGINT', () => {
      if (shell.interrupt()) {
        options.output.write('^C\n');
        return;
      }
      options.output.write('^C\n');
      if (rl.line.length > 0) {
        // clear the half-typed line, as a shell does
        (rl as unknown as { line: string; cursor: number }).line = '';
        (rl as unknown as { cursor: number }).cursor = 0;
        prompt();
        return;
      }
      leave();
    });
    rl.on('close', () => {
      rlClosed = true;
      void queue.then(() => resolve(shell.exitStatus ?? (terminal ? 0 : shell.lastStatus)));
    });
    if (options.banner && terminal) options.output.write(options.banner + '\n');
    prompt();
  });
}
