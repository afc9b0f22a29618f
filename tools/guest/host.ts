/**
 * Runs the Linux guest against a running Strata kernel: spawns a 9P service (one per
 * guest, so a benchmark can run two guests in one kernel) over the kernel's filesystem
 * endpoint, plugs it into v86 as the virtio-9p device, and optionally gives the guest an
 * IDE disk served by the block service. The kernel must already provide `fs` (and
 * `block` when a disk is asked for); this file only attaches to them.
 *
 * `filesystem: 'builtin'` boots the same guest on v86's own in-memory 9P filesystem
 * instead (the baseline of the benchmarks); 'none' gives no 9P device.
 *
 * With `stateDir`, the guest's machine state at the shell prompt (before 9P is mounted
 * and before the disk is touched) is saved there after the first boot, keyed by
 * everything that shapes it (artefacts, memory, devices, msize), and later runs restore
 * it instead of booting, then mount 9P on the fresh session.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Kernel } from '../../kernel/kernel.ts';
import { FS_ENDPOINT, FsClient } from '../../services/fs/protocol.ts';
import { BLOCK_ENDPOINT, BlockClient, type Extent } from '../../services/block/protocol.ts';
import { P9ServiceClient, type P9ServerStats } from '../../services/9p/protocol.ts';
import { p9Manifest } from '../../services/9p/service.ts';
import { P9Server } from '../../services/9p/server.ts';
import type { GuestArtefacts } from './build.ts';
import { BlockDisk } from './disk.ts';
import { handle9pOver, type Fs9pCounters } from './fs9p.ts';
import { GUEST_MEMORY_BYTES_DEFAULT, GUEST_MSIZE_BYTES_DEFAULT, GuestVm, type GuestBootOptions } from './vm.ts';
import { toArrayBuffer } from './v86.ts';

export interface GuestHostOptions {
  kernel?: Kernel;
  artefacts: GuestArtefacts;
  filesystem: 'strata' | 'builtin' | 'none';
  fsEndpoint?: string;
  /** Where the 9P server runs: in this process ('inline', the default) or as a kernel service. */
  p9Placement?: 'inline' | 'service';
  /** An extent of the block service's data region to serve as the guest's /dev/sda. */
  disk?: { extent: Extent; blockEndpoint?: string; writeThrough?: boolean };
  memorySizeBytes?: number;
  msizeBytes?: number;
  /** Save the booted state here on the first run and restore it on later runs. */
  stateDir?: string;
  interactive?: boolean;
  onOutput?: (text: string) => void;
  log?: (line: string) => void;
}

export interface GuestHost {
  vm: GuestVm;
  /** 'booted', 'booted and saved' or 'restored' (with stateDir). */
  start: 'booted' | 'booted, state saved' | 'restored';
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

/** What shapes a saved machine state: restoring it needs the same of all of these. */
function stateKey(options: GuestHostOptions, diskBytes: number): string {
  const shape = {
    recipe: options.artefacts.manifest.recipeHash,
    memory: options.memorySizeBytes ?? GUEST_MEMORY_BYTES_DEFAULT,
    fs: options.filesystem === 'strata' ? 'handle9p' : options.filesystem,
    diskBytes,
    msize: options.msizeBytes ?? GUEST_MSIZE_BYTES_DEFAULT,
  };
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 16);
}

export async function startGuest(options: GuestHostOptions): Promise<GuestHost> {
  const n = ++guestCount;
  const log = options.log ?? (() => {});
  const counters: Fs9pCounters = { requests: 0, transportErrors: 0, bytesIn: 0, bytesOut: 0, serveMs: 0 };
  const kernel = options.kernel;
  if ((options.filesystem === 'strata' || options.disk) && !kernel) throw new Error('a Strata filesystem or disk needs the kernel');
  // The 9P server runs as a kernel service (p9Placement 'service': every T-message is a
  // kernel message too) or in this process as the v86 transport's own code ('inline':
  // one kernel hop fewer per request); either way it reaches the fs only through FsClient.
  let serve: ((request: Uint8Array) => Promise<Uint8Array>) | undefined;
  let p9Stats: () => Promise<P9ServerStats | undefined> = async () => undefined;
  let p9Name: string | undefined;
  const fsEndpoint = options.fsEndpoint ?? FS_ENDPOINT;
  const calls: string[] = [];
  const p9Endpoint = `9p-guest${n}`;
  if (options.filesystem === 'strata') {
    if ((options.p9Placement ?? 'inline') === 'service') {
      p9Name = `p9-guest${n}`;
      await kernel!.spawn(p9Manifest({ name: p9Name, endpoint: p9Endpoint, fsEndpoint }));
      calls.push(p9Endpoint);
    } else calls.push(fsEndpoint);
  }
  const blockEndpoint = options.disk?.blockEndpoint ?? BLOCK_ENDPOINT;
  if (options.disk) calls.push(blockEndpoint);
  const user = kernel && calls.length ? kernel.attach({ name: `guest${n}`, calls }) : undefined;
  if (options.filesystem === 'strata') {
    if (p9Name) {
      const client = new P9ServiceClient(user!, p9Endpoint);
      serve = (req) => client.message(req);
      p9Stats = () => client.stats();
    } else {
      const server = new P9Server(new FsClient(user!, fsEndpoint), { log });
      serve = (req) => server.handle(req);
      p9Stats = async () => structuredClone(server.stats);
    }
  }

  let disk: BlockDisk | undefined;
  if (options.disk) {
    const block = new BlockClient(user!, blockEndpoint);
    const info = await block.info();
    disk = new BlockDisk(block, options.disk.extent, { ioBlocksMax: info.limits.ioBlocksMax, writeThrough: options.disk.writeThrough, log });
  }
  const filesystem: GuestBootOptions['filesystem'] = serve ? { handle9p: handle9pOver(serve, counters, log) } : options.filesystem === 'builtin' ? 'builtin' : 'none';
  const statePath = options.stateDir ? path.join(options.stateDir, `state-${stateKey(options, disk?.byteLength ?? 0)}.bin`) : undefined;
  const saved = statePath && fs.existsSync(statePath) ? fs.readFileSync(statePath) : undefined;
  let vm: GuestVm;
  let start: GuestHost['start'] = 'booted';
  try {
    vm = await GuestVm.boot({
      artefacts: options.artefacts,
      filesystem,
      disk,
      memorySizeBytes: options.memorySizeBytes,
      msizeBytes: options.msizeBytes,
      initialState: saved ? toArrayBuffer(saved) : undefined,
      interactive: options.interactive && !statePath,
      mount9p: !statePath,
      onOutput: options.onOutput,
    });
    if (statePath) {
      if (saved) start = 'restored';
      else {
        fs.mkdirSync(path.dirname(statePath), { recursive: true });
        fs.writeFileSync(statePath + '.tmp', new Uint8Array(await vm.saveState()));
        fs.renameSync(statePath + '.tmp', statePath);
        start = 'booted, state saved';
      }
      if (options.filesystem !== 'none') await vm.mountStrata();
      if (options.interactive) vm.makeInteractive();
    }
  } catch (e) {
    if (p9Name) await kernel!.stop(p9Name).catch(() => {});
    throw e;
  }
  return {
    vm,
    start,
    disk,
    counters,
    p9Stats,
    stop: async () => {
      await vm.stop();
      await disk?.drain().catch(() => {});
      if (p9Name) await kernel!.stop(p9Name).catch(() => {});
    },
  };
}
