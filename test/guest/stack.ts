// The host side for guest tests: the whole Strata stack (virtio-blk driver, block service,
// Axiom, content store, fs service) on a formatted in-memory disk with the real clock (the
// guest runs in real time), and a reboot of that stack on the same disk. Also builds the
// guest artefacts from Debian packages when they are missing.
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { ensureGuestArtefacts, type GuestArtefacts } from '../../tools/guest/build.ts';
import type { System } from '../../tools/system.ts';
import { bootFsStack, formatTestDisk, MiB } from '../helpers/stack.ts';

export interface GuestTestStack {
  sys: System;
  /** Shuts the whole stack down and boots it again on the same disk (recovery from disk). */
  reboot(): Promise<System>;
  close(): Promise<void>;
}

export async function guestArtefacts(): Promise<GuestArtefacts> {
  return ensureGuestArtefacts({ log: (line) => console.log(line) });
}

export async function guestTestStack(options: { diskBytes?: number } = {}): Promise<GuestTestStack> {
  const disk = await formatTestDisk(new MemoryBackend(options.diskBytes ?? 512 * MiB));
  const boot = () => bootFsStack(disk, { clock: 'real', memorySizeBytes: 256 * MiB });
  const stack: GuestTestStack = {
    sys: await boot(),
    reboot: async () => {
      await stack.sys.shutdown();
      stack.sys = await boot();
      return stack.sys;
    },
    close: async () => {
      await stack.sys.shutdown();
      disk.close();
    },
  };
  return stack;
}
