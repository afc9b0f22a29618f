/**
 * `strata boot <image> [--script FILE] [--selftest] [--trace] [--create] [--isolated]`:
 * powers on the machine with the image on its virtio-blk device, starts the kernel and
 * the services in dependency order, prints the boot log, and opens the service shell (or
 * runs a script and exits with its status; or, with --selftest, runs the boot self-test
 * and shuts down). --isolated runs every service in its own worker thread
 * (tools/system-isolated.ts); the shell then has `kill SERVICE`, and `ps` shows threads,
 * restarts and heartbeats.
 */
import fs from 'node:fs';
import { FileBackend } from '../../kernel/machine/disk/file.ts';
import { formatTraceEntry } from '../../kernel/trace.ts';
import { bootSystem } from '../system.ts';
import { bootIsolatedSystem, type IsolatedStackSystem } from '../system-isolated.ts';
import { runSelftest } from './selftest.ts';
import { createImage, IMAGE_SIZE_BYTES_DEFAULT } from './mkimage.ts';
import { helpText, parseArgs, parseSize, UsageError, type OptionSpec } from './args.ts';
import { bootShell, runShell, ShellHost, SHELL_ENDPOINTS, type BootFn, type BootShellOptions } from '../shell/index.ts';
import { readScript, seedOption } from './shell.ts';

const spec: Record<string, OptionSpec> = {
  script: { value: true, help: 'run this shell script instead of the prompt; exit with its status' },
  selftest: { help: 'instead of the shell: write, flush and read back a pattern in freshly allocated blocks (freed afterwards)' },
  trace: { help: 'print every message and interrupt as it happens, and per-endpoint counters at the end' },
  create: { help: 'create the image first if it does not exist' },
  size: { value: true, help: 'size for --create (default 1G)' },
  seed: { value: true, help: 'scheduler seed (default 1): the same seed replays the same run' },
  isolated: { help: 'each service in its own worker thread (real clock); the shell gains `kill SERVICE`' },
  help: { help: 'show this help' },
};

export const bootHelp = helpText(
  'strata boot <image> [--script FILE | --selftest] [--trace] [--create [--size N]] [--seed N] [--isolated]',
  'Boot the machine with <image> as its virtio-blk disk, print the boot log and open the\n' +
    'service shell (exit or Ctrl-C shuts down cleanly: sync, then every service stops).',
  spec,
);

export async function bootCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, spec);
  if (args.options.help) return console.log(bootHelp), 0;
  if (args.positionals.length !== 1) throw new UsageError('boot takes one image path');
  const imagePath = args.positionals[0];
  if (!fs.existsSync(imagePath)) {
    if (!args.options.create) throw new UsageError(`${imagePath} does not exist (create it with 'strata mkimage' or pass --create)`);
    const sizeBytes = args.options.size ? parseSize(String(args.options.size)) : IMAGE_SIZE_BYTES_DEFAULT;
    await createImage(imagePath, sizeBytes);
    console.log(`created ${imagePath} (${sizeBytes} bytes, sparse)`);
  }
  const seed = seedOption(args.options.seed);
  const trace = args.options.trace === true;
  const isolated = args.options.isolated === true;
  if (!args.options.selftest) {
    const script = args.options.script === undefined ? undefined : readScript(String(args.options.script));
    const options: BootShellOptions = { seed, trace, script: script?.text, scriptName: script?.name, signals: true };
    return isolated ? bootIsolatedShell(imagePath, options) : bootShell(imagePath, options);
  }
  if (args.options.script) throw new UsageError('--script and --selftest do not go together');
  const boot = isolated ? bootIsolatedSystem : bootSystem;
  const sys = await boot({ disk: FileBackend.open(imagePath), seed, trace, log: (l) => console.log(l) });
  if (trace) sys.kernel.trace.sink = (e) => console.log(`trace ${formatTraceEntry(e)}`);
  let ok = true;
  try {
    const result = await runSelftest(sys, seed);
    for (const line of result.lines) console.log(line);
    ok = result.ok;
  } finally {
    if (trace) {
      for (const [endpoint, c] of sys.kernel.endpointCounters()) {
        console.log(`ipc ${endpoint}: ${c.messages} messages, ${c.bytes} bytes, ${c.errors} errors, ${c.refused} refused`);
      }
    }
    await sys.shutdown();
    console.log('shutdown: services stopped, disk flushed and closed');
  }
  return ok ? 0 : 1;
}

/**
 * The ShellHost's boot function in the isolated mode: bootIsolatedSystem, with the
 * shell's endpoints. A crash abandons the old system's workers (no stop() runs: the
 * power is off) before the new system boots on the same disk; after a clean reboot the
 * old one is shut down already and abandoning it does nothing.
 */
export function isolatedShellBoot(seed = 1): BootFn {
  let last: IsolatedStackSystem | undefined;
  return async (disk, log) => {
    await last?.abandon();
    last = await bootIsolatedSystem({ disk, seed, log, userCalls: SHELL_ENDPOINTS });
    return last;
  };
}

/** bootShell in the isolated mode: the same ShellHost (so `reboot` and `crash` work) over isolatedShellBoot. */
export async function bootIsolatedShell(imagePath: string, options: BootShellOptions = {}): Promise<number> {
  if (!fs.existsSync(imagePath)) throw new UsageError(`${imagePath} does not exist (create it with 'strata mkimage' or pass --create)`);
  const output = options.output ?? process.stdout;
  const host = await ShellHost.start({
    disk: FileBackend.open(imagePath),
    imagePath,
    log: options.log ?? ((l) => void output.write(l + '\n')),
    boot: isolatedShellBoot(options.seed),
  });
  return runShell(host, options);
}
