/**
 * Assembles a running system in the isolated kernel mode: the same machine, the same
 * services in the same order as tools/system.ts's bootSystem (virtio-blk driver -> block
 * -> Axiom -> content -> fs, up to the layer asked for), but each service in its own
 * worker thread under kernel/isolated/ (bootIsolated), started from its entry manifest
 * (services/<x>/entry.ts, axiom/entry.ts), whose config is plain data.
 *
 * It returns bootSystem's System, so the shell, the CLI, the benchmarks and the tests
 * use it unchanged, plus the isolation hooks: `kill(service)` (the shell's `kill`),
 * `ps()` (threads, restarts, heartbeats) and `abandon()` (the shell's `crash`: every
 * worker ends at once, no stop() runs, as when the power is cut).
 *
 * Each layer is started once the one below has mounted, as bootSystem does, and the
 * boot log says what each mount found. Differences forced by threads are bootIsolated's:
 * the clock is real, and a seed no longer replays one interleaving.
 */
import { bootIsolated, type IsolatedSystem } from '../kernel/isolated/boot.ts';
import type { ServiceInfo } from '../kernel/isolated/isolated-kernel.ts';
import type { SupervisionEvent } from '../kernel/isolated/supervisor.ts';
import type { Manifest } from '../kernel/service.ts';
import { formatBytes } from '../drivers/virtio-blk/driver.ts';
import { blockEntryManifest } from '../services/block/entry.ts';
import { BLOCK_ENDPOINT, BlockClient } from '../services/block/protocol.ts';
import { axiomBlockManifest, type HasherChoice } from '../axiom/entry.ts';
import { AXIOM_ENDPOINT, AxiomClient } from '../axiom/protocol.ts';
import { contentEntryManifest } from '../services/content/entry.ts';
import { CONTENT_ENDPOINT, ContentClient } from '../services/content/protocol.ts';
import { fsEntryManifest } from '../services/fs/entry.ts';
import { FS_ENDPOINT, FsClient } from '../services/fs/protocol.ts';
import { LAYERS, type BootOptions, type Layer, type System } from './system.ts';

export interface IsolatedBootSystemOptions extends Omit<BootOptions, 'clock'> {
  /** Axiom's BLAKE3, resolved inside its worker (default 'auto'). */
  axiomHasher?: HasherChoice;
  /** Kill and restart a service silent this long (ms); 0 reports missed heartbeats only. */
  hangRestartMs?: number;
  /** Restart services whose worker ends unasked (default true). */
  restart?: boolean;
  onEvent?: (e: SupervisionEvent) => void;
}

export interface IsolatedStackSystem extends System {
  mode: 'isolated';
  isolated: IsolatedSystem['isolated'];
  /** Ends the service's worker at once; resolves with the event that closed the episode. */
  kill(service: string): Promise<SupervisionEvent>;
  ps(): ServiceInfo[];
  /** Ends every worker without running any stop() (a power cut); the disk is left as it is. */
  abandon(): Promise<void>;
}

export async function bootIsolatedSystem(options: IsolatedBootSystemOptions): Promise<IsolatedStackSystem> {
  const t0 = performance.now();
  const log = (line: string) => options.log?.(line);
  const stamp = (line: string) => log(`[${((performance.now() - t0) / 1000).toFixed(6).padStart(12)}] ${line}`);
  const upTo = LAYERS.indexOf(options.upTo ?? LAYERS[LAYERS.length - 1]);
  if (upTo < 0) throw new Error(`unknown layer '${String(options.upTo)}' (expected one of ${LAYERS.join(', ')})`);
  const layers = LAYERS.slice(0, upTo + 1) as Layer[];
  const endpoints: Record<Exclude<Layer, 'driver'>, string> = { block: BLOCK_ENDPOINT, axiom: AXIOM_ENDPOINT, content: CONTENT_ENDPOINT, fs: FS_ENDPOINT };
  const userCalls = [...(options.userCalls ?? []), ...layers.filter((l) => l !== 'driver').map((l) => endpoints[l as Exclude<Layer, 'driver'>])];

  const base = await bootIsolated({
    disk: options.disk,
    seed: options.seed,
    memorySizeBytes: options.memorySizeBytes,
    trace: options.trace,
    log,
    withoutFlush: options.withoutFlush,
    userCalls,
    hangRestartMs: options.hangRestartMs,
    restart: options.restart,
    onEvent: options.onEvent,
  });
  const { isolated, user } = base;
  let closed = false;
  const sys: IsolatedStackSystem = {
    mode: 'isolated',
    kernel: base.kernel,
    machine: base.machine,
    user,
    blk: base.blk,
    layers: ['driver'],
    isolated,
    kill: (service) => base.kill(service),
    ps: () => base.ps(),
    shutdown: async () => {
      if (closed) return;
      closed = true;
      await isolated.shutdown();
      if (!options.keepDiskOpen) options.disk.close();
    },
    abandon: async () => {
      if (closed) return;
      closed = true;
      await isolated.abandon();
    },
  };
  const up = async (layer: Layer, manifest: Manifest, mounted: () => Promise<void>) => {
    await isolated.spawn(manifest);
    await mounted();
    sys.layers.push(layer);
    stamp(`kernel: service ${manifest.name} up in its own thread (endpoint ${manifest.provides.join(', ')})`);
  };

  try {
    if (layers.includes('block')) {
      sys.block = new BlockClient(user);
      const block = sys.block;
      await up('block', blockEntryManifest(), async () => {
        const info = await block.info(); // waits for the mount
        for (const p of info.mount.problems) stamp(`block: mount found: ${p}`);
        const stats = await block.stats();
        stamp(`block: ${formatBytes(info.blockCount * info.blockSizeBytes)}, ${stats.freeBlocks} of ${stats.dataBlocks} data blocks free, cache ${formatBytes(stats.cache.capacityBytes)}`);
      });
    }
    if (layers.includes('axiom')) {
      sys.axiom = new AxiomClient(user);
      const axiom = sys.axiom;
      const tAxiom = performance.now();
      await up('axiom', axiomBlockManifest({ hasher: options.axiomHasher ?? 'auto' }), async () => {
        const info = await axiom.info();
        const r = info.recovery;
        stamp(`axiom: recovered to seq ${info.committedSeq} from checkpoint ${info.checkpointSeq} in ${Math.round(performance.now() - tAxiom)} ms (${r.transactionsFound} transaction(s))`);
      });
    }
    if (layers.includes('content')) {
      sys.content = new ContentClient(user);
      const content = sys.content;
      await up('content', contentEntryManifest(), async () => {
        const info = await content.info();
        const stats = await content.stats();
        stamp(`content: ${stats.chunkCount} chunk(s), ${formatBytes(stats.storedBytes)} stored, dedup ${stats.dedupRatio.toFixed(2)}x; BLAKE3 ${info.hash}`);
      });
    }
    if (layers.includes('fs')) {
      sys.fs = new FsClient(user);
      const fs = sys.fs;
      await up('fs', fsEntryManifest({ epochMs: options.epochMs ?? Date.now(), checkpoints: options.fsCheckpoints !== false }), async () => {
        await fs.statfs(); // waits for the mount
      });
    }
  } catch (e) {
    await sys.shutdown().catch(() => {});
    throw e;
  }
  return sys;
}
