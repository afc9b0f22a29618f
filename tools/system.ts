/**
 * Assembles a running system: the machine with its disk, the kernel, and the services in
 * dependency order (virtio-blk driver -> block service -> Axiom -> ...), up to the layer
 * asked for. `strata boot`, the benchmarks and the tests all boot through here, so they
 * boot the same way.
 *
 * The boot log is written in the manner of a real OS: one line per step with the time
 * since power-on (host time: it reports how long boot took; the kernel's own clock is
 * virtual unless `clock: 'real'` is asked for). Each layer reports what its mount did.
 */
import { Kernel } from '../kernel/kernel.ts';
import { Machine } from '../kernel/machine/machine.ts';
import type { DiskBackend } from '../kernel/machine/disk/backend.ts';
import type { ServiceContext } from '../kernel/service.ts';
import { virtioBlkManifest } from '../drivers/virtio-blk/manifest.ts';
import { VIRTIO_BLK_ENDPOINT, VirtioBlkClient } from '../drivers/virtio-blk/protocol.ts';
import { formatBytes } from '../drivers/virtio-blk/driver.ts';
import { blockManifest } from '../services/block/service.ts';
import { BLOCK_ENDPOINT, BlockClient } from '../services/block/protocol.ts';
import { axiomManifest } from '../axiom/service.ts';
import { blockLogDevice } from '../axiom/block-device.ts';
import { AXIOM_ENDPOINT, AxiomClient } from '../axiom/protocol.ts';
import { axiomHasher, blake3Implementation } from '../services/content/hash.ts';
import { contentManifest } from '../services/content/service.ts';
import { CONTENT_ENDPOINT, ContentClient } from '../services/content/protocol.ts';
import { fsManifest } from '../services/fs/service.ts';
import { FS_ENDPOINT, FsClient } from '../services/fs/protocol.ts';
import { MEMORY_SIZE_BYTES_DEFAULT } from '../kernel/limits.ts';

/** The layers, bottom up; booting a layer boots everything below it. */
export const LAYERS = ['driver', 'block', 'axiom', 'content', 'fs'] as const;
export type Layer = (typeof LAYERS)[number];

export interface BootOptions {
  disk: DiskBackend;
  /** Highest layer to start (default: the whole stack). */
  upTo?: Layer;
  seed?: number;
  clock?: 'virtual' | 'real';
  memorySizeBytes?: number;
  trace?: boolean;
  /** Receives each boot-log and kernel-log line as it happens. */
  log?: (line: string) => void;
  /** Leave FLUSH un-negotiated (write-through device); for tests of the write-cache model. */
  withoutFlush?: boolean;
  /** Extra endpoints the returned user context may call. */
  userCalls?: string[];
  /** Wall-clock milliseconds at kernel time 0, for file times (default: the host's now; fixed in tests). */
  epochMs?: number;
  /** Let the filesystem take checkpoints (default on). */
  fsCheckpoints?: boolean;
  /** Leave the disk open at shutdown (a test that boots again on the same disk). */
  keepDiskOpen?: boolean;
}

export interface System {
  kernel: Kernel;
  machine: Machine;
  /** A user-program context for the CLI or a test; it may call every started layer. */
  user: ServiceContext;
  blk: VirtioBlkClient;
  block?: BlockClient;
  axiom?: AxiomClient;
  content?: ContentClient;
  fs?: FsClient;
  layers: Layer[];
  shutdown(): Promise<void>;
}

export async function bootSystem(options: BootOptions): Promise<System> {
  const t0 = performance.now();
  const log = (line: string) => options.log?.(`[${((performance.now() - t0) / 1000).toFixed(6).padStart(12)}] ${line}`);
  const upTo = LAYERS.indexOf(options.upTo ?? LAYERS[LAYERS.length - 1]);
  const layers = LAYERS.slice(0, upTo + 1) as Layer[];
  const memorySizeBytes = options.memorySizeBytes ?? MEMORY_SIZE_BYTES_DEFAULT;
  const machine = new Machine({ memorySizeBytes, disks: [options.disk] });
  log(`machine: ${formatBytes(memorySizeBytes)} physical memory, ${machine.devices.length} virtio-mmio device(s)`);
  for (const d of machine.devices) {
    log(`machine: ${d.name} at 0x${d.base.toString(16)} irq ${d.irqLine}, ${options.disk.kind} disk of ${formatBytes(options.disk.sizeBytes)}`);
  }
  const kernel = new Kernel({ seed: options.seed, clock: options.clock, machine, trace: options.trace, logSink: log });
  log(`kernel: seed ${kernel.seed}, ${kernel.clockMode} clock, scheduler seeded`);
  const up = (name: string, detail: string) => log(`kernel: service ${name} up (${detail})`);

  const device = machine.devices[0];
  await kernel.spawn(virtioBlkManifest(device, { config: { withoutFlush: options.withoutFlush } }));
  up('virtio-blk', `endpoint ${VIRTIO_BLK_ENDPOINT}, mmio 0x${device.base.toString(16)}, irq ${device.irqLine}, dma`);

  const calls = [VIRTIO_BLK_ENDPOINT, ...(options.userCalls ?? [])];
  if (layers.includes('block')) calls.push(BLOCK_ENDPOINT);
  if (layers.includes('axiom')) calls.push(AXIOM_ENDPOINT);
  if (layers.includes('content')) calls.push(CONTENT_ENDPOINT);
  if (layers.includes('fs')) calls.push(FS_ENDPOINT);
  const user = kernel.attach({ name: 'user', calls });
  const sys: System = {
    kernel,
    machine,
    user,
    blk: new VirtioBlkClient(user),
    layers,
    shutdown: async () => {
      await kernel.shutdown();
      if (!options.keepDiskOpen) options.disk.close();
    },
  };

  try {
    if (layers.includes('block')) {
      await kernel.spawn(blockManifest());
      sys.block = new BlockClient(user);
      const info = await sys.block.info(); // waits for the mount (the service logs what it replayed)
      for (const p of info.mount.problems) log(`block: mount found: ${p}`);
      const stats = await sys.block.stats();
      log(`block: ${formatBytes(info.blockCount * info.blockSizeBytes)}, ${stats.freeBlocks} of ${stats.dataBlocks} data blocks free, cache ${formatBytes(stats.cache.capacityBytes)}`);
      up('block', `endpoint ${BLOCK_ENDPOINT}`);
    }
    if (layers.includes('axiom')) {
      const tAxiom = performance.now();
      await kernel.spawn(
        axiomManifest({ device: (ctx) => blockLogDevice(new BlockClient(ctx)), formatIfEmpty: true, options: { hasher: axiomHasher } }, { calls: [BLOCK_ENDPOINT] }),
      );
      sys.axiom = new AxiomClient(user);
      const info = await sys.axiom.info();
      const r = info.recovery;
      log(`axiom: recovered to seq ${info.committedSeq} from checkpoint ${info.checkpointSeq} in ${Math.round(performance.now() - tAxiom)} ms (${r.transactionsFound} transaction(s)); BLAKE3 ${blake3Implementation()}`);
      up('axiom', `endpoint ${AXIOM_ENDPOINT}`);
    }
    if (layers.includes('content')) {
      await kernel.spawn(contentManifest());
      sys.content = new ContentClient(user);
      const info = await sys.content.info(); // waits for the mount
      const stats = await sys.content.stats();
      log(`content: ${stats.chunkCount} chunk(s), ${formatBytes(stats.storedBytes)} stored, dedup ${stats.dedupRatio.toFixed(2)}x; BLAKE3 ${info.hash}`);
      up('content', `endpoint ${CONTENT_ENDPOINT}`);
    }
    if (layers.includes('fs')) {
      await kernel.spawn(fsManifest({ epochMs: options.epochMs ?? Date.now(), checkpoints: options.fsCheckpoints !== false }));
      sys.fs = new FsClient(user);
      await sys.fs.statfs(); // waits for the mount (the service logs what it replayed)
      up('fs', `endpoint ${FS_ENDPOINT}`);
    }
  } catch (e) {
    await sys.shutdown().catch(() => {});
    throw e;
  }
  return sys;
}
