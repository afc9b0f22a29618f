/**
 * `strata boot <image> [--selftest] [--trace] [--create]`: powers on the machine with the
 * image on its virtio-blk device, starts the kernel and the services, prints the boot
 * log, and (until the service shell exists) runs the boot self-test and shuts down.
 */
import fs from 'node:fs';
import { FileBackend } from '../../kernel/machine/disk/file.ts';
import { formatTraceEntry } from '../../kernel/trace.ts';
import { bootSystem } from '../system.ts';
import { runSelftest } from './selftest.ts';
import { createImage, IMAGE_SIZE_BYTES_DEFAULT } from './mkimage.ts';
import { helpText, parseArgs, parseSize, UsageError, type OptionSpec } from './args.ts';

const spec: Record<string, OptionSpec> = {
  selftest: { help: 'write, flush and read back a pattern in a scratch area (restored afterwards)' },
  trace: { help: 'print every message and interrupt as it happens, and per-endpoint counters at the end' },
  create: { help: 'create the image first if it does not exist' },
  size: { value: true, help: 'size for --create (default 1G)' },
  seed: { value: true, help: 'scheduler seed (default 1): the same seed replays the same run' },
  help: { help: 'show this help' },
};

export const bootHelp = helpText(
  'strata boot <image> [--selftest] [--trace] [--create [--size N]] [--seed N]',
  'Boot the machine with <image> as its virtio-blk disk and print the boot log.\n' +
    'Until the service shell exists, boot runs the self-test and shuts down cleanly.',
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
  const seed = args.options.seed === undefined ? 1 : Number(args.options.seed);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new UsageError(`--seed must be a non-negative integer`);
  const trace = args.options.trace === true;
  const sys = await bootSystem({ disk: FileBackend.open(imagePath), seed, trace, log: (l) => console.log(l) });
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
