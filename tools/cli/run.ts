/**
 * `strata run <image> -c 'CMD; CMD' | --script FILE [--seed N] [--verbose] [--isolated]`: boots the
 * image quietly, runs the commands as a script (stopping at the first failure), shuts
 * down cleanly, and exits with the script's status: 0, or the failing command's
 * (1 failed, 2 usage, 3 not available yet, 4 fsck found problems, 127 unknown command).
 * --isolated boots every service in its own worker thread (see boot.ts).
 */
import { bootShell, type BootShellOptions } from '../shell/index.ts';
import { bootIsolatedShell } from './boot.ts';
import { helpText, parseArgs, UsageError, type OptionSpec } from './args.ts';
import { readScript, seedOption } from './shell.ts';

const spec: Record<string, OptionSpec> = {
  command: { value: true, help: "commands to run, separated by ; or newlines (short form: -c 'CMDS')" },
  script: { value: true, help: 'a script file to run' },
  seed: { value: true, help: 'scheduler seed (default 1)' },
  verbose: { help: 'print the boot log and the shutdown line' },
  isolated: { help: 'each service in its own worker thread; the commands may `kill SERVICE`' },
  help: { help: 'show this help' },
};

export const runHelp = helpText(
  "strata run <image> (-c 'CMD; CMD' | --script FILE) [--seed N] [--verbose] [--isolated]",
  'Boot <image>, run shell commands, shut down cleanly; exit with the first failing status.',
  spec,
);

export async function runCommand(argv: string[]): Promise<number> {
  const args = parseArgs(
    argv.map((a) => (a === '-c' ? '--command' : a)),
    spec,
  );
  if (args.options.help) return console.log(runHelp), 0;
  if (args.positionals.length !== 1) throw new UsageError('run takes one image path');
  const hasCommand = args.options.command !== undefined;
  const hasScript = args.options.script !== undefined;
  if (hasCommand === hasScript) throw new UsageError("give either -c 'CMDS' or --script FILE");
  const script = hasScript ? readScript(String(args.options.script)) : { text: String(args.options.command), name: '-c' };
  const verbose = args.options.verbose === true;
  const options: BootShellOptions = {
    seed: seedOption(args.options.seed),
    script: script.text,
    scriptName: script.name,
    signals: true,
    announceShutdown: verbose,
    log: verbose ? (l) => console.log(l) : () => {},
  };
  return args.options.isolated === true ? bootIsolatedShell(args.positionals[0], options) : bootShell(args.positionals[0], options);
}
