/**
 * Test-only systems for the shell, two kinds:
 *
 * - 'real': the whole stack of tools/system.ts (driver, block, Axiom, content, fs) on a
 *   formatted fault-injecting disk with fixed ids and a fixed epoch, so runs repeat byte
 *   for byte; model backends (below) stand in only for what no layer serves yet
 *   (snapshots).
 * - 'model': the machine, kernel and driver, the reference filesystem model behind the
 *   fs protocol, and (unless turned off) the real Axiom service over a region of the raw
 *   disk. The shell was built against this before services/fs landed; it stays as the
 *   reference the real stack is compared with.
 *
 * Persistence of the model: one FsModel lives in a ModelStore outside the kernel and
 * survives reboots and crashes. That is the crash contract for everything the shell
 * does (every fs operation it makes is acknowledged once its reply comes, and its file
 * handles are closed before a command ends, which commits their data), not a
 * simulation of losing unsynced data: the disk's power cut is real (power.ts), the
 * model's is not. Axiom, when present, keeps its records on the disk and really
 * recovers from what survived.
 */
import { AxiomClient } from '../../axiom/protocol.ts';
import { DiskLogDevice } from '../../axiom/disk-device.ts';
import { axiomManifest } from '../../axiom/service.ts';
import { AXIOM_BLOCK_SIZE_BYTES } from '../../axiom/limits.ts';
import { FaultyBackend } from '../../kernel/machine/disk/faulty.ts';
import type { DiskBackend } from '../../kernel/machine/disk/backend.ts';
import type { Manifest } from '../../kernel/service.ts';
import { VIRTIO_BLK_ENDPOINT } from '../../drivers/virtio-blk/protocol.ts';
import { FS_ENDPOINT, FsClient, parseFsRequest, type Timespec } from '../../services/fs/protocol.ts';
import { bootSystem } from '../../tools/system.ts';
import { SHELL_ENDPOINTS, type ShellBackends, type ShellSystem } from '../../tools/shell/backends.ts';
import { ShellHost } from '../../tools/shell/host.ts';
import { FsModel } from '../../tools/model/fs-model.ts';
import { formatTestDisk, TEST_EPOCH_MS } from '../helpers/stack.ts';
import { ModelContent, ModelSnapshots, type StoredSnapshot } from './model-backends.ts';

export const MiB = 1024 * 1024;
const EPOCH_MS = 1_700_000_000_000;
/** The Axiom region: the first AXIOM_REGION_BLOCKS 4 KiB blocks of the test disk. */
export const AXIOM_REGION_BLOCKS = 1024;

/** What survives reboots in the test world besides the disk. */
export class ModelStore {
  model: FsModel;
  private lastMs = EPOCH_MS;
  private nowFn: () => number = () => this.lastMs;
  readonly snapshots = new Map<string, StoredSnapshot>();

  constructor() {
    this.model = new FsModel(() => this.now());
  }

  /** Called at each boot: time continues from where the last boot left it. */
  attachClock(nowMs: () => number): void {
    const base = this.lastMs;
    this.nowFn = () => base + nowMs();
  }

  now(): Timespec {
    const ms = Math.max(this.lastMs, this.nowFn());
    this.lastMs = ms;
    return { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1_000_000 };
  }
}

function persistentModelManifest(store: ModelStore): Manifest {
  return {
    name: 'fs-model',
    provides: [FS_ENDPOINT],
    calls: [],
    service: {
      start: (ctx) => {
        store.attachClock(() => Math.floor(ctx.clock.nowMs()));
        return { handle: (req) => store.model.apply(parseFsRequest(req.op, req.body)) };
      },
    },
  };
}

export interface TestHostOptions {
  /** 'model' (default) or 'real'; see the header. */
  stack?: 'model' | 'real';
  seed?: number;
  disk?: DiskBackend;
  diskSizeBytes?: number;
  /** Run the real Axiom service on the disk (default true). */
  axiom?: boolean;
  /** Model backends for what no layer serves yet (default: all); fsck is the shell's live one. */
  models?: { snapshots?: boolean; content?: boolean };
  store?: ModelStore;
  log?: (line: string) => void;
}

export interface TestWorld {
  host: ShellHost;
  store: ModelStore;
  disk: DiskBackend;
}

/** Disk for the real stack: 64 MiB, formatted with fixed ids, no write log kept. */
export const REAL_DISK_SIZE_BYTES = 64 * MiB;

async function startRealHost(options: TestHostOptions, store: ModelStore): Promise<TestWorld> {
  const disk = options.disk ?? (await formatTestDisk(new FaultyBackend(REAL_DISK_SIZE_BYTES, { recordLog: false })));
  const models = { snapshots: true, ...options.models };
  const boot = (socket: DiskBackend, log: (line: string) => void): Promise<ShellSystem> =>
    bootSystem({ disk: socket, seed: options.seed ?? 1, memorySizeBytes: 128 * MiB, epochMs: TEST_EPOCH_MS, log, upTo: 'fs', userCalls: SHELL_ENDPOINTS });
  const backends = (system: ShellSystem): Partial<ShellBackends> => {
    const fs = new FsClient(system.user);
    const out: Partial<ShellBackends> = {};
    if (models.snapshots) out.snapshots = new ModelSnapshots(fs, store);
    return out;
  };
  const host = await ShellHost.start({ disk, boot, backends, log: options.log });
  return { host, store, disk };
}

export async function startTestHost(options: TestHostOptions = {}): Promise<TestWorld> {
  const store = options.store ?? new ModelStore();
  if (options.stack === 'real') return startRealHost(options, store);
  const disk = options.disk ?? new FaultyBackend(options.diskSizeBytes ?? 16 * MiB);
  const withAxiom = options.axiom ?? true;
  const models = { snapshots: true, content: true, ...options.models };
  const boot = async (socket: DiskBackend, log: (line: string) => void): Promise<ShellSystem> => {
    // The machine, kernel and driver only (`upTo` is ignored by a bootSystem without layers):
    // the test disk is raw, and the model and this file's Axiom stand in for the layers.
    const bootOptions = { disk: socket, seed: options.seed ?? 1, memorySizeBytes: 64 * MiB, log, upTo: 'driver', userCalls: [VIRTIO_BLK_ENDPOINT, ...SHELL_ENDPOINTS] };
    const sys = await bootSystem(bootOptions as Parameters<typeof bootSystem>[0]);
    await sys.kernel.spawn(persistentModelManifest(store));
    log('kernel: service fs-model up (endpoint fs; the reference model standing in for services/fs)');
    if (withAxiom) {
      const blockCount = Math.min(AXIOM_REGION_BLOCKS, Math.floor(socket.sizeBytes / AXIOM_BLOCK_SIZE_BYTES));
      await sys.kernel.spawn(axiomManifest({ device: () => new DiskLogDevice(socket, 0, blockCount), formatIfEmpty: true }));
      const r = (await new AxiomClient(sys.user).info()).recovery;
      log(`kernel: service axiom up (endpoint axiom, ${blockCount} blocks at the start of the disk): recovered to seq ${r.committedSeq} from checkpoint ${r.checkpointSeq}, ${r.transactionsFound} transactions`);
    }
    return { kernel: sys.kernel, user: sys.user, shutdown: sys.shutdown };
  };
  const backends = (system: ShellSystem): Partial<ShellBackends> => {
    const out: Partial<ShellBackends> = {};
    const fs = new FsClient(system.user);
    if (models.snapshots) out.snapshots = new ModelSnapshots(fs, store);
    if (models.content) out.content = out.gc = new ModelContent(fs, store);
    return out;
  };
  const host = await ShellHost.start({ disk, boot, backends, log: options.log });
  return { host, store, disk };
}

/** An Axiom client for a test to write records the way services/fs will. */
export function axiomClient(host: ShellHost): AxiomClient {
  return new AxiomClient(host.system.user);
}
