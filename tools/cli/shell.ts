/**
 * `strata shell <image> [--script FILE] [--seed N] [--create [--size N]] [--trace] [--isolated]`:
 * boots the image, prints the boot log and opens the service shell (or runs a script
 * and exits with its status). Exit and Ctrl-C shut the system down cleanly. With
 * --isolated it is `strata boot --isolated` (every service in its own worker thread).
 */
import fs from 'node:fs';
import path from 'node:path';
import { bootShell } from '../shell/index.ts';
import { helpText, parseArgs, parseSize, UsageError, type OptionSpec } from './args.ts';

const spec: Record<string, OptionSpec> = {
  script: { value: true, help: 'run this script instead of the prompt; exit with its status' },
  seed: { value: true, help: 'scheduler seed (default 1)' },
  create: { help: 'create the image first if it does not exist' },
  size: { value: true, help: 'size for --create (default 1G)' },
  trace: { help: 'start with trace on' },
  isolated: { help: 'each service in its own worker thread (real clock); the shell gains `kill SERVICE`' },
  help: { help: 'show this help' },
};

export const shellHelp = helpText(
  'strata shell <image> [--script FILE] [--seed N] [--create [--size N]] [--trace] [--isolated]',
  'Boot <image> and open the service shell (help inside lists its commands).\n' +
    'History is kept in .strata_history beside the image ($STRATA_HISTORY overrides; empty: none).',
  spec,
);

/** The seed option: a non-negative integer (default 1). */
export function seedOption(value: string | boolean | undefined): number {
  const seed = value === undefined ? 1 : Number(value);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new UsageError('--seed must be a non-negative integer');
  return seed;
}

/** Reads a script file, with a usage error (not a stack) if it cannot be read. */
export function readScript(file: string): { text: string; name: string } {
  try {
    return { text: fs.readFileSync(file, 'utf8'), name: path.basename(file) };
  } catch (e) {
    throw new UsageError(`cannot read script ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export async function shellCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, spec);
  if (args.options.help) return console.log(shellHelp), 0;
  if (args.positionals.length !== 1) throw new UsageError('shell takes one image path');
  if (args.options.isolated === true) return (await import('./boot.ts')).bootCommand(argv); // the same shell, booted isolated
  const script = args.options.script === undefined ? undefined : readScript(String(args.options.script));
  return bootShell(args.positionals[0], {
    seed: seedOption(args.options.seed),
    create: args.options.create === true,
    sizeBytes: args.options.size === undefined ? undefined : parseSize(String(args.options.size)),
    trace: args.options.trace === true,
    script: script?.text,
    scriptName: script?.name,
    signals: true,
  });
}
