/**
 * The guest benchmark: the same Linux guest, in the same run, once on v86's own built-in
 * 9P filesystem (in JS memory, the baseline) and once on Strata through our 9P server
 * (persistent, crash-consistent), measuring:
 *   - boot time to the shell prompt (emulator creation to the ready line, host time);
 *   - dd write of a file of random bytes from the guest's tmpfs (bs=1M, then sync);
 *   - dd read of it back to /dev/null (the mount uses cache=none: every byte crosses 9P);
 *   - busybox tar -x of an archive of many small files.
 * Times are host wall-clock times of the guest command minus the round trip of an empty
 * command, so serial-console overhead is not charged to the filesystem. Both mounts use
 * the same options (version=9p2000.L, msize 512 KiB, cache=none).
 *
 * The inputs (the random source file and the tar archive: directories t/d0..d19 holding
 * files f<i> of "file <i>\n") are made on the host and staged on each filesystem before
 * the guest copies them into its tmpfs, untimed: making them in a busybox loop under
 * emulation took longer than the measurements. The two guests run one after the other.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { FileBackend } from '../../kernel/machine/disk/file.ts';
import { FsClient, IO_SIZE_BYTES_MAX, ROOT_INO } from '../../services/fs/protocol.ts';
import type { BenchRow } from '../bench/report.ts';
import { createImage } from '../cli/mkimage.ts';
import { ensureGuestArtefacts } from './build.ts';
import { startGuest, type GuestHost } from './host.ts';
import { bootStrataForGuest } from './strata.ts';
import { writeTar, type TarEntry } from './tar.ts';
import type { GuestVm } from './vm.ts';

/** Room for the 100 MiB source and the archive in the guest's tmpfs (half of memory). */
const GUEST_MEMORY_BYTES = 512 * 2 ** 20;
/** --quick: a 16 MiB source needs less room. */
const GUEST_MEMORY_BYTES_QUICK = 256 * 2 ** 20;
const COMMAND_TIMEOUT_MS = 1_800_000;
const TREE_DIRS = 20;
/** Names of the staged inputs in the root of each filesystem (removed before measuring). */
const STAGED_SOURCE = 'bench-source';
const STAGED_TREE = 'bench-tree.tar';

interface GuestFigures {
  bootS: number;
  writeMBps: number;
  readMBps: number;
  tarS: number;
}

async function timed(vm: GuestVm, command: string, emptyMs: number): Promise<number> {
  const t0 = performance.now();
  await vm.sh(command, { timeoutMs: COMMAND_TIMEOUT_MS });
  return Math.max(1, performance.now() - t0 - emptyMs);
}

/** The benchmark's inputs, made once on the host and given to both guests. */
interface Inputs {
  source: Uint8Array;
  tree: Uint8Array;
}

function makeInputs(sizeMiB: number, files: number): Inputs {
  const entries: TarEntry[] = [{ type: 'dir', name: 't' }];
  for (let d = 0; d < TREE_DIRS; d++) entries.push({ type: 'dir', name: `t/d${d}` });
  const encoder = new TextEncoder();
  for (let i = 0; i < files; i++) entries.push({ type: 'file', name: `t/d${i % TREE_DIRS}/f${i}`, data: encoder.encode(`file ${i}\n`) });
  return { source: randomBytes(sizeMiB * 2 ** 20), tree: writeTar(entries, Math.floor(Date.now() / 1000)) };
}

/** Writes one file into the root of Strata's filesystem through the fs protocol. */
async function stageOnStrata(fsClient: FsClient, name: string, data: Uint8Array): Promise<void> {
  const { handle } = await fsClient.create(ROOT_INO, name, 0o644, { read: true, write: true, truncate: true });
  try {
    for (let at = 0; at < data.length; at += IO_SIZE_BYTES_MAX) await fsClient.write(handle, at, data.subarray(at, Math.min(data.length, at + IO_SIZE_BYTES_MAX)));
  } finally {
    await fsClient.close(handle);
  }
}

/** Copies the staged inputs from the 9P mount into the guest's tmpfs and removes them from the mount. */
async function fetchInputs(vm: GuestVm): Promise<void> {
  await vm.sh(`cp /mnt/strata/${STAGED_SOURCE} /tmp/src && cp /mnt/strata/${STAGED_TREE} /tmp/tree.tar && rm /mnt/strata/${STAGED_SOURCE} /mnt/strata/${STAGED_TREE}`, {
    timeoutMs: COMMAND_TIMEOUT_MS,
  });
}

async function measure(host: GuestHost, sizeMiB: number, files: number): Promise<GuestFigures> {
  const vm = host.vm;
  await fetchInputs(vm);
  let emptyMs = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await vm.sh('true');
    emptyMs = Math.min(emptyMs, performance.now() - t0);
  }
  const bytes = sizeMiB * 2 ** 20;
  const writeMs = await timed(vm, 'dd if=/tmp/src of=/mnt/strata/ddfile bs=1M 2>/dev/null && sync', emptyMs);
  const readMs = await timed(vm, 'dd if=/mnt/strata/ddfile of=/dev/null bs=1M 2>/dev/null', emptyMs);
  // The bytes read back must be the bytes written, or the figures mean nothing.
  const sums = await vm.sh('sha256sum /tmp/src /mnt/strata/ddfile | cut -d" " -f1 | uniq | wc -l');
  if (sums.trim() !== '1') throw new Error('guest bench: the file read back differs from the file written');
  const tarMs = await timed(vm, 'mkdir -p /mnt/strata/untar && tar -xf /tmp/tree.tar -C /mnt/strata/untar', emptyMs);
  const count = (await vm.sh('find /mnt/strata/untar/t -type f | wc -l')).trim();
  if (count !== String(files)) throw new Error(`guest bench: tar extracted ${count} files of ${files}`);
  return { bootS: host.vm.bootMs / 1000, writeMBps: bytes / 1e6 / (writeMs / 1000), readMBps: bytes / 1e6 / (readMs / 1000), tarS: tarMs / 1000 };
}

export async function benchGuest(opts: { dir: string; quick: boolean }): Promise<BenchRow[]> {
  const sizeMiB = opts.quick ? 16 : 100;
  const files = opts.quick ? 100 : 3000;
  const artefacts = await ensureGuestArtefacts({ log: (l) => console.error(l) });
  const inputs = makeInputs(sizeMiB, files);
  const memorySizeBytes = opts.quick ? GUEST_MEMORY_BYTES_QUICK : GUEST_MEMORY_BYTES;

  const builtin = await startGuest({ artefacts, filesystem: 'builtin', memorySizeBytes });
  let base: GuestFigures;
  try {
    await builtin.vm.emulator.create_file(`/${STAGED_SOURCE}`, inputs.source);
    await builtin.vm.emulator.create_file(`/${STAGED_TREE}`, inputs.tree);
    base = await measure(builtin, sizeMiB, files);
  } finally {
    await builtin.stop();
  }

  const imagePath = path.join(opts.dir, 'guest-bench.img');
  await createImage(imagePath, (opts.quick ? 256 : 1024) * 2 ** 20, true);
  const strata = await bootStrataForGuest({ disk: FileBackend.open(imagePath) });
  let ours: GuestFigures;
  try {
    await stageOnStrata(strata.fs, STAGED_SOURCE, inputs.source);
    await stageOnStrata(strata.fs, STAGED_TREE, inputs.tree);
    const guest = await startGuest({ kernel: strata.sys.kernel, artefacts, filesystem: 'strata', memorySizeBytes });
    try {
      ours = await measure(guest, sizeMiB, files);
    } finally {
      await guest.stop();
    }
  } finally {
    await strata.close();
    fs.rmSync(imagePath, { force: true });
  }

  const baseline = (value: number) => ({ name: "v86's built-in 9P (in memory)", value });
  const note = 'Strata: the whole stack on a file image (fs, content store, Axiom, block service, virtio-blk)';
  return [
    { group: 'guest', name: 'Linux boot to shell', unit: 's', value: ours.bootS, baseline: baseline(base.bootS), lowerIsBetter: true },
    { group: 'guest', name: `guest dd write ${sizeMiB} MiB over 9P (bs=1M, sync)`, unit: 'MB/s', value: ours.writeMBps, baseline: baseline(base.writeMBps), note },
    { group: 'guest', name: `guest dd read ${sizeMiB} MiB over 9P (bs=1M, cache=none)`, unit: 'MB/s', value: ours.readMBps, baseline: baseline(base.readMBps), note },
    { group: 'guest', name: `guest tar -x of ${files} small files over 9P`, unit: 's', value: ours.tarS, baseline: baseline(base.tarS), lowerIsBetter: true, note },
  ];
}
