/**
 * Maps each protocol request onto the engine, and shapes the replies the protocol
 * promises (services/fs/protocol.ts). One table of named handlers, no logic of its own.
 *
 * The by-grant ops reach the caller's memory only through `env.memory.grantView`: the
 * kernel checks each segment's grant, rights ('r' to write from it, 'w' to read into it)
 * and bounds before any byte moves, and refuses (GRANT, counted) otherwise.
 */
import { ServiceError } from '../../kernel/errors.ts';
import type { ServiceMemory } from '../../kernel/service.ts';
import type { Filesystem } from './filesystem.ts';
import type { FsRequest, FsOp, Segment } from './protocol.ts';

export interface Usage {
  blockCount: number;
  blocksFree: number;
}

/** What handlers need besides the engine: free space (statfs) and the service's memory (by-grant ops; without it they are refused). */
interface DispatchEnv {
  usage: () => Promise<Usage>;
  memory?: Pick<ServiceMemory, 'grantView'>;
}

type Handlers = { [K in FsOp]: (fs: Filesystem, req: Extract<FsRequest, { op: K }>, env: DispatchEnv) => unknown };

function views(env: DispatchEnv, segments: Segment[], need: 'r' | 'w'): Uint8Array[] {
  const memory = env.memory;
  if (!memory) throw new ServiceError('GRANT', 'this filesystem takes no grants (it was given no memory)');
  return segments.map((s) => memory.grantView(s.grantId, need, s.offsetBytes, s.lengthBytes));
}

const handlers: Handlers = {
  getattr: (fs, r) => fs.getattr(r.ino),
  setattr: (fs, r) => fs.setattr(r.ino, r.set),
  lookup: (fs, r) => fs.lookup(r.parent, r.name),
  walk: (fs, r) => fs.walk(r.ino, r.names),
  resolve: (fs, r) => fs.resolve(r.path, r.followLast !== false),
  create: (fs, r) => fs.create(r.parent, r.name, r.mode, r.flags ?? { read: true, write: true }, r.uid, r.gid),
  open: (fs, r) => fs.open(r.ino, r.flags),
  close: async (fs, r) => (await fs.close(r.handle), {}),
  read: async (fs, r) => ({ data: await fs.read(r.handle, r.offsetBytes, r.lengthBytes) }),
  write: async (fs, r) => ({ countBytes: await fs.write(r.handle, r.offsetBytes, r.data) }),
  readInto: async (fs, r, env) => ({ countBytes: await fs.readInto(r.handle, r.offsetBytes, r.lengthBytes, views(env, r.into, 'w')) }),
  writeFrom: async (fs, r, env) => ({ countBytes: await fs.write(r.handle, r.offsetBytes, views(env, r.from, 'r')) }),
  truncate: (fs, r) => fs.truncate(r.ino, r.sizeBytes),
  fsync: async (fs, r) => (await fs.fsync(r.handle), {}),
  mkdir: (fs, r) => fs.mkdir(r.parent, r.name, r.mode, r.uid, r.gid),
  rmdir: async (fs, r) => (await fs.rmdir(r.parent, r.name), {}),
  unlink: async (fs, r) => (await fs.unlink(r.parent, r.name), {}),
  readdir: (fs, r) => fs.readdir(r.ino, r.cookie, r.limit),
  rename: async (fs, r) => (await fs.rename(r.parent, r.name, r.newParent, r.newName), {}),
  link: (fs, r) => fs.link(r.ino, r.parent, r.name),
  symlink: (fs, r) => fs.symlink(r.parent, r.name, r.target, r.uid, r.gid),
  readlink: (fs, r) => ({ target: fs.readlink(r.ino) }),
  statfs: async (fs, _r, env) => fs.statfs(await env.usage()),
  sync: async (fs) => (await fs.sync(), {}),
  snapshotCreate: (fs, r) => fs.snapshots.create(r.name),
  snapshotList: async (fs) => ({ snapshots: await fs.snapshots.list() }),
  snapshotDelete: async (fs, r) => (await fs.snapshots.delete(r.name), {}),
  snapshotRestore: (fs, r) => fs.snapshots.restore(r.name),
  snapshotDiff: (fs, r) => fs.snapshots.diff(r.from, r.to),
  clone: (fs, r) => fs.snapshots.clone(r.ino, r.parent, r.name),
};

export function dispatchFs(fs: Filesystem, req: FsRequest, usage: () => Promise<Usage>, memory?: Pick<ServiceMemory, 'grantView'>): unknown {
  const h = handlers[req.op] as (fs: Filesystem, req: FsRequest, env: DispatchEnv) => unknown;
  return h(fs, req, { usage, memory });
}
