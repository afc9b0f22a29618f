// Bad input through the protocol: every op with wrong shapes, wrong types, huge offsets
// and lengths, bad handles and bad names gets its errno, and nothing changes.
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { ROOT_INO } from '../../services/fs/protocol.ts';
import { bootFsStack, codeOf, formatTestDisk, MiB } from '../helpers/stack.ts';

describe('fs: bad input', () => {
  it('answers every malformed request with an errno and leaves the tree as it was', async () => {
    const disk = await formatTestDisk(new MemoryBackend(64 * MiB));
    const sys = await bootFsStack(disk);
    const fs = sys.fs!;
    const call = (op: string, body: unknown) => codeOf(sys.user.call('fs', op, body));
    const { attr: file, handle } = await fs.create(ROOT_INO, 'f', 0o644);
    await fs.write(handle, 0, new Uint8Array([1, 2, 3]));
    const dir = await fs.mkdir(ROOT_INO, 'd');
    const before = JSON.stringify([await fs.readdir(ROOT_INO), await fs.getattr(file.ino), await fs.getattr(dir.ino)]);

    const cases: [string, unknown, string][] = [
      ['getattr', { ino: 'one' }, 'EINVAL'],
      ['getattr', { ino: -1 }, 'EINVAL'],
      ['getattr', { ino: 1.5 }, 'EINVAL'],
      ['getattr', null, 'EINVAL'],
      ['getattr', [1, 2], 'EINVAL'],
      ['getattr', { ino: 123456 }, 'ESTALE'],
      ['mkdir', { parent: ROOT_INO, name: 'a/b', mode: 0o755 }, 'EINVAL'],
      ['mkdir', { parent: ROOT_INO, name: '', mode: 0o755 }, 'EINVAL'],
      ['mkdir', { parent: ROOT_INO, name: 'x'.repeat(300), mode: 0o755 }, 'ENAMETOOLONG'],
      ['mkdir', { parent: ROOT_INO, name: 'ok', mode: 0o77777 }, 'EINVAL'],
      ['mkdir', { parent: file.ino, name: 'x', mode: 0o755 }, 'ENOTDIR'],
      ['mkdir', { parent: ROOT_INO, name: 'f', mode: 0o755 }, 'EEXIST'],
      ['create', { parent: ROOT_INO, name: 7, mode: 0o644 }, 'EINVAL'],
      ['create', { parent: ROOT_INO, name: 'n', mode: 0o644, flags: 'rw' }, 'EINVAL'],
      ['read', { handle: 999, offsetBytes: 0, lengthBytes: 10 }, 'EBADF'],
      ['read', { handle, offsetBytes: 0, lengthBytes: 2 ** 40 }, 'EINVAL'],
      ['read', { handle, offsetBytes: -5, lengthBytes: 10 }, 'EINVAL'],
      ['write', { handle, offsetBytes: 0, data: 'text' }, 'EINVAL'],
      ['write', { handle, offsetBytes: 2 ** 52, data: new Uint8Array(1) }, 'EFBIG'],
      ['write', { handle: 999, offsetBytes: 0, data: new Uint8Array(1) }, 'EBADF'],
      ['truncate', { ino: file.ino, sizeBytes: 2 ** 52 }, 'EFBIG'],
      ['truncate', { ino: dir.ino, sizeBytes: 0 }, 'EISDIR'],
      ['readdir', { ino: file.ino, cookie: 0, limit: 10 }, 'ENOTDIR'],
      ['readdir', { ino: ROOT_INO, cookie: 0, limit: 10 ** 9 }, 'EINVAL'],
      ['rename', { parent: ROOT_INO, name: 'f', newParent: ROOT_INO, newName: '..' }, 'EINVAL'],
      ['rename', { parent: ROOT_INO, name: 'missing', newParent: ROOT_INO, newName: 'g' }, 'ENOENT'],
      ['rename', { parent: ROOT_INO, name: 'd', newParent: dir.ino, newName: 'inside' }, 'EINVAL'],
      ['walk', { ino: ROOT_INO, names: Array(17).fill('a') }, 'EINVAL'],
      ['walk', { ino: ROOT_INO, names: 'a' }, 'EINVAL'],
      ['resolve', { path: 'relative' }, 'EINVAL'],
      ['resolve', { path: '/a\0b' }, 'EINVAL'],
      ['resolve', { path: '/' + 'x/'.repeat(3000) }, 'ENAMETOOLONG'],
      ['symlink', { parent: ROOT_INO, name: 's', target: '' }, 'EINVAL'],
      ['link', { ino: dir.ino, parent: ROOT_INO, name: 'dl' }, 'EPERM'],
      ['setattr', { ino: file.ino, set: { atime: { sec: 1, nsec: 2e9 } } }, 'EINVAL'],
      ['fsync', { handle: 'h' }, 'EINVAL'],
      ['close', { handle: 4242 }, 'EBADF'],
      ['frobnicate', {}, 'BADOP'],
    ];
    for (const [op, body, code] of cases) expect(await call(op, body), `${op} ${JSON.stringify(body)?.slice(0, 80)}`).toBe(code);
    expect(JSON.stringify([await fs.readdir(ROOT_INO), await fs.getattr(file.ino), await fs.getattr(dir.ino)])).toBe(before);
    expect(sys.kernel.serviceStats().find((s) => s.name === 'fs')!.internalErrors).toBe(0);
    // Still serving.
    expect([...(await fs.read(handle, 0, 10))]).toEqual([1, 2, 3]);
    await sys.shutdown();
  });
});
