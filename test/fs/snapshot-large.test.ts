// Snapshots of files whose manifest passes one chunk: the indirect form of tree.ts ('F',
// naming parts). At the object level with a lowered limit (round trip, old form still read,
// small files unchanged, EFBIG past one level); in the engine with a file of 30,000 pages
// (1.9 GiB; every page the same chunk, written by replaying records, so the test moves no
// GiB): create, read under /.snapshots, GC roots, remount, checkpoint image, restore.
import { describe, expect, it } from 'vitest';
import { blake3 } from '@noble/hashes/blake3.js';
import { decode } from '../../kernel/codec.ts';
import { ROOT_INO } from '../../services/fs/protocol.ts';
import { PAGE_SIZE_BYTES } from '../../services/fs/limits.ts';
import { hashKey } from '../../services/fs/pages.ts';
import { decodeObject, encodeStored, hashObject, OBJECT_SIZE_BYTES_MAX, partsNamed, type PageTuple, type TreeObject } from '../../services/fs/tree.ts';
import type { FsRecord } from '../../services/fs/records.ts';
import { MemChunks, MemLog, fixedNow, memFs } from './mem-seams.ts';
import { codeOf, patterned } from '../helpers/stack.ts';

function file(pageCount: number): Extract<TreeObject, { kind: 'file' }> {
  const pages: PageTuple[] = Array.from({ length: pageCount }, (_, i) => [i * 2, i % 5 === 0 ? null : blake3(new Uint8Array([i & 255, i >> 8])), 65536]);
  return { kind: 'file', mode: 0o644, uid: 1, gid: 2, sizeBytes: pageCount * 2 * 65536, mtime: [5, 6], pages };
}

describe('indirect file manifests (tree.ts)', () => {
  it('split a manifest past the limit into parts, read back whole; small ones keep the old form', () => {
    const big = file(100);
    const stored = encodeStored(big, 2000, 20);
    expect(stored.parts.length).toBe(5);
    expect((decode(stored.bytes) as unknown[])[0]).toBe('F');
    expect(partsNamed(stored.bytes).map(hashKey)).toEqual(stored.parts.map((p) => hashKey(hashObject(p))));
    const byHash = new Map(stored.parts.map((p) => [hashKey(hashObject(p)), p]));
    const back = decodeObject(stored.bytes, (h) => byHash.get(hashKey(h)));
    expect(back).toEqual({ ...big, parts: stored.parts.map(hashObject) });
    expect(() => decodeObject(stored.bytes)).toThrow(/not available/);
    const tampered = new Map(byHash);
    tampered.set(hashKey(hashObject(stored.parts[0])), stored.parts[1]);
    expect(() => decodeObject(stored.bytes, (h) => tampered.get(hashKey(h)))).toThrow(/does not hash/);
    // A small file is the 'f' form, byte for byte what it was before 'F' existed.
    const small = file(3);
    const s = encodeStored(small);
    expect(s.parts).toEqual([]);
    expect((decode(s.bytes) as unknown[])[0]).toBe('f');
    expect(decodeObject(s.bytes)).toEqual(small);
    // Past one level of parts: EFBIG.
    expect(() => encodeStored(file(400), 300, 2)).toThrow(expect.objectContaining({ code: 'EFBIG' }));
  });
});

describe('snapshots of a file with a manifest larger than a chunk', () => {
  it('create, read, keep through gc roots, remount, checkpoint and restore', async () => {
    const PAGES = 30_000; // about 1.3 MiB of 'f' manifest: past OBJECT_SIZE_BYTES_MAX
    const chunks = new MemChunks();
    const log = new MemLog();
    const page = patterned(PAGE_SIZE_BYTES, 9);
    const [pageHash] = await chunks.put([page]);
    const t = fixedNow();
    const ino = 2;
    const sizeBytes = PAGES * PAGE_SIZE_BYTES;
    await log.commit([{ type: 'FsCreate', payload: { parent: ROOT_INO, name: 'big', ino, mode: 0o644, uid: 0, gid: 0, t } }], []);
    for (let i = 0; i < PAGES; i += 1024) {
      const pages = Array.from({ length: Math.min(1024, PAGES - i) }, (_, k) => ({ index: i + k, hash: pageHash, lengthBytes: PAGE_SIZE_BYTES }));
      const r: FsRecord = { type: 'FsWrite', payload: { ino, pages, sizeBytes, t } };
      await log.commit([r], []);
    }
    const m = await memFs(chunks, log);
    const fs = m.fs;
    expect((await fs.resolve('/big')).sizeBytes).toBe(sizeBytes);
    await fs.snapshotCreate('big');
    const roots = new Set([...m.engine().liveChunks()].map(hashKey));
    const isPart = (bytes: Uint8Array) => {
      try {
        return (decode(bytes) as unknown[])[0] === 'p';
      } catch {
        return false; // a page of data
      }
    };
    const held = [...chunks.chunks.entries()].filter(([, bytes]) => isPart(bytes));
    expect(held.length).toBe(2); // 30,000 pages: two parts
    for (const [k] of held) expect(roots.has(k)).toBe(true); // gc keeps the parts
    expect(held.every(([, bytes]) => bytes.length <= OBJECT_SIZE_BYTES_MAX)).toBe(true);
    const readAt = async (path: string, offsetBytes: number) => {
      const { handle } = await fs.open((await fs.resolve(path)).ino, { read: true });
      const out = await fs.read(handle, offsetBytes, 100);
      await fs.close(handle);
      return out;
    };
    const last = (PAGES - 1) * PAGE_SIZE_BYTES + 1000;
    expect(Buffer.compare(await readAt('/.snapshots/big/big', last), page.subarray(1000, 1100))).toBe(0);
    await fs.truncate(ino, 0);
    // Remount: replay loads the tree from the store, parts included.
    let fs2 = await m.remount();
    await fs2.snapshotRestore('big');
    expect((await fs2.resolve('/big')).sizeBytes).toBe(sizeBytes);
    const { handle } = await fs2.open((await fs2.resolve('/big')).ino, { read: true });
    expect(Buffer.compare(await fs2.read(handle, last, 100), page.subarray(1000, 1100))).toBe(0);
    await fs2.close(handle);
    // A checkpoint image carries the parts; the diff of two such trees reads both.
    await m.engine().checkpoint();
    fs2 = await m.remount();
    expect((await fs2.snapshotDiff('big')).entries).toEqual([]);
    expect((await fs2.snapshotDiff('big', 'pre-restore-1')).entries.map((e) => `${e.change} ${e.path} ${e.what?.join(',')}`)).toEqual(['modified /big content,size']);
    expect(await codeOf(fs2.snapshotCreate('big'))).toBe('EEXIST');
    m.engine().checkState();
    await m.close();
  });
});
