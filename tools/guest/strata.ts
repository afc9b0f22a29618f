/**
 * Boots Strata for a guest session: the whole stack of tools/system.ts (driver, block
 * service, Axiom, content store, filesystem) on a disk, with the real clock (the guest
 * runs in real time), so `strata guest` and the guest benchmark boot exactly what
 * `strata boot` does. The guest reaches the filesystem through the `fs` endpoint and its
 * IDE disk through the `block` endpoint of this kernel.
 */
import type { DiskBackend } from '../../kernel/machine/disk/backend.ts';
import type { FsClient } from '../../services/fs/protocol.ts';
import type { BlockClient } from '../../services/block/protocol.ts';
import { bootSystem, type System } from '../system.ts';

export interface StrataForGuest {
  sys: System;
  fs: FsClient;
  block: BlockClient;
  close(): Promise<void>;
}

export async function bootStrataForGuest(options: { disk: DiskBackend; log?: (line: string) => void; seed?: number; epochMs?: number; keepDiskOpen?: boolean }): Promise<StrataForGuest> {
  const sys = await bootSystem({ disk: options.disk, clock: 'real', seed: options.seed, log: options.log, epochMs: options.epochMs, keepDiskOpen: options.keepDiskOpen });
  if (!sys.fs || !sys.block) {
    await sys.shutdown();
    throw new Error(`the system booted up to '${sys.layers[sys.layers.length - 1]}'; the guest needs the fs and block layers`);
  }
  return { sys, fs: sys.fs, block: sys.block, close: () => sys.shutdown() };
}
