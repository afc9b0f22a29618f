// Files of GiB size over the whole stack on an image file: a 2 GiB sparse file whose holes
// read as zeros and use no space, and a 1 GiB dense file checked byte for byte after a
// reboot (its pages are all different, so nothing deduplicates).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileBackend } from '../../kernel/machine/disk/file.ts';
import { ROOT_INO } from '../../services/fs/protocol.ts';
import { createImage } from '../../tools/cli/mkimage.ts';
import { bootFsStack, MiB } from '../helpers/stack.ts';

const GiB = 1024 * MiB;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-large-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** 1 MiB that differs for every index i (a counter in every 4 KiB). */
function piece(i: number): Uint8Array {
  const out = new Uint8Array(MiB);
  const dv = new DataView(out.buffer);
  for (let off = 0; off < MiB; off += 4096) {
    dv.setUint32(off, i, true);
    dv.setUint32(off + 4, off, true);
    out.fill((i * 31 + off / 4096) & 0xff, off + 8, off + 64);
  }
  return out;
}

describe('fs: files of GiB size', () => {
  it('writes a 2 GiB sparse file: holes read as zeros and take no space', async () => {
    const image = path.join(dir, 'sparse.img');
    await createImage(image, 256 * MiB);
    const disk = FileBackend.open(image);
    let sys = await bootFsStack(disk);
    const f = sys.fs!;
    const { attr, handle } = await f.create(ROOT_INO, 'sparse', 0o644);
    const marks = [0, GiB - 3, GiB + 12345, 2 * GiB - 5];
    for (const at of marks) await f.write(handle, at, new TextEncoder().encode('mark'));
    await f.close(handle);
    await sys.shutdown();
    sys = await bootFsStack(disk);
    const a = await sys.fs!.getattr(attr.ino);
    expect(a.sizeBytes).toBe(2 * GiB - 1);
    expect(a.blockCount * 512).toBeLessThan(4 * 64 * 1024 + 1); // four pages at most
    const r = await sys.fs!.open(attr.ino, { read: true });
    for (const at of marks) expect(new TextDecoder().decode(await sys.fs!.read(r.handle, at, 4))).toBe('mark'.slice(0, Math.min(4, 2 * GiB - 1 - at)));
    const hole = await sys.fs!.read(r.handle, 512 * MiB, MiB);
    expect(hole.length).toBe(MiB);
    expect(hole.every((b) => b === 0)).toBe(true);
    await sys.shutdown();
    disk.close();
  });

  it('writes a 1 GiB dense file and reads it back byte for byte after a reboot', async () => {
    const image = path.join(dir, 'dense.img');
    await createImage(image, GiB + 512 * MiB);
    const disk = FileBackend.open(image);
    let sys = await bootFsStack(disk);
    const f = sys.fs!;
    const { attr, handle } = await f.create(ROOT_INO, 'dense', 0o644);
    for (let i = 0; i < 1024; i++) await f.write(handle, i * MiB, piece(i));
    await f.fsync(handle);
    await f.close(handle);
    await sys.shutdown();
    sys = await bootFsStack(disk);
    expect((await sys.fs!.getattr(attr.ino)).sizeBytes).toBe(GiB);
    const r = await sys.fs!.open(attr.ino, { read: true });
    for (let i = 0; i < 1024; i++) {
      const got = await sys.fs!.read(r.handle, i * MiB, MiB);
      if (Buffer.compare(got, piece(i)) !== 0) throw new Error(`MiB ${i} differs after reboot`);
    }
    await sys.shutdown();
    disk.close();
  });
});
