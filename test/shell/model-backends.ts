/**
 * Model backends for the layers the shell will talk to once they land: snapshots and
 * content (dedup figures, gc), each written over the fs protocol client alone, small
 * and obvious, so the shell's snapshot, df and gc output can be tested now.
 * They are not the design of those layers: a snapshot here is a full copy of the tree
 * held in memory (the real one is a Merkle root in the content store), and the dedup
 * figures come from hashing fixed 4 KiB chunks of every file.
 */
import { createHash } from 'node:crypto';
import { ServiceError } from '../../kernel/errors.ts';
import { checkName, type FileType, type Timespec } from '../../services/fs/protocol.ts';
import type { ContentApi, ContentStatsView, DiffEntryView, FsApi, GcApi, GcReportView, SnapshotsApi, SnapshotView } from '../../tools/shell/backends.ts';
import { listDir, parentOf, readFile, stat, walk, writeFile } from '../../tools/shell/fsops.ts';
import { join } from '../../tools/shell/paths.ts';

const CHUNK_SIZE_BYTES = 4096;

interface StoredNode {
  type: FileType;
  mode: number;
  mtime: Timespec;
  data?: Uint8Array;
  target?: string;
  hash: string;
}

export interface StoredSnapshot {
  name: string;
  createdAt: Timespec;
  /** Path -> node, in walk order (parents before children). */
  nodes: Map<string, StoredNode>;
}

export interface SnapshotStore {
  readonly snapshots: Map<string, StoredSnapshot>;
  now(): Timespec;
}

function sha(...parts: (string | Uint8Array)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/** Reads the live tree into path -> node with Merkle hashes (a directory's covers its subtree). */
async function capture(fs: FsApi): Promise<Map<string, StoredNode>> {
  const nodes = new Map<string, StoredNode>();
  const children = new Map<string, string[]>();
  await walk(fs, '/', await stat(fs, '/'), async (e) => {
    const n: StoredNode = { type: e.attr.type, mode: e.attr.mode, mtime: e.attr.mtime, hash: '' };
    if (e.attr.type === 'file') n.data = await readFile(fs, e.path);
    if (e.attr.type === 'symlink') n.target = await fs.readlink(e.attr.ino);
    nodes.set(e.path, n);
    if (e.path !== '/') {
      const parent = e.path.slice(0, e.path.lastIndexOf('/')) || '/';
      children.get(parent)?.push(e.path);
    }
    if (e.attr.type === 'dir') children.set(e.path, []);
  }, (e) => {
    const n = nodes.get(e.path)!;
    if (n.type === 'file') n.hash = sha('file', String(n.mode), n.data!);
    else if (n.type === 'symlink') n.hash = sha('symlink', n.target!);
    else n.hash = sha('dir', String(n.mode), ...children.get(e.path)!.map((c) => `${c.slice(c.lastIndexOf('/') + 1)}:${nodes.get(c)!.hash};`));
  });
  return nodes;
}

function view(s: StoredSnapshot): SnapshotView {
  let fileCount = 0;
  let dirCount = 0;
  let sizeBytes = 0;
  for (const [path, n] of s.nodes) {
    if (n.type === 'dir' && path !== '/') dirCount++;
    if (n.type !== 'dir') fileCount++;
    sizeBytes += n.data?.length ?? 0;
  }
  return { name: s.name, rootHash: s.nodes.get('/')!.hash, createdAt: s.createdAt, fileCount, dirCount, sizeBytes };
}

function diffTrees(a: Map<string, StoredNode>, b: Map<string, StoredNode>): DiffEntryView[] {
  const out: DiffEntryView[] = [];
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
  const collapsed: string[] = [];
  const under = (p: string) => collapsed.some((c) => p.startsWith(c + '/'));
  for (const path of paths) {
    if (path === '/' || under(path)) continue;
    const x = a.get(path);
    const y = b.get(path);
    if (x && y && x.hash === y.hash) {
      if (x.type === 'dir') collapsed.push(path); // an equal subtree: nothing under it changed
      continue;
    }
    if (!x) {
      out.push({ path, change: 'added', type: y!.type, sizeBytesAfter: y!.data?.length });
      if (y!.type === 'dir') collapsed.push(path);
    } else if (!y) {
      out.push({ path, change: 'removed', type: x.type, sizeBytesBefore: x.data?.length });
      if (x.type === 'dir') collapsed.push(path);
    } else if (x.type !== y.type) {
      out.push({ path, change: 'type', type: y.type });
      collapsed.push(path);
    } else if (x.type !== 'dir' || x.mode !== y.mode) {
      out.push({ path, change: 'modified', type: y.type, sizeBytesBefore: x.data?.length, sizeBytesAfter: y.data?.length });
    }
  }
  return out;
}

export class ModelSnapshots implements SnapshotsApi {
  constructor(
    private readonly fs: FsApi,
    private readonly store: SnapshotStore,
  ) {}

  private get(name: string): StoredSnapshot {
    const s = this.store.snapshots.get(name);
    if (!s) throw new ServiceError('ENOENT', `no snapshot '${name}'`);
    return s;
  }

  async create(name: string): Promise<SnapshotView> {
    checkName(name, 'snapshot name');
    if (this.store.snapshots.has(name)) throw new ServiceError('EEXIST', `snapshot '${name}' exists`);
    const s: StoredSnapshot = { name, createdAt: this.store.now(), nodes: await capture(this.fs) };
    this.store.snapshots.set(name, s);
    return view(s);
  }

  async list(): Promise<SnapshotView[]> {
    return [...this.store.snapshots.values()].map(view);
  }

  async show(name: string): Promise<SnapshotView> {
    return view(this.get(name));
  }

  async diff(from: string, to?: string): Promise<DiffEntryView[]> {
    return diffTrees(this.get(from).nodes, to === undefined ? await capture(this.fs) : this.get(to).nodes);
  }

  async restore(name: string): Promise<void> {
    const s = this.get(name);
    const root = await stat(this.fs, '/');
    for (const e of await listDir(this.fs, root.ino, '/')) {
      await walk(this.fs, join('/', e.name), await this.fs.getattr(e.ino), () => {}, async (w) => {
        const { parent, name: n } = await parentOf(this.fs, w.path);
        await (w.attr.type === 'dir' ? this.fs.rmdir(parent.ino, n) : this.fs.unlink(parent.ino, n));
      });
    }
    for (const [path, node] of s.nodes) {
      if (path === '/') continue;
      const { parent, name: n } = await parentOf(this.fs, path);
      if (node.type === 'dir') await this.fs.mkdir(parent.ino, n, node.mode);
      else if (node.type === 'symlink') await this.fs.symlink(parent.ino, n, node.target!);
      else {
        await writeFile(this.fs, path, node.data!);
        const a = await stat(this.fs, path);
        await this.fs.setattr(a.ino, { mode: node.mode, mtime: node.mtime });
      }
    }
  }

  async delete(name: string): Promise<void> {
    this.get(name);
    this.store.snapshots.delete(name);
  }
}

export class ModelContent implements ContentApi, GcApi {
  constructor(
    private readonly fs: FsApi,
    private readonly store: SnapshotStore,
  ) {}

  private async chunks(): Promise<{ logicalBytes: number; unique: Map<string, number> }> {
    const unique = new Map<string, number>();
    const add = (data: Uint8Array) => {
      for (let off = 0; off < data.length; off += CHUNK_SIZE_BYTES) {
        const piece = data.subarray(off, off + CHUNK_SIZE_BYTES);
        unique.set(sha(piece), piece.length);
      }
    };
    let logicalBytes = 0;
    for (const n of (await capture(this.fs)).values()) {
      if (!n.data) continue;
      logicalBytes += n.data.length;
      add(n.data);
    }
    for (const s of this.store.snapshots.values()) for (const n of s.nodes.values()) if (n.data) add(n.data);
    return { logicalBytes, unique };
  }

  async stats(): Promise<ContentStatsView> {
    const { logicalBytes, unique } = await this.chunks();
    let storedBytes = 0;
    for (const len of unique.values()) storedBytes += len;
    return { chunkCount: unique.size, logicalBytes, storedBytes };
  }

  async gc(): Promise<GcReportView> {
    const { unique } = await this.chunks();
    return { rootCount: 1 + this.store.snapshots.size, liveChunks: unique.size, sweptChunks: 0, sweptBytes: 0, freedBlocks: 0 };
  }
}
