// A random-operation comparison of an fs implementation with the reference model: every
// reply compared (attributes without times), the trees compared, clean remounts in the
// middle. Shared by the engine test (in-memory seams) and the full-stack test.
import { expect } from 'vitest';
import fc from 'fast-check';
import { ServiceError } from '../../kernel/errors.ts';
import { ROOT_INO, type Attr, type FsClient } from '../../services/fs/protocol.ts';
import { FsModel, fingerprint } from '../../tools/model/fs-model.ts';

const NAMES = ['a', 'b', 'c'];

export type ModelOp =
  | { kind: 'mkdir' | 'unlink' | 'rmdir'; dir: number; name: string }
  | { kind: 'create'; dir: number; name: string }
  | { kind: 'open'; node: number; write: boolean; truncate: boolean }
  | { kind: 'close' | 'fsync'; h: number }
  | { kind: 'write'; h: number; offsetBytes: number; lengthBytes: number; seed: number }
  | { kind: 'read'; h: number; offsetBytes: number; lengthBytes: number }
  | { kind: 'truncate'; node: number; sizeBytes: number }
  | { kind: 'rename'; dir: number; name: string; dir2: number; name2: string }
  | { kind: 'link'; node: number; dir: number; name: string }
  | { kind: 'symlink'; dir: number; name: string }
  | { kind: 'sync' }
  | { kind: 'remount' };

const KIB = 1024;
// Offsets and sizes that straddle the 64 KiB page size and reach a few pages out.
const offsetArb = fc.oneof(fc.nat(300 * KIB), fc.constantFrom(0, 64 * KIB - 1, 64 * KIB, 128 * KIB + 7));
const lengthArb = fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.constantFrom(64 * KIB, 70 * KIB, 130 * KIB));

export const modelOpArb: fc.Arbitrary<ModelOp> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('mkdir' as const, 'unlink' as const, 'rmdir' as const), dir: fc.nat(9), name: fc.constantFrom(...NAMES) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('create' as const), dir: fc.nat(9), name: fc.constantFrom(...NAMES) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('open' as const), node: fc.nat(9), write: fc.boolean(), truncate: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('close' as const, 'fsync' as const), h: fc.nat(9) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('write' as const), h: fc.nat(9), offsetBytes: offsetArb, lengthBytes: lengthArb, seed: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('read' as const), h: fc.nat(9), offsetBytes: offsetArb, lengthBytes: lengthArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), node: fc.nat(9), sizeBytes: offsetArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rename' as const), dir: fc.nat(9), name: fc.constantFrom(...NAMES), dir2: fc.nat(9), name2: fc.constantFrom(...NAMES) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('link' as const), node: fc.nat(9), dir: fc.nat(9), name: fc.constantFrom(...NAMES) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('symlink' as const), dir: fc.nat(9), name: fc.constantFrom(...NAMES) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'sync' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'remount' as const }) },
);

function data(lengthBytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(lengthBytes);
  let x = seed | 1;
  for (let i = 0; i < lengthBytes; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = (i & 7) === 0 ? 0 : x >>> 24; // some zero bytes, never whole zero pages by chance alone
  }
  return out;
}

/** The parts of an Attr that both sides must agree on (times and space accounting differ by design). */
function shape(a: Attr): string {
  return `${a.type} ${a.mode.toString(8)} ${a.sizeBytes} nlink=${a.nlink} uid=${a.uid} gid=${a.gid}`;
}

async function outcome(f: () => Promise<unknown>): Promise<string> {
  try {
    const v = await f();
    if (v instanceof Uint8Array) return `bytes ${fingerprint(v)}`;
    if (v && typeof v === 'object' && 'type' in v && 'nlink' in v) return shape(v as Attr);
    return 'ok';
  } catch (e) {
    if (e instanceof ServiceError) return e.code;
    throw e;
  }
}

export async function dumpFs(fs: FsClient): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const visit = async (ino: number, path: string) => {
    const a = await fs.getattr(ino);
    let detail = '';
    if (a.type === 'file') {
      const { handle } = await fs.open(ino, { read: true });
      const chunks: Uint8Array[] = [];
      for (let off = 0; off < a.sizeBytes; off += 1 << 20) chunks.push(await fs.read(handle, off, 1 << 20));
      await fs.close(handle);
      detail = fingerprint(Buffer.concat(chunks));
    } else if (a.type === 'symlink') detail = `-> ${await fs.readlink(ino)}`;
    out[path || '/'] = `${a.type} ${a.mode.toString(8)} ${a.sizeBytes} nlink=${a.nlink} ${detail}`.trim();
    if (a.type === 'dir') {
      const names: [string, number][] = [];
      for (let cookie = 0; ; ) {
        const page = await fs.readdir(ino, cookie, 100);
        for (const e of page.entries) names.push([e.name, e.ino]);
        if (page.eof || page.entries.length === 0) break;
        cookie = page.entries[page.entries.length - 1].cookie;
      }
      for (const [name, child] of names.sort()) await visit(child, `${path}/${name}`);
    }
  };
  await visit(ROOT_INO, '');
  return out;
}

export interface Subject {
  fs: FsClient;
  remount: () => Promise<FsClient>;
  close: () => Promise<void>;
}

/** Runs one script against a fresh subject and the model; throws on the first disagreement. */
export async function runModelCheck(open: () => Promise<Subject>, script: ModelOp[]): Promise<void> {
  const subject = await open();
  let fs = subject.fs;
  const model = new FsModel();
  const mm = async (req: Parameters<FsModel['apply']>[0]) => model.apply(req);
  // Handles: pairs (model handle, subject handle).
  let handles: [number, number][] = [];
  try {
    for (const op of script) {
      const live = [...model.nodes.keys()].sort((x, y) => x - y);
      const node = (i: number) => live[i % live.length];
      const h = (i: number) => handles[i % Math.max(1, handles.length)];
      let mine = 'skip';
      let theirs = 'skip';
      switch (op.kind) {
        case 'mkdir':
          mine = await outcome(() => fs.mkdir(node(op.dir), op.name, 0o755));
          theirs = await outcome(() => mm({ op: 'mkdir', parent: node(op.dir), name: op.name, mode: 0o755 }));
          break;
        case 'create': {
          let sh = -1;
          let mh = -1;
          mine = await outcome(async () => ((sh = (await fs.create(node(op.dir), op.name, 0o644)).handle), 0));
          theirs = await outcome(async () => ((mh = (model.apply({ op: 'create', parent: node(op.dir), name: op.name, mode: 0o644, flags: { read: true, write: true } }) as { handle: number }).handle), 0));
          if (sh >= 0 && mh >= 0) handles.push([mh, sh]);
          break;
        }
        case 'open': {
          const flags = { read: true, write: op.write, truncate: op.write && op.truncate };
          let sh = -1;
          let mh = -1;
          mine = await outcome(async () => ((sh = (await fs.open(node(op.node), flags)).handle), 0));
          theirs = await outcome(async () => ((mh = (model.apply({ op: 'open', ino: node(op.node), flags }) as { handle: number }).handle), 0));
          if (sh >= 0 && mh >= 0) handles.push([mh, sh]);
          break;
        }
        case 'close':
        case 'fsync': {
          const pair = h(op.h);
          if (!pair) break;
          mine = await outcome(() => (op.kind === 'close' ? fs.close(pair[1]) : fs.fsync(pair[1])));
          theirs = await outcome(() => mm({ op: op.kind, handle: pair[0] }));
          if (op.kind === 'close') handles = handles.filter((x) => x !== pair);
          break;
        }
        case 'write': {
          const pair = h(op.h);
          if (!pair) break;
          const bytes = data(op.lengthBytes, op.seed);
          mine = await outcome(() => fs.write(pair[1], op.offsetBytes, bytes));
          theirs = await outcome(() => mm({ op: 'write', handle: pair[0], offsetBytes: op.offsetBytes, data: bytes }));
          break;
        }
        case 'read': {
          const pair = h(op.h);
          if (!pair) break;
          mine = await outcome(() => fs.read(pair[1], op.offsetBytes, op.lengthBytes));
          theirs = await outcome(async () => (model.apply({ op: 'read', handle: pair[0], offsetBytes: op.offsetBytes, lengthBytes: op.lengthBytes }) as { data: Uint8Array }).data);
          break;
        }
        case 'truncate':
          mine = await outcome(() => fs.truncate(node(op.node), op.sizeBytes));
          theirs = await outcome(() => mm({ op: 'truncate', ino: node(op.node), sizeBytes: op.sizeBytes }));
          break;
        case 'rename':
          mine = await outcome(() => fs.rename(node(op.dir), op.name, node(op.dir2), op.name2));
          theirs = await outcome(() => mm({ op: 'rename', parent: node(op.dir), name: op.name, newParent: node(op.dir2), newName: op.name2 }));
          break;
        case 'link':
          mine = await outcome(() => fs.link(node(op.node), node(op.dir), op.name));
          theirs = await outcome(() => mm({ op: 'link', ino: node(op.node), parent: node(op.dir), name: op.name }));
          break;
        case 'unlink':
        case 'rmdir':
          mine = await outcome(() => (op.kind === 'unlink' ? fs.unlink(node(op.dir), op.name) : fs.rmdir(node(op.dir), op.name)));
          theirs = await outcome(() =>
            mm(op.kind === 'unlink' ? { op: 'unlink', parent: node(op.dir), name: op.name } : { op: 'rmdir', parent: node(op.dir), name: op.name }),
          );
          break;
        case 'symlink':
          mine = await outcome(() => fs.symlink(node(op.dir), op.name, 'target'));
          theirs = await outcome(() => mm({ op: 'symlink', parent: node(op.dir), name: op.name, target: 'target' }));
          break;
        case 'sync':
          mine = await outcome(() => fs.sync());
          theirs = 'ok';
          break;
        case 'remount':
          // A clean unmount: everything synced, every handle closed.
          await fs.sync();
          for (const [mh] of handles) model.apply({ op: 'close', handle: mh });
          handles = [];
          fs = await subject.remount();
          mine = theirs = 'ok';
          break;
      }
      expect(mine, JSON.stringify(op)).toBe(theirs);
    }
    await fs.sync();
    for (const [mh] of handles) model.apply({ op: 'close', handle: mh });
    for (const [, sh] of handles) await fs.close(sh);
    expect(await dumpFs(fs)).toEqual(model.dump());
    fs = await subject.remount();
    expect(await dumpFs(fs)).toEqual(model.dump());
  } finally {
    await subject.close();
  }
}
