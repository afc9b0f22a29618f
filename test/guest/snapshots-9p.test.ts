// Snapshots over 9P, on the real stack (the server.test.ts suite runs over the model, which
// has no snapshots): /.snapshots and a snapshot's tree list with '.' and '..' (a Linux
// readdir asks for both), its files read back as they were, and writes into it are EROFS.
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { P9Server } from '../../services/9p/server.ts';
import type { System } from '../../tools/system.ts';
import { bootFsStack, formatTestDisk, MiB } from '../helpers/stack.ts';
import { P9Client, P9ClientError } from './p9client.ts';

let sys: System | undefined;
afterEach(async () => {
  await sys?.shutdown();
  sys = undefined;
});

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

describe('snapshots over 9P', () => {
  it('lists and reads /.snapshots/NAME, and refuses writes into it', async () => {
    sys = await bootFsStack(await formatTestDisk(new MemoryBackend(128 * MiB)));
    const fs = sys.fs!;
    const server = new P9Server(fs);
    const client = new P9Client((req) => server.handle(req));
    const root = await client.mount();
    await client.writeFile(root, 'notes.txt', enc('first\n'));
    await fs.snapshotCreate('monday');
    await fs.unlink(1, 'notes.txt');
    await client.writeFile(root, 'notes.txt', enc('second\n'));

    expect((await client.readdir(root, '.snapshots')).map((d) => d.name)).toEqual(['.', '..', 'monday']);
    expect((await client.readdir(root, '.snapshots/monday')).map((d) => d.name)).toEqual(['.', '..', 'notes.txt']);
    expect(dec(await client.readFile(root, '.snapshots/monday/notes.txt'))).toBe('first\n');
    expect(dec(await client.readFile(root, 'notes.txt'))).toBe('second\n');
    const dir = await client.walk(root, '.snapshots/monday');
    const refused = await client.rpc('Tlcreate', { fid: dir, name: 'new', flags: 0o2 | 0o100, mode: 0o644, gid: 0 }, 'Rlcreate').then(
      () => 'created',
      (e: unknown) => (e instanceof P9ClientError ? e.errno : String(e)),
    );
    expect(refused).toBe('EROFS');
  });
});
