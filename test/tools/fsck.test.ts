// strata fsck as a library: a clean image is clean; each kind of planted corruption is
// found and named; the repairable ones are repaired (exit 1) and a second run is clean
// (exit 0); the others stay errors (exit 4) naming the files they affect.
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import type { DiskBackend } from '../../kernel/machine/disk/backend.ts';
import { bootSystem } from '../../tools/system.ts';
import { rec } from '../../axiom/protocol.ts';
import { encodeBitmapBlock, encodeSuperblock, readBitmap, readImage, setBits, testBit, countFree, BITMAP_BYTES_PER_BLOCK } from '../../services/block/format/index.ts';
import { homeReader } from '../../tools/fsck/block.ts';
import { examineImage, fsckImage, FsckOperationalError, type FsckReport } from '../../tools/fsck/index.ts';
import { hexOf } from '../../services/content/errors.ts';
import { ROOT_INO } from '../../services/fs/protocol.ts';
import { MiB, bootFsStack, formatTestDisk, patterned, writeWholeFile } from '../helpers/stack.ts';
import { sampleImage } from './fsck-image.ts';

const B = 4096;
const kinds = (r: FsckReport) => r.problems.map((p) => `${p.area}/${p.kind}`);

/** The index entry of the chunk holding page `page` of the file at `path`. */
async function chunkOf(disk: DiskBackend, path: string, page = 0) {
  const x = await examineImage(disk);
  const [first, ...rest] = path.split('/').filter(Boolean);
  let ino = x.state!.inode(ROOT_INO).dir!.entries.get(first)!.ino;
  for (const name of rest) ino = x.state!.inode(ino).dir!.entries.get(name)!.ino;
  const hash = x.state!.inode(ino).pages!.get(page)!.hash!;
  return x.content!.index.get(hexOf(hash))!;
}

/** Sets a data block's bit in the bitmap, keeping the free count in both superblocks in step (so only the bit is wrong). */
async function setBitmapBit(disk: DiskBackend, blockIndex: number, value: boolean): Promise<void> {
  const read = homeReader(disk);
  const image = await readImage(read, disk.sizeBytes / B);
  const { layout } = image.superblock;
  const seed = (await import('../../services/block/format/index.ts')).checksumSeed(image.superblock.uuid);
  const bits = await readBitmap(read, layout, seed);
  expect(testBit(bits, blockIndex)).toBe(!value);
  setBits(bits, blockIndex, 1, value);
  const ordinal = Math.floor(blockIndex / (BITMAP_BYTES_PER_BLOCK * 8));
  disk.write((layout.bitmap.blockIndex + ordinal) * B, encodeBitmapBlock(bits, ordinal, layout, seed));
  const sb = encodeSuperblock({ ...image.superblock, freeBlockCount: countFree(bits, layout) });
  disk.write(0, sb);
  disk.write(layout.spare.blockIndex * B, sb);
}

function flipByte(disk: DiskBackend, offsetBytes: number): void {
  const sector = Math.floor(offsetBytes / 512) * 512;
  const buf = new Uint8Array(512);
  disk.read(sector, buf);
  buf[offsetBytes - sector] ^= 0x5a;
  disk.write(sector, buf);
}

async function repairThenClean(disk: DiskBackend, kind: string): Promise<FsckReport> {
  const repaired = await fsckImage(disk, { repair: true, boot: { seed: 2 } });
  const p = repaired.problems.find((q) => `${q.area}/${q.kind}` === kind);
  expect(p?.repaired).toBe(true);
  expect(repaired.actions.length).toBeGreaterThan(0);
  expect(repaired.exitCode).toBe(1);
  const again = await fsckImage(disk, { repair: false });
  expect(kinds(again)).toEqual([]);
  expect(again.exitCode).toBe(0);
  return repaired;
}

describe('strata fsck', () => {
  it('finds nothing on a clean image with files, links, a symlink and a snapshot', async () => {
    const disk = await sampleImage();
    const r = await fsckImage(disk, { repair: false });
    expect(kinds(r)).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.checked.chunks).toBeGreaterThan(5);
    expect(r.checked.snapshots).toBe(1);
    expect(r.checked.inodes).toBe(6);
    // --repair on a clean image changes nothing and says so.
    const r2 = await fsckImage(disk, { repair: true });
    expect(r2.exitCode).toBe(0);
    expect(r2.actions).toEqual([]);
  });

  it('is clean on an image whose records are not checkpointed (replayed from the log)', async () => {
    const disk = await formatTestDisk(new MemoryBackend(32 * MiB));
    const sys = await bootFsStack(disk, { seed: 3, fsCheckpoints: false });
    const x = await writeWholeFile(sys.fs!, ROOT_INO, 'x', patterned(150 * 1024, 5));
    await sys.fs!.snapshotCreate('s1');
    const d = await sys.fs!.mkdir(ROOT_INO, 'd');
    await sys.fs!.clone(x, d.ino, 'x-clone');
    await writeWholeFile(sys.fs!, d.ino, 'y', patterned(70 * 1024, 6));
    await sys.fs!.snapshotCreate('s2');
    await sys.fs!.snapshotRestore('s1');
    await sys.fs!.snapshotDelete('s2');
    await sys.shutdown();
    const r = await fsckImage(disk, { repair: false });
    expect(kinds(r)).toEqual([]);
    expect(r.checked['fs records replayed']).toBeGreaterThan(8);
    expect(r.checked.snapshots).toBe(2); // s1 and the tree the restore replaced
  });

  it('notes an unlinked file still open when the image was last written (the next mount frees it)', async () => {
    const disk = await formatTestDisk(new MemoryBackend(32 * MiB));
    const sys = await bootFsStack(disk, { seed: 6 });
    const { handle } = await sys.fs!.create(ROOT_INO, 'tmp', 0o644);
    await sys.fs!.write(handle, 0, patterned(100 * 1024, 7));
    await sys.fs!.fsync(handle);
    await sys.fs!.unlink(ROOT_INO, 'tmp');
    const copy = new Uint8Array(disk.sizeBytes);
    disk.read(0, copy); // a power cut with the file open
    await sys.shutdown();
    const r = await fsckImage(new MemoryBackend(copy), { repair: false });
    // Blocks a running store held without a chunk in them are leaked in a power-cut copy (its mount frees them); nothing else is wrong.
    expect(kinds(r)).toEqual(['bitmap/leaked-blocks']);
    expect(r.notes.map((n) => n.message).join('\n')).toMatch(/1 unlinked inode\(s\) with no name left/);
  });

  it('reads the bitmap through the journal a mount would replay (a copy taken while the block service runs)', async () => {
    const disk = await formatTestDisk(new MemoryBackend(32 * MiB));
    const sys = await bootSystem({ disk, upTo: 'block', keepDiskOpen: true, memorySizeBytes: 64 * MiB });
    const extents = await sys.block!.allocate(3);
    const copy = new Uint8Array(disk.sizeBytes);
    disk.read(0, copy);
    await sys.shutdown();
    const crashed = new MemoryBackend(copy);
    const r = await fsckImage(crashed, { repair: false });
    expect(r.checked['journal transactions']).toBeGreaterThanOrEqual(1);
    expect(kinds(r)).toEqual(['bitmap/leaked-blocks']);
    expect(r.problems[0].message).toContain(`[${extents[0].blockIndex}, +3)`);
    await repairThenClean(crashed, 'bitmap/leaked-blocks');
  });

  it('repairs offline under a journal that still holds transactions: the journal is checkpointed home first, then the spare rewritten', async () => {
    const disk = await formatTestDisk(new MemoryBackend(32 * MiB));
    const sys = await bootSystem({ disk, upTo: 'block', keepDiskOpen: true, memorySizeBytes: 64 * MiB });
    await sys.block!.allocate(2);
    const copy = new Uint8Array(disk.sizeBytes);
    disk.read(0, copy);
    await sys.shutdown();
    const crashed = new MemoryBackend(copy);
    flipByte(crashed, crashed.sizeBytes - B + 48);
    const r = await fsckImage(crashed, { repair: false });
    expect(kinds(r).sort()).toEqual(['bitmap/leaked-blocks', 'superblock/spare-stale']);
    const rr = await fsckImage(crashed, { repair: true, boot: { seed: 5 } });
    expect(rr.actions[0]).toMatch(/^journal checkpointed: [1-9]\d* transaction\(s\)/);
    expect(rr.actions.join('\n')).toMatch(/spare superblock rewritten from the primary/);
    expect(rr.actions.join('\n')).toMatch(/content mount freed 2 leaked block/);
    expect(rr.exitCode).toBe(1);
    const again = await fsckImage(crashed, { repair: false });
    expect(again.exitCode).toBe(0);
    expect(again.checked['journal transactions']).toBe(0);
  });

  it('names a chunk whose bytes fail their hash with the files it affects, and cannot repair it (exit 4)', async () => {
    const disk = await sampleImage();
    const e = await chunkOf(disk, '/dir/b');
    flipByte(disk, e.blockIndex * B + 100);
    const r = await fsckImage(disk, { repair: false });
    expect(kinds(r)).toEqual(['content/chunk-hash']);
    expect(r.problems[0].message).toContain(hexOf(e.hash));
    expect(r.problems[0].paths).toEqual(expect.arrayContaining(['/dir/b', '/.snapshots/one/dir/b', '/.snapshots/one/dir/b-link']));
    expect(r.exitCode).toBe(4);
    const rr = await fsckImage(disk, { repair: true });
    expect(rr.exitCode).toBe(4);
    expect(rr.problems[0].repaired).toBe(false);
  });

  it('works over the faulty disk: a chunk whose sectors fail to read, and one whose bits flip on read, are named with their files', async () => {
    const { FaultyBackend } = await import('../../kernel/machine/disk/faulty.ts');
    const mem = await sampleImage();
    const bytes = new Uint8Array(mem.sizeBytes);
    mem.read(0, bytes);
    const b = await chunkOf(mem, '/dir/b');
    const c = await chunkOf(mem, '/c');
    const disk = new FaultyBackend(bytes);
    expect((await fsckImage(disk, { repair: false })).exitCode).toBe(0);
    disk.failSectors([(b.blockIndex * B) / 512 + 1], { reads: true });
    disk.flipBitOnRead((c.blockIndex * B) / 512, 5);
    const r = await fsckImage(disk, { repair: false });
    expect(kinds(r).sort()).toEqual(['content/chunk-hash', 'content/chunk-unreadable']);
    const unreadable = r.problems.find((p) => p.kind === 'chunk-unreadable')!;
    expect(unreadable.message).toMatch(/IOERR/);
    expect(unreadable.paths).toContain('/dir/b');
    expect(r.problems.find((p) => p.kind === 'chunk-hash')!.paths).toEqual(['/c']);
    expect(r.exitCode).toBe(4);
  });

  it('names a damaged snapshot tree object with the snapshot path', async () => {
    const disk = await sampleImage();
    const x = await examineImage(disk);
    const root = x.state!.snapshots.get('one')!.root;
    const e = x.content!.index.get(hexOf(root))!;
    flipByte(disk, e.blockIndex * B + 3);
    const r = await fsckImage(disk, { repair: false });
    expect(kinds(r)).toContain('content/chunk-hash');
    expect(r.problems.find((p) => p.kind === 'chunk-hash')!.paths).toContain('/.snapshots/one');
    expect(r.exitCode).toBe(4);
  });

  it('finds a leaked block (allocated, referenced by nothing) and frees it', async () => {
    const disk = await sampleImage();
    const x = await examineImage(disk);
    const { data } = x.view.layout;
    const leak = data.blockIndex + data.blockCount - 10;
    await setBitmapBit(disk, leak, true);
    const r = await fsckImage(disk, { repair: false });
    expect(kinds(r)).toEqual(['bitmap/leaked-blocks']);
    expect(r.problems[0].message).toContain(`[${leak}, +1)`);
    expect(r.exitCode).toBe(4);
    await repairThenClean(disk, 'bitmap/leaked-blocks');
  });

  it('finds a block in use that the bitmap shows free and marks it allocated', async () => {
    const disk = await sampleImage();
    const e = await chunkOf(disk, '/a', 1);
    await setBitmapBit(disk, e.blockIndex, false);
    const r = await fsckImage(disk, { repair: false });
    expect(kinds(r)).toEqual(['bitmap/in-use-free']);
    expect(r.problems[0].message).toContain(`[${e.blockIndex}, +1)`);
    const rr = await repairThenClean(disk, 'bitmap/in-use-free');
    expect(rr.actions.join('\n')).toMatch(/marked allocated/);
  });

  it('finds a bitmap block that fails its checksum and rebuilds the bitmap from every reference', async () => {
    const disk = await sampleImage();
    const x = await examineImage(disk);
    const allocatedBefore = x.findings.checked['allocated data blocks'];
    flipByte(disk, x.view.layout.bitmap.blockIndex * B + 2000);
    const r = await fsckImage(disk, { repair: false });
    expect(kinds(r)).toEqual(['bitmap/bitmap-damaged']);
    expect(r.problems[0].message).toMatch(/checksum/);
    expect(r.problems[0].repairable).toBe(true);
    const rr = await repairThenClean(disk, 'bitmap/bitmap-damaged');
    expect(rr.actions.join('\n')).toMatch(/bitmap rebuilt from every reference/);
    expect((await examineImage(disk)).findings.checked['allocated data blocks']).toBe(allocatedBefore);
  });

  it('finds a superblock free count that disagrees with the bitmap and recounts it', async () => {
    const disk = await sampleImage();
    const image = await readImage(homeReader(disk), disk.sizeBytes / B);
    const sb = encodeSuperblock({ ...image.superblock, freeBlockCount: image.superblock.freeBlockCount - 3 });
    disk.write(0, sb);
    disk.write(image.superblock.layout.spare.blockIndex * B, sb);
    const r = await fsckImage(disk, { repair: false });
    expect(kinds(r)).toEqual(['bitmap/free-count']);
    await repairThenClean(disk, 'bitmap/free-count');
  });

  it('finds a damaged spare superblock and rewrites it from the primary', async () => {
    const disk = await sampleImage();
    flipByte(disk, disk.sizeBytes - B + 40);
    const r = await fsckImage(disk, { repair: false });
    expect(kinds(r)).toEqual(['superblock/spare-stale']);
    const rr = await repairThenClean(disk, 'superblock/spare-stale');
    expect(rr.actions.join('\n')).toMatch(/spare superblock rewritten from the primary/);
  });

  it('finds a damaged primary superblock and rewrites it from the spare', async () => {
    const disk = await sampleImage();
    flipByte(disk, 40);
    const r = await fsckImage(disk, { repair: false });
    expect(kinds(r)).toEqual(['superblock/primary-damaged']);
    const rr = await repairThenClean(disk, 'superblock/primary-damaged');
    expect(rr.actions.join('\n')).toMatch(/primary superblock rewritten from the spare/);
  });

  it('finds a wrong refcount and corrects it', async () => {
    const disk = await sampleImage();
    const e = await chunkOf(disk, '/c');
    const sys = await bootSystem({ disk, upTo: 'axiom', keepDiskOpen: true, memorySizeBytes: 64 * MiB });
    await sys.axiom!.propose([rec('ChunkRef', { hash: e.hash, delta: 2 })]);
    await sys.shutdown();
    const r = await fsckImage(disk, { repair: false });
    expect(kinds(r)).toEqual(['refcount/refcount']);
    expect(r.problems[0].message).toMatch(/refcount 3, but 1 page/);
    expect(r.problems[0].paths).toEqual(['/c']);
    await repairThenClean(disk, 'refcount/refcount');
  });

  it('names a committed content record the index refuses (an extent outside the data region) and repairs nothing from that log', async () => {
    const disk = await sampleImage();
    const sys = await bootSystem({ disk, upTo: 'axiom', keepDiskOpen: true, memorySizeBytes: 64 * MiB });
    const receipt = await sys.axiom!.propose([rec('ChunkPut', { hash: new Uint8Array(32).fill(1), blockIndex: 3, blockCount: 1, sizeBytes: 10 })]);
    await sys.shutdown();
    const r = await fsckImage(disk, { repair: false });
    expect(kinds(r)).toContain('content/bad-record');
    expect(r.problems.find((p) => p.kind === 'bad-record')!.message).toMatch(new RegExp(`log record ${receipt.firstSeq} \\(ChunkPut\\)`));
    expect(r.problems.every((p) => !p.repairable)).toBe(true);
    const rr = await fsckImage(disk, { repair: true });
    expect(rr.exitCode).toBe(4);
    expect(rr.actions).toEqual([]);
  });

  it('names two chunks that claim the same blocks and repairs nothing from that log', async () => {
    const disk = await sampleImage();
    const c = await chunkOf(disk, '/c');
    const sys = await bootSystem({ disk, upTo: 'axiom', keepDiskOpen: true, memorySizeBytes: 64 * MiB });
    await sys.axiom!.propose([rec('ChunkPut', { hash: new Uint8Array(32).fill(2), blockIndex: c.blockIndex, blockCount: 1, sizeBytes: 100 })]);
    await sys.shutdown();
    const r = await fsckImage(disk, { repair: false });
    expect(kinds(r)).toContain('content/shared-blocks');
    expect(r.problems.find((p) => p.kind === 'shared-blocks')!.message).toMatch(new RegExp(`two chunks share blocks.*${c.blockIndex}`));
    expect(kinds(r)).toContain('content/chunk-hash'); // the impostor's bytes are not its name
    const rr = await fsckImage(disk, { repair: true });
    expect(rr.exitCode).toBe(4);
    expect(rr.actions).toEqual([]);
  });

  it('names a damaged checkpoint image (the filesystem\'s, the content index\'s) and cannot repair it', async () => {
    for (const section of ['fs', 'content'] as const) {
      const disk = await sampleImage();
      const x = await examineImage(disk);
      const ref = (x.axiom!.checkpointImage as Record<string, { extents: { blockIndex: number }[] }>)[section];
      flipByte(disk, ref.extents[0].blockIndex * B + 9);
      const r = await fsckImage(disk, { repair: true });
      expect(kinds(r)).toEqual([section === 'fs' ? 'namespace/fs-image-damaged' : 'content/index-image-damaged']);
      expect(r.problems[0].message).toContain(`"blockIndex":${ref.extents[0].blockIndex}`);
      expect(r.exitCode).toBe(4);
      expect(r.actions).toEqual([]);
    }
  });

  it('notes a dangling chunk (no file, no snapshot) without calling it an error; --repair drops it', async () => {
    const disk = await sampleImage();
    const sys = await bootSystem({ disk, upTo: 'content', keepDiskOpen: true, memorySizeBytes: 128 * MiB });
    const hash = await sys.content!.put(patterned(9000, 77));
    await sys.content!.unref([hash]);
    await sys.shutdown();
    const r = await fsckImage(disk, { repair: false });
    expect(kinds(r)).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.checked['dangling chunks']).toBe(1);
    expect(r.notes.map((n) => n.message).join('\n')).toMatch(new RegExp(`1 dangling chunk\\(s\\), 9000 bytes.*${hexOf(hash).slice(0, 16)}`));
    const rr = await fsckImage(disk, { repair: true, boot: { seed: 2 } });
    expect(rr.exitCode).toBe(0);
    expect(rr.actions.join('\n')).toMatch(/dropped 1 dangling chunk\(s\), 3 block\(s\) freed/);
    const again = await fsckImage(disk, { repair: false });
    expect(again.notes).toEqual([]);
    expect(again.checked['dangling chunks']).toBeUndefined();
  });

  it('finds a damaged Axiom frame with committed records after it, and refuses to repair from the shortened log', async () => {
    const disk = await formatTestDisk(new MemoryBackend(32 * MiB));
    const sys = await bootFsStack(disk, { seed: 4, fsCheckpoints: false });
    await writeWholeFile(sys.fs!, ROOT_INO, 'x', patterned(100 * 1024, 6));
    await sys.fs!.mkdir(ROOT_INO, 'd1');
    await sys.fs!.mkdir(ROOT_INO, 'd2');
    await sys.shutdown();
    const x = await examineImage(disk);
    expect(kinds({ ...x.findings, actions: [], exitCode: 0 })).toEqual([]);
    // The ring starts 2 blocks into the Axiom region; the first frame is at its start. Damage its payload.
    flipByte(disk, (x.view.layout.axiom.blockIndex + 2) * B + 70);
    const r = await fsckImage(disk, { repair: false });
    expect(kinds(r)).toContain('axiom/frame-damaged');
    expect(r.problems.find((p) => p.kind === 'frame-damaged')!.message).toMatch(/record 1 .* intact record/);
    expect(r.problems.every((p) => !p.repairable)).toBe(true);
    const rr = await fsckImage(disk, { repair: true });
    expect(rr.exitCode).toBe(4);
    expect(rr.actions).toEqual([]);
  });

  it('is an operational error (not a crash) on a disk that is not a Strata image', async () => {
    await expect(fsckImage(new MemoryBackend(16 * MiB), { repair: false })).rejects.toThrow(FsckOperationalError);
    await expect(fsckImage(new MemoryBackend(16 * MiB), { repair: false })).rejects.toThrow(/not a Strata image/);
  });
});

describe('fsck namespace walk', () => {
  it('names a wrong nlink, an entry naming no inode, a directory with two names, and an unreachable inode', async () => {
    const { FsState } = await import('../../services/fs/state.ts');
    const { checkNamespace } = await import('../../tools/fsck/namespace.ts');
    const { Findings } = await import('../../tools/fsck/report.ts');
    const t: [number, number] = [1, 0];
    const s = new FsState(t);
    s.apply({ type: 'FsMkdir', payload: { parent: ROOT_INO, name: 'd', ino: 2, mode: 0o755, uid: 0, gid: 0, t } });
    s.apply({ type: 'FsCreate', payload: { parent: 2, name: 'f', ino: 3, mode: 0o644, uid: 0, gid: 0, t } });
    s.apply({ type: 'FsCreate', payload: { parent: ROOT_INO, name: 'g', ino: 4, mode: 0o644, uid: 0, gid: 0, t } });
    const clean = new Findings();
    checkNamespace(s, clean);
    expect(clean.problems).toEqual([]);
    s.inode(3).nlink = 2; // one name
    s.dirOf(ROOT_INO).entries.set('ghost', { ino: 99, cookie: 50 });
    s.dirOf(ROOT_INO).entries.set('again', { ino: 2, cookie: 51 }); // 'd' under a second name
    s.dirOf(ROOT_INO).entries.delete('g'); // inode 4 keeps nlink 1, no name
    const f = new Findings();
    const ns = checkNamespace(s, f);
    const got = f.problems.map((p) => `${p.kind}: ${p.message}`);
    expect(got).toEqual(expect.arrayContaining([
      expect.stringMatching(/^nlink: \/(d|again)\/f: nlink 2, but 1 name/),
      expect.stringMatching(/^dangling-entry: \/ghost: names inode 99/),
      expect.stringMatching(/^dir-cycle: \/(d|again): directory inode 2 is reached a second time/),
      expect.stringMatching(/^unreachable: file inode 4 has nlink 1 but no name reaches it/),
      expect.stringMatching(/^dir-nlink: \/: nlink/),
    ]));
    expect(ns.pathsOf.get(2)).toEqual(expect.arrayContaining(['/d', '/again']));
  });
});

describe('fsck bitmap runs', () => {
  it('setRuns agrees with a bit-by-bit walk (property)', async () => {
    const fc = (await import('fast-check')).default;
    const { setRuns } = await import('../../tools/fsck/limits.ts');
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.nat(), fc.nat(), (bits, a, b) => {
        const n = bits.length * 8;
        const from = a % n, to = from + (b % (n - from + 1));
        const naive: { blockIndex: number; blockCount: number }[] = [];
        for (let i = from; i < to; i++) {
          if (!testBit(bits, i)) continue;
          const last = naive[naive.length - 1];
          if (last && last.blockIndex + last.blockCount === i) last.blockCount++;
          else naive.push({ blockIndex: i, blockCount: 1 });
        }
        expect(setRuns(bits, from, to)).toEqual(naive);
      }),
      { numRuns: 500 },
    );
  });
});
