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
