// File data by grant in the isolated kernel mode: the user program on the main thread lends
// memory to the fs worker, the fs worker lends its staging to the content worker; the
// bytes cross threads in the machine's SharedArrayBuffer, not in messages. Bad grants are
// refused by the kernel (counted) and the fs keeps serving. A restarted fs or content
// service no longer holds the grants it was lent: the client, and the fs below it, meet
// GRANT once, go inline for that call, and lend fresh staging for the next.
import { afterEach, describe, expect, it } from 'vitest';
import { IsolatedKernel } from '../../kernel/isolated/isolated-kernel.ts';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import type { ServiceContext } from '../../kernel/service.ts';
import { FS_ENDPOINT, FsClient, ROOT_INO, type Segment } from '../../services/fs/protocol.ts';
import { bootIsolatedSystem, type IsolatedStackSystem } from '../../tools/system-isolated.ts';
import { codeOf, formatTestDisk, MiB, patterned, TEST_EPOCH_MS } from '../helpers/stack.ts';

afterEach(() => IsolatedKernel.shutdownAll());

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function bootStack(disk: MemoryBackend): Promise<IsolatedStackSystem> {
  return bootIsolatedSystem({ memorySizeBytes: 128 * MiB, epochMs: TEST_EPOCH_MS, disk, upTo: 'fs', keepDiskOpen: true });
}

function recordingClient(user: ServiceContext): { fs: FsClient; ops: string[] } {
  const ops: string[] = [];
  const call: ServiceContext['call'] = (endpoint, op, body, options) => (ops.push(op), user.call(endpoint, op, body, options));
  return { fs: new FsClient({ call, memory: user.memory }), ops };
}

describe('fs file data by grant in the isolated mode', () => {
  it('writes from and reads into lent memory across threads, byte for byte across a reboot', async () => {
    const disk = (await formatTestDisk(new MemoryBackend(64 * MiB))) as MemoryBackend;
    let sys = await bootStack(disk);
    const user = sys.user;
    const data = patterned(6 * MiB + 4321, 31);
    const region = user.memory.alloc(4 * MiB);
    const view = user.memory.view(region);
    const grantId = user.memory.grant(region, FS_ENDPOINT, 'rw');
    const { attr, handle } = await sys.fs!.create(ROOT_INO, 'big', 0o644);
    for (let off = 0; off < data.length; off += 3 * MiB) {
      const piece = data.subarray(off, off + 3 * MiB);
      view.set(piece, 4096);
      const from: Segment[] = [
        { grantId, offsetBytes: 4096, lengthBytes: Math.min(piece.length, 1000) },
        { grantId, offsetBytes: 4096 + 1000, lengthBytes: piece.length - Math.min(piece.length, 1000) },
      ].filter((s) => s.lengthBytes > 0);
      expect(await sys.fs!.writeFrom(handle, off, from)).toBe(piece.length);
    }
    await sys.fs!.close(handle);

    // A bad grant from another thread's point of view: refused by the kernel, counted; the fs serves on.
    const f0 = sys.kernel.memory.faultCount;
    const r0 = await sys.fs!.open(attr.ino, { read: true });
    expect(await codeOf(sys.fs!.readInto(r0.handle, 0, 4096, [{ grantId, offsetBytes: 4 * MiB - 10, lengthBytes: 4096 }]))).toBe('GRANT');
    expect(await codeOf(sys.fs!.readInto(r0.handle, 0, 4096, [{ grantId: grantId + 1000, offsetBytes: 0, lengthBytes: 4096 }]))).toBe('GRANT');
    expect(sys.kernel.memory.faultCount).toBe(f0 + 2);
    await sys.fs!.close(r0.handle);
    await sys.shutdown();

    sys = await bootStack(disk); // cold: pages come from the content worker by grant
    const client = recordingClient(sys.user);
    const r = await client.fs.open(attr.ino, { read: true });
    const back = new Uint8Array(data.length);
    for (let off = 0; off < data.length; off += MiB) back.set(await client.fs.read(r.handle, off, MiB), off);
    expect(sameBytes(back, data)).toBe(true);
    expect(client.ops.filter((op) => op === 'readInto')).toHaveLength(Math.ceil(data.length / MiB));
    await client.fs.close(r.handle);
    await sys.shutdown();
    disk.close();
  });

  it('after a restart of fs or content, by-grant I/O meets the lost grant once, goes inline, and lends again', async () => {
    const disk = (await formatTestDisk(new MemoryBackend(64 * MiB))) as MemoryBackend;
    const sys = await bootStack(disk);
    const client = recordingClient(sys.user);
    const a = patterned(2 * MiB, 1);
    const first = await client.fs.create(ROOT_INO, 'a', 0o644);
    await client.fs.write(first.handle, 0, a);
    await client.fs.close(first.handle);
    expect(client.ops).toContain('writeFrom');

    expect((await sys.kill('fs')).kind).toBe('restarted');
    await client.fs.statfs(); // the new fs has mounted
    client.ops.length = 0;
    const b = patterned(2 * MiB, 2);
    const second = await client.fs.create(ROOT_INO, 'b', 0o644);
    await client.fs.write(second.handle, 0, b.subarray(0, MiB));
    await client.fs.write(second.handle, MiB, b.subarray(MiB));
    expect(client.ops.filter((op) => op.startsWith('write'))).toEqual(['writeFrom', 'write', 'writeFrom']);

    await client.fs.fsync(second.handle); // the new fs lends the content store its staging
    expect((await sys.kill('content')).kind).toBe('restarted');
    const c = patterned(3 * MiB, 3);
    await client.fs.write(second.handle, 2 * MiB, c);
    await client.fs.fsync(second.handle); // that staging grant is gone: this put goes inline
    await client.fs.write(second.handle, 5 * MiB, c); // and this one lends again
    await client.fs.close(second.handle);
    await sys.shutdown();

    const again = await bootStack(disk);
    const fs = again.fs!;
    const read = async (name: string, sizeBytes: number) => {
      const { handle } = await fs.open((await fs.lookup(ROOT_INO, name)).ino, { read: true });
      const out = new Uint8Array(sizeBytes);
      for (let off = 0; off < sizeBytes; off += MiB) out.set(await fs.read(handle, off, MiB), off);
      await fs.close(handle);
      return out;
    };
    expect(sameBytes(await read('a', a.length), a)).toBe(true);
    const want = new Uint8Array(8 * MiB);
    want.set(b);
    want.set(c, 2 * MiB);
    want.set(c, 5 * MiB);
    expect(sameBytes(await read('b', want.length), want)).toBe(true);
    await again.shutdown();
    disk.close();
  });
});
