// strata mkimage + inspect: a new image is formatted and inspectable before it ever boots;
// after a boot that commits Axiom records, inspect lists them with the chain verified; a
// damaged superblock is named, and the spare copy is used.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createImage } from '../../tools/cli/mkimage.ts';
import { inspect } from '../../tools/cli/inspect.ts';
import { FileBackend } from '../../kernel/machine/disk/file.ts';
import { bootSystem } from '../../tools/system.ts';
import { rec } from '../../axiom/protocol.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-inspect-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function look(image: string, what: 'superblock' | 'bitmap' | 'journal' | 'axiom') {
  const backend = FileBackend.open(image, { readOnly: true });
  try {
    return await inspect(backend, what, { limit: 50 });
  } finally {
    backend.close();
  }
}

describe('strata mkimage and inspect', () => {
  it('formats every region, so a new image is inspectable before its first boot', async () => {
    const image = path.join(dir, 'new.img');
    await createImage(image, 32 * 1024 * 1024);
    expect(fs.statSync(image).size).toBe(32 * 1024 * 1024);
    for (const what of ['superblock', 'bitmap', 'journal', 'axiom'] as const) expect((await look(image, what)).ok).toBe(true);
    expect((await look(image, 'superblock')).text).toMatch(/primary copy.*\n.*8192 blocks/);
    await expect(createImage(image, 32 * 1024 * 1024)).rejects.toThrow(/exists/);
    await expect(createImage(path.join(dir, 'small.img'), 8 * 1024 * 1024)).rejects.toThrow(/minimum/);
  });

  it('lists the Axiom records a boot committed, with the chain verified', async () => {
    const image = path.join(dir, 'used.img');
    await createImage(image, 32 * 1024 * 1024);
    // Up to Axiom only: the filesystem checkpoints at shutdown, and a listing starts there.
    const sys = await bootSystem({ disk: FileBackend.open(image), upTo: 'axiom' });
    await sys.axiom!.propose([rec('SnapshotDelete', { name: 'first' })]);
    await sys.axiom!.propose([rec('SnapshotDelete', { name: 'second' })]);
    await sys.shutdown();
    const out = await look(image, 'axiom');
    expect(out.ok).toBe(true);
    expect(out.text).toMatch(/SnapshotDelete.*first/);
    expect(out.text).toMatch(/SnapshotDelete.*second/);
    expect(out.text).toMatch(/chain verified/);
  });

  it('names a damaged primary superblock and reads the spare; both damaged is a clear error', async () => {
    const image = path.join(dir, 'damaged.img');
    await createImage(image, 32 * 1024 * 1024);
    const fd = fs.openSync(image, 'r+');
    fs.writeSync(fd, Buffer.from([0xff, 0xee]), 0, 2, 100);
    fs.closeSync(fd);
    const sb = await look(image, 'superblock');
    expect(sb.ok).toBe(false);
    expect(sb.text).toMatch(/spare copy/);
    expect(sb.text).toMatch(/problem: primary/);
    const fd2 = fs.openSync(image, 'r+');
    fs.writeSync(fd2, Buffer.from([0xff]), 0, 1, 32 * 1024 * 1024 - 4096 + 100);
    fs.closeSync(fd2);
    await expect(look(image, 'superblock')).rejects.toThrow(/neither superblock copy is valid/);
  });
});

describe('strata inspect chunk and path', () => {
  it('shows a file: attributes, both names, pages with chunk hashes and block addresses; and the chunk: where, length, refcount, verified, who names it, a preview', async () => {
    const { sampleImage } = await import('./fsck-image.ts');
    const disk = await sampleImage();
    const p = await inspect(disk, 'path', { limit: 50, arg: '/dir/b' });
    expect(p.ok).toBe(true);
    expect(p.text).toMatch(/^\/dir\/b: inode \d+, file, mode 0644, uid 0, gid 0, nlink 2, size 5000 bytes/);
    expect(p.text).toMatch(/names: \/dir\/b, \/dir\/b-link/);
    const m = /\n\s+0\s+5000\s+([0-9a-f]{64})\s+\[(\d+), \+2\)\s+ok/.exec(p.text);
    expect(m).not.toBeNull();
    const [, hash, block] = m!;

    const c = await inspect(disk, 'chunk', { limit: 50, arg: hash.slice(0, 12) });
    expect(c.ok).toBe(true);
    expect(c.text).toContain(`chunk ${hash}`);
    expect(c.text).toMatch(new RegExp(`length 5000 bytes in 2 block\\(s\\) at \\[${block}, \\+2\\).*bitmap: allocated`));
    expect(c.text).toMatch(/refcount 1\nhash verified/);
    expect(c.text).toMatch(/named by: \/dir\/b page 0; snapshots: .*\/\.snapshots\/one\/dir\/b/);
    const { patterned } = await import('../helpers/stack.ts');
    const first16 = Array.from(patterned(5000, 2).subarray(0, 16), (b) => b.toString(16).padStart(2, '0')).join(' ');
    expect(c.text).toContain(`00000000  ${first16}`);
    expect((c.data as { refcount: number }).refcount).toBe(1);

    const d = await inspect(disk, 'path', { limit: 50, arg: '/dir' });
    expect(d.text).toMatch(/file\s+b\n.*file\s+b-link/);
    expect((await inspect(disk, 'path', { limit: 50, arg: '/s' })).text).toMatch(/-> a/);

    // Damage the chunk: both views say so.
    const buf = new Uint8Array(512);
    disk.read(Number(block) * 4096, buf);
    buf[7] ^= 1;
    disk.write(Number(block) * 4096, buf);
    const c2 = await inspect(disk, 'chunk', { limit: 50, arg: hash });
    expect(c2.ok).toBe(false);
    expect(c2.text).toMatch(/hash MISMATCH/);
    const p2 = await inspect(disk, 'path', { limit: 50, arg: '/dir/b' });
    expect(p2.ok).toBe(false);
    expect(p2.text).toMatch(/BAD HASH/);
  });

  it('resolves /.snapshots paths in the snapshot\'s Merkle tree', async () => {
    const { sampleImage } = await import('./fsck-image.ts');
    const disk = await sampleImage();
    const list = await inspect(disk, 'path', { limit: 50, arg: '/.snapshots' });
    expect(list.text).toMatch(/^\/\.snapshots: 1 snapshot\(s\)\n  one  root [0-9a-f]{64}/);
    const root = await inspect(disk, 'path', { limit: 50, arg: '/.snapshots/one' });
    expect(root.text).toMatch(/tree object [0-9a-f]{64}, dir/);
    expect(root.text).toMatch(/file\s+[0-9a-f]{16}\s+a\n/);
    expect(root.text).not.toMatch(/\bc\n/); // /c came after the snapshot
    // /a was rewritten after the snapshot: page 0 differs between the live file and the snapshot's, page 1 is shared.
    const live = await inspect(disk, 'path', { limit: 50, arg: '/a' });
    const snap = await inspect(disk, 'path', { limit: 50, arg: '/.snapshots/one/a' });
    expect(snap.ok).toBe(true);
    expect(snap.text).toMatch(/file, mode 0644, uid 0, gid 0, size 204800 bytes/);
    const page = (text: string, i: number) => new RegExp(`\\n\\s+${i}\\s+\\d+\\s+([0-9a-f]{64})`).exec(text)![1];
    expect(page(snap.text, 0)).not.toBe(page(live.text, 0));
    expect(page(snap.text, 1)).toBe(page(live.text, 1));
    await expect(inspect(disk, 'path', { limit: 50, arg: '/.snapshots/two' })).rejects.toThrow(/no such snapshot/);
    await expect(inspect(disk, 'path', { limit: 50, arg: '/.snapshots/one/zz' })).rejects.toThrow(/\/\.snapshots\/one\/zz: no such file/);
  });

  it('names what it cannot find', async () => {
    const { sampleImage } = await import('./fsck-image.ts');
    const disk = await sampleImage();
    await expect(inspect(disk, 'chunk', { limit: 50, arg: 'ffffffffffff' })).rejects.toThrow(/no chunk ffffffffffff/);
    await expect(inspect(disk, 'chunk', { limit: 50, arg: 'xyz' })).rejects.toThrow(/not a chunk hash/);
    await expect(inspect(disk, 'path', { limit: 50, arg: '/dir/nope' })).rejects.toThrow(/\/dir\/nope: no such file/);
    await expect(inspect(disk, 'path', { limit: 50, arg: '/a/x' })).rejects.toThrow(/\/a is not a directory/);
  });
});
