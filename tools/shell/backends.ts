/**
 * What the shell talks to, as small interfaces: the kernel's statistics (a view of
 * kernel/kernel.ts) and one optional client per layer. A command whose backend is
 * absent says "not available yet (needs ...)" instead of failing obscurely, so the
 * shell works on whatever part of the stack is running and grows with it.
 *
 * `backendsFor(system)` builds the clients from the layers' protocol.ts files for every
 * endpoint some running service provides; tests (and layers that have no protocol.ts
 * yet) pass their own through `overrides`. Nothing here imports a service's internals.
 *
 * The shapes of the not-yet-landed layers (content, snapshots, fsck) are the shell's
 * proposal: each is what the command prints, no more; the layer's client can satisfy it
 * directly or through a few lines of adapter.
 */
import type { ServiceContext } from '../../kernel/service.ts';
import type { EndpointCounters, TraceEntry } from '../../kernel/trace.ts';
import { FS_ENDPOINT, FsClient, type SnapshotInfo, type Timespec } from '../../services/fs/protocol.ts';
import { AXIOM_ENDPOINT, AxiomClient } from '../../axiom/protocol.ts';
import { BLOCK_ENDPOINT, BlockClient } from '../../services/block/protocol.ts';
import { CONTENT_ENDPOINT, ContentClient } from '../../services/content/protocol.ts';
import { NotAvailableError } from './errors.ts';
import { LiveFsck } from './live-fsck.ts';

// ---- the kernel ------------------------------------------------------------------------

export interface ServiceView {
  name: string;
  state: string;
  provides: string[];
  calls: string[];
  /** Messages handled (calls and sends). */
  handled: number;
  pendingCalls: number;
  mailboxDepth: number;
  internalErrors: number;
  /** Restarts by the supervisor, once the kernel counts them. */
  restarts?: number;
  /** Isolated mode: the service's worker thread (0: a program on the kernel's thread). */
  threadId?: number;
  /** Isolated mode: whether the kernel still hears the service's heartbeat. */
  heartbeat?: 'ok' | 'missed' | '-';
}

/** What `kill SERVICE` reports: the supervision event that closed the episode. */
export interface KillReport {
  kind: string;
  service: string;
  detail: string;
}

/** The part of kernel/kernel.ts's Kernel the shell reads. */
export interface KernelView {
  readonly seed: number;
  nowMs(): number;
  serviceStats(): ServiceView[];
  endpointCounters(): ReadonlyMap<string, EndpointCounters>;
  readonly trace: { enabled: boolean; sink?: (entry: TraceEntry) => void };
  readonly logLines: readonly string[];
}

/** One booted system as the shell sees it; tools/system.ts's System is one. */
export interface ShellSystem {
  kernel: KernelView;
  /** The shell's own context: calls only, to the endpoints its manifest names. */
  user: ServiceContext;
  /** Clean stop: every service's stop() (flush, checkpoint), then the disk is closed. */
  shutdown(): Promise<void>;
  /** Isolated mode (tools/system-isolated.ts): `ps` rows with threads, restarts, heartbeats. */
  ps?(): ServiceView[];
  /** Isolated mode: end the service's worker at once; resolves when the supervisor is done. */
  kill?(service: string): Promise<KillReport>;
}

// ---- the layers --------------------------------------------------------------------------

/** The fs protocol client (services/fs/protocol.ts), as far as the shell uses it. */
export type FsApi = Pick<
  FsClient,
  | 'getattr' | 'setattr' | 'lookup' | 'resolve' | 'create' | 'open' | 'close' | 'read' | 'write' | 'truncate'
  | 'fsync' | 'mkdir' | 'rmdir' | 'unlink' | 'readdir' | 'rename' | 'link' | 'symlink' | 'readlink' | 'statfs' | 'sync'
>;

/** Axiom's client (axiom/protocol.ts), as far as `log` and `fsck` use it. */
export type AxiomApi = Pick<AxiomClient, 'info' | 'read'> & Partial<Pick<AxiomClient, 'verify'>>;

/** services/block's stats, as far as `journal` and `cache` print them (its BlockStats fits). */
export interface BlockStatsView {
  freeBlocks: number;
  dataBlocks: number;
  cache: { capacityBytes: number; residentBytes: number; dirtyBlocks: number; hits: number; misses: number; coalesced: number; evictions: number; writeBacks: number; ghostHits: number };
  journal: { capacityBlocks: number; usedBlocks: number; liveTransactions: number; commits: number; batches: number; checkpoints: number; nextSequence: number };
  failed: string | null;
}

/** services/block's info, as far as `journal` prints the mount report (its BlockInfo fits). */
export interface BlockInfoView {
  blockSizeBytes: number;
  blockCount: number;
  mount: { superblockSource: string; problems: string[]; replayedTransactions: number; replayedBlocks: number; replayStop: string };
}

export interface BlockApi {
  stats(): Promise<BlockStatsView>;
  info(): Promise<BlockInfoView>;
}

export interface ContentStatsView {
  chunkCount: number;
  /** Bytes the files name (every reference counted). */
  logicalBytes: number;
  /** Bytes stored once per distinct chunk. */
  storedBytes: number;
  /** Why the store stopped serving writes, if it did. */
  failed?: string | null;
  /** Log records its index tolerated although they broke a refcount rule. */
  anomalies?: number;
}

/** services/content's GcReport, as far as `gc` prints it (the filesystem gathers the roots). */
export interface GcReportView {
  /** Roots marked from: the live tree and every snapshot (when the collector says). */
  rootCount?: number;
  liveChunks: number;
  sweptChunks: number;
  sweptBytes: number;
  /** Blocks returned to the allocator, including any a crash left allocated but unreferenced. */
  freedBlocks: number;
}

/** services/content's client, as far as `df` uses it (its ContentClient fits). */
export interface ContentApi {
  stats(): Promise<ContentStatsView>;
}

/** Garbage collection from every root: the filesystem knows the roots, so it serves this. */
export interface GcApi {
  gc(): Promise<GcReportView>;
}

export interface SnapshotView {
  name: string;
  /** Merkle root, hex. */
  rootHash: string;
  createdAt: Timespec;
  fileCount?: number;
  dirCount?: number;
  /** Logical bytes of the files it holds. */
  sizeBytes?: number;
  /** Sequence number of its create record in the metadata log (Axiom). */
  seq?: number;
  /** Bytes that only this snapshot holds (what deleting it could free); list only. */
  exclusiveBytes?: number;
}

export type ChangeKind = 'added' | 'removed' | 'modified' | 'type' | 'renamed';

export interface DiffEntryView {
  path: string;
  change: ChangeKind;
  /** renamed: the old path (`path` is the new one). */
  from?: string;
  /** file | dir | symlink, after the change (before it, for removed). */
  type: string;
  sizeBytesBefore?: number;
  sizeBytesAfter?: number;
}

export interface SnapshotsApi {
  create(name: string): Promise<SnapshotView>;
  list(): Promise<SnapshotView[]>;
  show(name: string): Promise<SnapshotView>;
  /** Changes from snapshot `from` to snapshot `to`, or to the live tree when `to` is undefined. */
  diff(from: string, to?: string): Promise<DiffEntryView[]>;
  restore(name: string): Promise<void>;
  delete(name: string): Promise<void>;
}

export interface FsckProblemView {
  /** superblock | journal | bitmap | refcount | chunk | axiom | namespace | snapshot ... */
  area: string;
  message: string;
  repaired?: boolean;
}

export interface FsckReportView {
  problems: FsckProblemView[];
  /** What was checked and how many of each (e.g. {chunks: 1204, inodes: 77}). */
  checked: Record<string, number>;
}

export interface FsckApi {
  check(): Promise<FsckReportView>;
}

export interface ShellBackends {
  fs?: FsApi;
  axiom?: AxiomApi;
  block?: BlockApi;
  content?: ContentApi;
  gc?: GcApi;
  snapshots?: SnapshotsApi;
  fsck?: FsckApi;
}

/** Which layer each backend needs, for the "not available yet" message. */
export const BACKEND_NEEDS: Record<keyof ShellBackends, string> = {
  fs: 'services/fs',
  axiom: 'axiom',
  block: 'services/block',
  content: 'services/content',
  gc: 'gc through services/fs and services/content',
  snapshots: 'snapshots in services/fs',
  fsck: 'services/fs',
};

/** The backend, or NotAvailableError naming the layer it needs. */
export function need<K extends keyof ShellBackends>(backends: ShellBackends, key: K): NonNullable<ShellBackends[K]> {
  const b = backends[key];
  if (b === undefined || b === null) throw new NotAvailableError(BACKEND_NEEDS[key]);
  return b as NonNullable<ShellBackends[K]>;
}

/** Endpoints the shell's context should hold, whichever of them the system provides. */
export const SHELL_ENDPOINTS = [FS_ENDPOINT, AXIOM_ENDPOINT, BLOCK_ENDPOINT, CONTENT_ENDPOINT];

function snapshotView(s: SnapshotInfo): SnapshotView {
  return { name: s.name, rootHash: s.rootHash, createdAt: s.time, fileCount: s.fileCount, dirCount: s.dirCount, sizeBytes: s.sizeBytes, seq: s.seq, exclusiveBytes: s.exclusiveBytes };
}

/** services/fs's snapshot ops as the shell's SnapshotsApi (services/fs/protocol.ts says what each does). */
export class FsSnapshots implements SnapshotsApi {
  constructor(private readonly fs: FsClient) {}
  async create(name: string): Promise<SnapshotView> {
    return snapshotView(await this.fs.snapshotCreate(name));
  }
  async list(): Promise<SnapshotView[]> {
    return (await this.fs.snapshotList()).map(snapshotView);
  }
  async show(name: string): Promise<SnapshotView> {
    const s = (await this.fs.snapshotList()).find((x) => x.name === name);
    if (!s) await this.fs.snapshotDiff(name, name); // ENOENT from the filesystem, as the other commands get it
    return snapshotView(s!);
  }
  async diff(from: string, to?: string): Promise<DiffEntryView[]> {
    return (await this.fs.snapshotDiff(from, to)).entries.map((e) => ({ path: e.path, change: e.change, ...(e.from === undefined ? {} : { from: e.from }), type: e.type, sizeBytesBefore: e.sizeBytesBefore, sizeBytesAfter: e.sizeBytesAfter }));
  }
  async restore(name: string): Promise<void> {
    await this.fs.snapshotRestore(name);
  }
  async delete(name: string): Promise<void> {
    await this.fs.snapshotDelete(name);
  }
}

/** Clients for every layer some running service provides, plus `overrides`. */
export function backendsFor(system: ShellSystem, overrides: Partial<ShellBackends> = {}): ShellBackends {
  const provided = new Set<string>();
  // Snapshots and gc are services/fs's (its manifest names it 'fs'); a stand-in such as the
  // reference model serves the fs endpoint without them.
  let realFs = false;
  for (const s of system.kernel.serviceStats()) {
    if (s.state !== 'running') continue;
    for (const ep of s.provides) provided.add(ep);
    if (s.name === 'fs' && s.provides.includes(FS_ENDPOINT)) realFs = true;
  }
  const backends: ShellBackends = {};
  if (provided.has(FS_ENDPOINT)) {
    const fs = new FsClient(system.user);
    backends.fs = fs;
    if (realFs) backends.snapshots = new FsSnapshots(fs);
    if (realFs && provided.has(CONTENT_ENDPOINT)) backends.gc = { gc: () => fs.gc() };
  }
  if (provided.has(AXIOM_ENDPOINT)) backends.axiom = new AxiomClient(system.user);
  if (provided.has(BLOCK_ENDPOINT)) backends.block = new BlockClient(system.user);
  if (provided.has(CONTENT_ENDPOINT)) backends.content = new ContentClient(system.user);
  const all = { ...backends, ...overrides };
  if (all.fs && !all.fsck) all.fsck = new LiveFsck(all);
  return all;
}
