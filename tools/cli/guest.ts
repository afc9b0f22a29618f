/**
 * `strata guest [IMAGE] [--script FILE] [--snapshot-state]`: boots Strata on IMAGE, then
 * a real Linux guest in v86 that mounts Strata over 9P2000.L at /mnt/strata (and, with
 * --disk, sees a block-service extent as /dev/sda). Without --script the terminal is
 * attached to the guest's serial console (Ctrl-] leaves); with --script (or commands on a
 * non-terminal stdin) the script runs in the guest and its exit status is the command's.
 *
 * The guest is built from Debian packages on first use (tools/guest/build.ts, needs apt);
 * --snapshot-state saves the booted machine once and restores it on later runs (about a
 * second instead of a boot).
 */
import fs from 'node:fs';
import path from 'node:path';
import { FileBackend } from '../../kernel/machine/disk/file.ts';
import { AptError } from '../guest/debian.ts';
import { ensureGuestArtefacts, GUEST_DIR_DEFAULT } from '../guest/build.ts';
import { allocateGuestDisk, startGuest, type GuestHost } from '../guest/host.ts';
import { bootStrataForGuest } from '../guest/strata.ts';
import { COMMAND_CHARS_MAX, type GuestVm } from '../guest/vm.ts';
import { createImage, IMAGE_SIZE_BYTES_DEFAULT } from './mkimage.ts';
import { helpText, parseArgs, parseSize, UsageError, type OptionSpec } from './args.ts';

const IMAGE_DEFAULT = 'images/strata.img';
const DETACH_BYTE = 0x1d; // Ctrl-]
const SCRIPT_PATH_IN_GUEST = '/tmp/strata-script.sh';

const spec: Record<string, OptionSpec> = {
  script: { value: true, help: 'run this file of shell commands in the guest and exit with its status' },
  'snapshot-state': { help: 'save the booted guest once (images/guest/state) and restore it on later runs' },
  disk: { value: true, help: 'give the guest an IDE disk of this size, allocated in the image for this session (e.g. 64M)' },
  create: { help: 'create the image first if it does not exist' },
  size: { value: true, help: 'size for --create (default 1G)' },
  memory: { value: true, help: 'guest memory (default 256M)' },
  verbose: { help: 'print the boot logs of Strata and of the guest' },
  help: { help: 'show this help' },
};

export const guestHelp = helpText(
  'strata guest [IMAGE] [--script FILE] [--snapshot-state] [--disk SIZE] [--create [--size N]] [--memory N] [--verbose]',
  `Boot Strata on IMAGE (default ${IMAGE_DEFAULT}) and a Linux guest (Debian i386 kernel, busybox) in v86 that\n` +
    'mounts it over 9P2000.L at /mnt/strata. Attaches the terminal to the guest console (Ctrl-] quits), or runs\n' +
    'a script of guest commands and exits with its status.',
  spec,
);

export async function guestCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, spec);
  if (args.options.help) return console.log(guestHelp), 0;
  if (args.positionals.length > 1) throw new UsageError('guest takes at most one image path');
  const imagePath = args.positionals[0] ?? IMAGE_DEFAULT;
  const scriptPath = args.options.script as string | undefined;
  let script: string | undefined;
  if (scriptPath !== undefined) {
    if (!fs.existsSync(scriptPath)) throw new UsageError(`script ${scriptPath} does not exist`);
    script = fs.readFileSync(scriptPath, 'utf8');
  } else if (!process.stdin.isTTY) script = fs.readFileSync(0, 'utf8');
  if (script !== undefined) checkScript(script);
  const diskBytes = args.options.disk ? parseSize(String(args.options.disk)) : undefined;
  const memoryBytes = args.options.memory ? parseSize(String(args.options.memory)) : undefined;
  const verbose = args.options.verbose === true;
  if (!fs.existsSync(imagePath)) {
    if (!args.options.create) throw new UsageError(`${imagePath} does not exist (create it with 'strata mkimage' or pass --create)`);
    const sizeBytes = args.options.size ? parseSize(String(args.options.size)) : IMAGE_SIZE_BYTES_DEFAULT;
    await createImage(imagePath, sizeBytes);
    console.error(`created ${imagePath} (${sizeBytes} bytes, sparse)`);
  }

  let artefacts;
  try {
    artefacts = await ensureGuestArtefacts({ log: (l) => console.error(l) });
  } catch (e) {
    if (e instanceof AptError) {
      console.error(`strata guest: cannot build the Linux guest: ${e.message}`);
      return 1;
    }
    throw e;
  }
  const strata = await bootStrataForGuest({ disk: FileBackend.open(imagePath), log: verbose ? (l) => console.error(l) : undefined });
  console.error(`strata guest: Strata up on ${imagePath}`);
  let host: GuestHost | undefined;
  let extent;
  // The console is mirrored from the moment the terminal is attached (or always, with
  // --verbose), so the scripted setup before it is not shown.
  const mirror = { live: verbose };
  try {
    if (diskBytes !== undefined) extent = await allocateGuestDisk(strata.block, diskBytes);
    host = await startGuest({
      kernel: strata.sys.kernel,
      artefacts,
      filesystem: 'strata',
      disk: extent ? { extent } : undefined,
      memorySizeBytes: memoryBytes,
      stateDir: args.options['snapshot-state'] ? path.join(GUEST_DIR_DEFAULT, 'state') : undefined,
      interactive: script === undefined,
      onOutput: (t) => void (mirror.live && process.stdout.write(t)),
      log: (l) => console.error(l),
    });
    console.error(`strata guest: Linux ${host.start} in ${(host.vm.bootMs / 1000).toFixed(1)} s; Strata is at /mnt/strata${extent ? ', the disk at /dev/sda' : ''}`);
    if (script !== undefined) return await runScript(host.vm, script);
    mirror.live = true;
    return await attach(host.vm);
  } finally {
    await host?.stop();
    if (extent) await strata.block.free([extent]).catch((e: Error) => console.error(`strata guest: freeing the disk: ${e.message}`));
    await strata.close();
  }
}

function checkScript(script: string): void {
  const long = script.split('\n').findIndex((line) => line.length > COMMAND_CHARS_MAX - 100);
  if (long >= 0) throw new UsageError(`script line ${long + 1} is longer than ${COMMAND_CHARS_MAX - 100} characters (the guest tty's line limit)`);
  if (script.includes('STRATA_SCRIPT_END')) throw new UsageError('the script may not contain the word STRATA_SCRIPT_END');
}

/** Copies the script into the guest's tmpfs in pieces that fit its tty, then runs it with sh. */
async function runScript(vm: GuestVm, script: string): Promise<number> {
  await vm.sh(`: > ${SCRIPT_PATH_IN_GUEST}`);
  let piece: string[] = [];
  let size = 0;
  const flush = async () => {
    if (!piece.length) return;
    await vm.sh(`cat >> ${SCRIPT_PATH_IN_GUEST} <<'STRATA_SCRIPT_END'\n${piece.join('\n')}\nSTRATA_SCRIPT_END`);
    piece = [];
    size = 0;
  };
  for (const line of script.replace(/\n$/, '').split('\n')) {
    if (size + line.length + 1 > COMMAND_CHARS_MAX - 200) await flush();
    piece.push(line);
    size += line.length + 1;
  }
  await flush();
  const r = await vm.run(`sh ${SCRIPT_PATH_IN_GUEST}`);
  process.stdout.write(r.output);
  return r.status;
}

/** Raw terminal <-> guest serial console until Ctrl-] or the guest's shell exits. */
async function attach(vm: GuestVm): Promise<number> {
  console.error('strata guest: attached to the guest console; Ctrl-] quits');
  vm.type('\n'); // a fresh prompt
  const stdin = process.stdin;
  if (stdin.isTTY) stdin.setRawMode(true);
  stdin.resume();
  try {
    await new Promise<void>((resolve) => {
      const onData = (chunk: Buffer) => {
        if (chunk.includes(DETACH_BYTE)) {
          stdin.off('data', onData);
          resolve();
          return;
        }
        vm.type(chunk.toString('latin1'));
      };
      stdin.on('data', onData);
      vm.waitFor((t) => t.includes('strata-guest: shell exited'), 2 ** 31 - 1, 'the guest shell to exit').then(() => {
        stdin.off('data', onData);
        resolve();
      });
    });
  } finally {
    if (stdin.isTTY) stdin.setRawMode(false);
    stdin.pause();
  }
  console.error('\nstrata guest: detached; stopping the guest and Strata');
  return 0;
}
