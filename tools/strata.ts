/**
 * `strata`: the command line. One subcommand per file in tools/cli; each has --help.
 * A user mistake prints a one-line error and the usage, never a stack trace (exit 2);
 * anything else is a bug and prints its stack (exit 70).
 */
import { UsageError } from './cli/args.ts';
import { mkimageCommand, mkimageHelp } from './cli/mkimage.ts';
import { bootCommand, bootHelp } from './cli/boot.ts';
import { benchCommand, benchHelp } from './cli/bench.ts';
import { inspectCommand, inspectHelp } from './cli/inspect.ts';
import { shellCommand, shellHelp } from './cli/shell.ts';
import { runCommand, runHelp } from './cli/run.ts';
import { guestCommand, guestHelp } from './cli/guest.ts';
import { crashtestCommand, crashtestHelp } from './cli/crashtest.ts';
import { fsckCommand, fsckHelp } from './cli/fsck.ts';

interface Command {
  summary: string;
  help: string;
  run(argv: string[]): Promise<number>;
}

const commands: Record<string, Command> = {
  mkimage: { summary: 'create a sparse raw disk image', help: mkimageHelp, run: mkimageCommand },
  boot: { summary: 'boot an image: boot log, then the service shell (or --script FILE, or --selftest)', help: bootHelp, run: bootCommand },
  shell: { summary: 'boot an image and open the service shell', help: shellHelp, run: shellCommand },
  run: { summary: "run shell commands on an image (-c 'cmd; cmd' | --script FILE)", help: runHelp, run: runCommand },
  guest: { summary: 'boot a Linux guest in v86 that mounts Strata over 9P', help: guestHelp, run: guestCommand },
  inspect: { summary: "print an image's on-disk structures (superblock, bitmap, journal, axiom, chunk HASH, path PATH)", help: inspectHelp, run: inspectCommand },
  fsck: { summary: 'check an image offline (and --repair it): superblocks, bitmap, Axiom chain, chunks, refcounts, namespace, snapshots', help: fsckHelp, run: fsckCommand },
  crashtest: { summary: 'crash-test the stack: record a workload, recover every crash state, check the contract', help: crashtestHelp, run: crashtestCommand },
  bench: { summary: 'run the benchmarks: a table and JSON, raw baselines side by side', help: benchHelp, run: benchCommand },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return [
    'usage: strata <command> [options]    (strata <command> --help for details)',
    '',
    'commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width + 2)}${c.summary}`),
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    if (name === 'help' && rest[0] && commands[rest[0]]) console.log(commands[rest[0]].help);
    else console.log(usage());
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    console.error(`strata: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`strata ${name}: ${e.message}\n(see 'strata ${name} --help')`);
      return 2;
    }
    if (e instanceof Error && 'code' in e && typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) {
      console.error(`strata ${name}: ${e.message}`);
      return 1;
    }
    console.error(e);
    return 70;
  }
}

process.exitCode = await main(process.argv.slice(2));
