/**
 * `strata inspect IMAGE chunk HASH` and `strata inspect IMAGE path PATH`, from the same
 * read-only pass as fsck (index.ts examineImage): the content index and the filesystem
 * state rebuilt offline, so what inspect shows is what a mount would serve.
 *
 * chunk: where it lives (blocks, bitmap state), its length, refcount, whether its bytes
 * hash to its name, the live and snapshot paths naming it, and a hex/ascii preview.
 * path: the inode's attributes, and its pages (file: index, length, chunk hash, block
 * address, verified), entries (directory) or target (symlink). Paths are of the live tree,
 * resolved without following symlinks; under /.snapshots/NAME they are resolved in that
 * snapshot's Merkle tree and show the tree object (its hash, attributes, pages or entries).
 */
import { hexOf } from '../../services/content/errors.ts';
import { ROOT_INO } from '../../services/fs/protocol.ts';
import type { Inode } from '../../services/fs/state.ts';
import type { Time } from '../../services/fs/records.ts';
import { decodeObject, partsNamed, type NodeObject } from '../../services/fs/tree.ts';
import { chunkBytes } from './content.ts';
import type { ImageExamination } from './index.ts';
import { PREVIEW_SIZE_BYTES } from './limits.ts';

export interface Described {
  ok: boolean;
  text: string;
  data: unknown;
}


export class DescribeError extends Error {}

function rebuilt(x: ImageExamination): asserts x is ImageExamination & Required<Pick<ImageExamination, 'content' | 'state'>> {
  if (!x.content || !x.state) throw new DescribeError(`the image's metadata cannot be rebuilt: ${x.findings.problems.map((p) => p.message).join('; ')}`);
}

/** A hex/ascii dump, 16 bytes a line, as `xxd`. */
export function hexDump(bytes: Uint8Array, baseOffset = 0): string[] {
  const lines: string[] = [];
  for (let at = 0; at < bytes.length; at += 16) {
    const row = bytes.subarray(at, at + 16);
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`  ${(baseOffset + at).toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines;
}

function isAllocated(x: ImageExamination, blockIndex: number, blockCount: number): boolean | undefined {
  const bits = x.view.bits;
  if (!bits) return undefined;
  for (let i = blockIndex; i < blockIndex + blockCount; i++) if (!(bits[i >>> 3] & (1 << (i & 7)))) return false;
  return true;
}

export async function describeChunk(x: ImageExamination, hashText: string): Promise<Described> {
  rebuilt(x);
  const want = hashText.toLowerCase();
  if (!/^[0-9a-f]{4,64}$/.test(want)) throw new DescribeError(`'${hashText}' is not a chunk hash (4 to 64 hex digits)`);
  const matches = [...x.content.index.values()].filter((e) => hexOf(e.hash).startsWith(want));
  if (matches.length === 0) throw new DescribeError(`no chunk ${want}${want.length < 64 ? '...' : ''} in the content index`);
  if (matches.length > 1) throw new DescribeError(`${matches.length} chunks start with ${want}; give more digits`);
  const e = matches[0];
  const hex = hexOf(e.hash);
  const ioError = x.content.unreadable.get(hex);
  const bytes = ioError === undefined ? await chunkBytes(x.view, e) : new Uint8Array(0);
  const verified = !x.content.badChunks.has(hex);
  const allocated = isAllocated(x, e.blockIndex, e.blockCount);
  const live: string[] = [];
  for (const n of x.state.inodes.values()) {
    if (!n.pages) continue;
    for (const [index, p] of n.pages) if (p.hash && hexOf(p.hash) === hex) live.push(`${x.namespace?.pathsOf.get(n.ino)?.[0] ?? `inode ${n.ino} (unlinked)`} page ${index}`);
  }
  const snapshots = x.snapshots?.pathsOf.get(hex) ?? [];
  const lines = [
    `chunk ${hex}`,
    `length ${e.sizeBytes} bytes in ${e.blockCount} block(s) at [${e.blockIndex}, +${e.blockCount}) (byte offset ${e.blockIndex * 4096}); bitmap: ${allocated === undefined ? 'unreadable' : allocated ? 'allocated' : 'FREE (fsck: in-use-free)'}`,
    `refcount ${e.refcount}`,
    `hash ${verified ? 'verified' : ioError !== undefined ? `UNREADABLE: ${ioError}` : 'MISMATCH: the bytes do not hash to the name'}`,
    `named by: ${live.length ? live.slice(0, 20).join(', ') : 'no live file'}${snapshots.length ? `; snapshots: ${snapshots.join(', ')}` : ''}`,
    `first ${Math.min(PREVIEW_SIZE_BYTES, bytes.length)} of ${bytes.length} bytes:`,
    ...hexDump(bytes.subarray(0, PREVIEW_SIZE_BYTES)),
  ];
  return {
    ok: verified && allocated !== false,
    text: lines.join('\n'),
    data: { hash: hex, sizeBytes: e.sizeBytes, blockIndex: e.blockIndex, blockCount: e.blockCount, refcount: e.refcount, verified, allocated, namedBy: live, snapshots, preview: Buffer.from(bytes.subarray(0, PREVIEW_SIZE_BYTES)).toString('hex') },
  };
}

const fmtTime = (t: Time) => `${new Date(t[0] * 1000).toISOString().replace('.000Z', 'Z')} (+${t[1]} ns)`;

function resolve(x: ImageExamination & { state: NonNullable<ImageExamination['state']> }, path: string): Inode {
  if (!path.startsWith('/')) throw new DescribeError(`'${path}' is not an absolute path`);
  let n = x.state.inode(ROOT_INO);
  let at = '';
  for (const name of path.split('/').filter(Boolean)) {
    if (!n.dir) throw new DescribeError(`${at || '/'} is not a directory`);
    const next = name === '.' ? n.ino : name === '..' ? n.dir.parent : n.dir.entries.get(name)?.ino;
    at += `/${name}`;
    const child = next === undefined ? undefined : x.state.get(next);
    if (!child) throw new DescribeError(`${at}: no such file or directory`);
    n = child;
  }
  return n;
}

/** One page row: index, length, chunk, where it lives, whether it verified. */
function pageRow(x: ImageExamination & { content: NonNullable<ImageExamination['content']> }, index: number, hash: Uint8Array | null, lengthBytes: number, lines: string[]): { row: Record<string, unknown>; ok: boolean } {
  if (!hash) {
    lines.push(`  ${String(index).padStart(7)}  ${String(lengthBytes).padStart(8)}  (hole)`);
    return { row: { index, lengthBytes, hash: null }, ok: true };
  }
  const hex = hexOf(hash);
  const e = x.content.index.get(hex);
  const check = !e ? 'MISSING' : x.content.unreadable.has(hex) ? 'UNREADABLE' : x.content.badChunks.has(hex) ? 'BAD HASH' : 'ok';
  const where = e ? `[${e.blockIndex}, +${e.blockCount})` : '-';
  lines.push(`  ${String(index).padStart(7)}  ${String(lengthBytes).padStart(8)}  ${hex}  ${where.padEnd(21)}  ${check}`);
  return { row: { index, lengthBytes, hash: hex, blockIndex: e?.blockIndex, blockCount: e?.blockCount, check }, ok: check === 'ok' };
}

const PAGES_HEADER = '     page    length  chunk                                                             blocks                 check';

async function describeSnapshotPath(x: ImageExamination & Required<Pick<ImageExamination, 'content' | 'state'>>, path: string): Promise<Described> {
  const [, , name, ...rest] = path.split('/');
  if (!name) {
    const lines = [`/.snapshots: ${x.state.snapshots.size} snapshot(s)`];
    for (const [n, s] of x.state.snapshots) lines.push(`  ${n}  root ${hexOf(s.root)}  taken ${fmtTime(s.t)}`);
    return { ok: true, text: lines.join('\n'), data: [...x.state.snapshots].map(([n, s]) => ({ name: n, root: hexOf(s.root), t: s.t })) };
  }
  const snap = x.state.snapshots.get(name);
  if (!snap) throw new DescribeError(`/.snapshots/${name}: no such snapshot`);
  const load = async (hash: Uint8Array, at: string): Promise<NodeObject> => {
    const bytes = await x.content.read(hash);
    if (!bytes) throw new DescribeError(`${at}: tree object ${hexOf(hash)} is missing or damaged`);
    const parts = new Map<string, Uint8Array>(); // an indirect file manifest's parts, a split directory's pieces
    for (const p of partsNamed(bytes)) {
      const pb = await x.content.read(p);
      if (!pb) throw new DescribeError(`${at}: manifest part or directory piece ${hexOf(p)} is missing or damaged`);
      parts.set(hexOf(p), pb);
    }
    const obj = decodeObject(bytes, (h) => parts.get(hexOf(h)));
    if (obj.kind === 'piece') throw new DescribeError(`${at}: tree object ${hexOf(hash)} is a directory piece, not a file, directory or symlink`);
    return obj;
  };
  let hash = snap.root;
  let at = `/.snapshots/${name}`;
  let obj = await load(hash, at);
  for (const part of rest.filter(Boolean)) {
    if (obj.kind !== 'dir') throw new DescribeError(`${at} is not a directory`);
    const entry = obj.entries.find((e) => e[0] === part);
    at += `/${part}`;
    if (!entry) throw new DescribeError(`${at}: no such file or directory`);
    hash = entry[2];
    obj = await load(hash, at);
  }
  const lines = [`${path}: tree object ${hexOf(hash)}, ${obj.kind}, mode ${obj.mode.toString(8).padStart(4, '0')}, uid ${obj.uid}, gid ${obj.gid}${obj.kind === 'file' ? `, size ${obj.sizeBytes} bytes` : ''}`, `  mtime ${fmtTime(obj.mtime)} (snapshot '${name}', read-only)`];
  const data: Record<string, unknown> = { object: hexOf(hash), kind: obj.kind, mode: obj.mode, uid: obj.uid, gid: obj.gid, mtime: obj.mtime };
  let ok = true;
  if (obj.kind === 'file') {
    data.sizeBytes = obj.sizeBytes;
    lines.push(`  ${obj.pages.length} page(s) of 64 KiB (pages not listed are holes):`, PAGES_HEADER);
    data.pages = obj.pages.map(([index, h, lengthBytes]) => {
      const r = pageRow(x, index, h, lengthBytes, lines);
      ok &&= r.ok;
      return r.row;
    });
  } else if (obj.kind === 'dir') {
    lines.push(`  ${obj.entries.length} entr${obj.entries.length === 1 ? 'y' : 'ies'}${obj.pieces ? `, stored split in ${obj.pieces.length} piece(s)` : ''}:`);
    if (obj.pieces) data.pieces = obj.pieces.map((p) => ({ object: hexOf(p.hash), entries: p.count }));
    data.entries = obj.entries.map(([n, type, h]) => (lines.push(`    ${type.padEnd(7)}  ${hexOf(h).slice(0, 16)}  ${n}`), { name: n, type, object: hexOf(h) }));
  } else {
    lines.push(`  -> ${obj.target}`);
    data.target = obj.target;
  }
  return { ok, text: lines.join('\n'), data };
}

export async function describePath(x: ImageExamination, path: string): Promise<Described> {
  rebuilt(x);
  if (path === '/.snapshots' || path.startsWith('/.snapshots/')) return describeSnapshotPath(x, path.replace(/\/+$/, ''));
  const n = resolve(x, path);
  const lines = [
    `${path}: inode ${n.ino}, ${n.type}, mode ${n.mode.toString(8).padStart(4, '0')}, uid ${n.uid}, gid ${n.gid}, nlink ${n.nlink}, size ${n.sizeBytes} bytes, data version ${n.dataVersion}`,
    `  atime ${fmtTime(n.atime)}  mtime ${fmtTime(n.mtime)}  ctime ${fmtTime(n.ctime)}`,
  ];
  const names = x.namespace?.pathsOf.get(n.ino) ?? [];
  if (names.length > 1) lines.push(`  names: ${names.join(', ')}`);
  let ok = true;
  const data: Record<string, unknown> = { ino: n.ino, type: n.type, mode: n.mode, uid: n.uid, gid: n.gid, nlink: n.nlink, sizeBytes: n.sizeBytes, atime: n.atime, mtime: n.mtime, ctime: n.ctime, dataVersion: n.dataVersion, names };
  if (n.pages) {
    const pages = [...n.pages].sort((a, b) => a[0] - b[0]);
    lines.push(`  ${pages.length} page(s) of 64 KiB (pages not listed are holes):`, PAGES_HEADER);
    data.pages = pages.map(([index, p]) => {
      const r = pageRow(x, index, p.hash, p.lengthBytes, lines);
      ok &&= r.ok;
      return r.row;
    });
  } else if (n.dir) {
    lines.push(`  parent inode ${n.dir.parent}; ${n.dir.entries.size} entr${n.dir.entries.size === 1 ? 'y' : 'ies'}:`);
    data.entries = [...n.dir.entries].map(([name, e]) => {
      const type = x.state.get(e.ino)?.type ?? 'MISSING';
      lines.push(`    ${String(e.ino).padStart(8)}  ${type.padEnd(7)}  ${name}`);
      return { name, ino: e.ino, type, cookie: e.cookie };
    });
  } else {
    lines.push(`  -> ${n.target}`);
    data.target = n.target;
  }
  return { ok, text: lines.join('\n'), data };
}
