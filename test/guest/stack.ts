// The host side for guest tests: the whole Strata stack (virtio-blk driver, block service,
// Axiom, content store, fs service) on a formatted in-memory disk with the real clock (the
// guest runs in real time), a reboot of that stack on the same disk, and the offline fsck
// of that disk between two boots. Also builds the guest artefacts from Debian packages
// when they are missing.
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { ensureGuestArtefacts, type GuestArtefacts } from '../../tools/guest/build.ts';
import type { System } from '../../tools/system.ts';
import { fsckImage, type FsckReport } from '../../tools/fsck/index.ts';
import { bootFsStack, formatTestDisk, MiB } from '../helpers/stack.ts';

export interface GuestTestStack {
  sys: System;
  /** Shuts the whole stack down and boots it again on the same disk (recovery from disk). */
  reboot(): Promise<System>;
  /** Shuts the stack down, runs the offline fsck (check only) on its disk, and boots it again. */
  offlineFsck(): Promise<FsckReport>;
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
    offlineFsck: async () => {
      await stack.sys.shutdown();
      try {
        return await fsckImage(disk, { repair: false });
      } finally {
        stack.sys = await boot();
      }
    },
    close: async () => {
      await stack.sys.shutdown();
      disk.close();
    },
  };
  return stack;
}
