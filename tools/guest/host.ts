/**
 * Runs the Linux guest against a running Strata kernel: spawns a 9P service (one per
 * guest, so a benchmark can run two guests in one kernel) over the kernel's filesystem
 * endpoint, plugs it into v86 as the virtio-9p device, and optionally gives the guest an
 * IDE disk served by the block service. The kernel must already provide `fs` (and
 * `block` when a disk is asked for); this file only attaches to them.
 *
 * `filesystem: 'builtin'` boots the same guest on v86's own in-memory 9P filesystem
 * instead (the baseline of the benchmarks); 'none' gives no 9P device.
 */
import type { Kernel } from '../../kernel/kernel.ts';
import { FS_ENDPOINT } from '../../services/fs/protocol.ts';
import { BLOCK_ENDPOINT, BlockClient, type Extent } from '../../services/block/protocol.ts';
import { P9ServiceClient, type P9ServerStats } from '../../services/9p/protocol.ts';
import { p9Manifest } from '../../services/9p/service.ts';
import type { GuestArtefacts } from './build.ts';
import { BlockDisk } from './disk.ts';
import { handle9pOver, type Fs9pCounters } from './fs9p.ts';
import { GuestVm, type GuestBootOptions } from './vm.ts';

export interface GuestHostOptions {
  kernel?: Kernel;
  artefacts: GuestArtefacts;
  filesystem: 'strata' | 'builtin' | 'none';
  fsEndpoint?: string;
  /** An extent of the block service's data region to serve as the guest's /dev/sda. */
  disk?: { extent: Extent; blockEndpoint?: string; writeThrough?: boolean };
  memorySizeBytes?: number;
  msizeBytes?: number;
  initialState?: ArrayBuffer;
  interactive?: boolean;
  onOutput?: (text: string) => void;
  log?: (line: string) => void;
}

export interface GuestHost {
  vm: GuestVm;
  disk?: BlockDisk;
  counters: Fs9pCounters;
  /** The 9P server's own counters (undefined unless filesystem is 'strata'). */
  p9Stats(): Promise<P9ServerStats | undefined>;
  /** Stops the guest and the 9P service (the kernel and its other services keep running). */
  stop(): Promise<void>;
}

let guestCount = 0;

/** Allocates a contiguous extent of `sizeBytes` (rounded up to 4 KiB) for a guest disk. */
export async function allocateGuestDisk(block: BlockClient, sizeBytes: number): Promise<Extent> {
  const [extent] = await block.allocate(Math.ceil(sizeBytes / 4096), { contiguous: true });
  return extent;
}

export async function startGuest(options: GuestHostOptions): Promise<GuestHost> {
  const n = ++guestCount;
  const log = options.log ?? (() => {});
  const counters: Fs9pCounters = { requests: 0, transportErrors: 0, bytesIn: 0, bytesOut: 0 };
  const kernel = options.kernel;
  if ((options.filesystem === 'strata' || options.disk) && !kernel) throw new Error('a Strata filesystem or disk needs the kernel');
  let p9: P9ServiceClient | undefined;
  let p9Name: string | undefined;
  const calls: string[] = [];
  if (options.filesystem === 'strata') {
    p9Name = `p9-guest${n}`;
    const endpoint = `9p-guest${n}`;
    await kernel!.spawn(p9Manifest({ name: p9Name, endpoint, fsEndpoint: options.fsEndpoint ?? FS_ENDPOINT }));
    calls.push(endpoint);
  }
  const blockEndpoint = options.disk?.blockEndpoint ?? BLOCK_ENDPOINT;
  if (options.disk) calls.push(blockEndpoint);
  const user = kernel && calls.length ? kernel.attach({ name: `guest${n}`, calls }) : undefined;
  if (p9Name) p9 = new P9ServiceClient(user!, calls[0]);

  let disk: BlockDisk | undefined;
  if (options.disk) {
    const block = new BlockClient(user!, blockEndpoint);
    const info = await block.info();
    disk = new BlockDisk(block, options.disk.extent, { ioBlocksMax: info.limits.ioBlocksMax, writeThrough: options.disk.writeThrough, log });
  }
  const filesystem: GuestBootOptions['filesystem'] = p9 ? { handle9p: handle9pOver((req) => p9!.message(req), counters, log) } : options.filesystem === 'builtin' ? 'builtin' : 'none';
  let vm: GuestVm;
  try {
    vm = await GuestVm.boot({
      artefacts: options.artefacts,
      filesystem,
      disk,
      memorySizeBytes: options.memorySizeBytes,
      msizeBytes: options.msizeBytes,
      initialState: options.initialState,
      interactive: options.interactive,
      onOutput: options.onOutput,
    });
  } catch (e) {
    if (p9Name) await kernel!.stop(p9Name).catch(() => {});
    throw e;
  }
  return {
    vm,
    disk,
    counters,
    p9Stats: async () => (p9 ? p9.stats() : undefined),
    stop: async () => {
      await vm.stop();
      await disk?.drain().catch(() => {});
      if (p9Name) await kernel!.stop(p9Name).catch(() => {});
    },
  };
}
