// The reference model's snapshots (tools/model/fs-model.ts), the semantics the crash
// harness holds services/fs to: a snapshot is a frozen copy; restore keeps the replaced
// tree as pre-restore-N, keeps inodes (and open handles) of what it leaves equal and
// renumbers the rest in name order; clone copies; gc and checkpoint change nothing.
import { describe, expect, it } from 'vitest';
import { ServiceError } from '../../kernel/errors.ts';
import { ROOT_INO, parseFsRequest } from '../../services/fs/protocol.ts';
import { FsModel } from '../../tools/model/fs-model.ts';

function fs(m: FsModel) {
  const call = (op: string, body: Record<string, unknown> = {}) => m.apply(parseFsRequest(op, body)) as Record<string, unknown>;
  const ino = (path: string) => (call('resolve', { path, followLast: false }) as { ino: number }).ino;
  const put = (path: string, bytes: number[]) => {
    const i = path.lastIndexOf('/');
    const { handle } = call('create', { parent: ino(path.slice(0, i) || '/'), name: path.slice(i + 1), mode: 0o644 }) as { handle: number };
    call('write', { handle, offsetBytes: 0, data: new Uint8Array(bytes) });
    call('close', { handle });
  };
  return { call, ino, put };
}

const errno = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    if (e instanceof ServiceError) return e.code;
    throw e;
  }
  return 'ok';
};

describe('FsModel snapshots', () => {
  it('create freezes the tree; restore brings it back and keeps the replaced one as pre-restore-N', () => {
    const m = new FsModel();
    const { call, ino, put } = fs(m);
    call('mkdir', { parent: ROOT_INO, name: 'd', mode: 0o755 });
    put('/d/a', [1, 2, 3]);
    call('link', { ino: ino('/d/a'), parent: ROOT_INO, name: 'hard' });
    const before = m.dump();
    call('snapshotCreate', { name: 's' });
    expect(errno(() => call('snapshotCreate', { name: 's' }))).toBe('EEXIST');
    put('/b', [9]);
    call('unlink', { parent: ino('/d'), name: 'a' });
    const changed = m.dump();
    expect(m.dumpSnapshots()['/.snapshots/s/d/a']).toBe(`file 644 3 ${before['/d/a'].split(' ').pop()}`); // no link count in a snapshot
    expect(call('snapshotRestore', { name: 's' })).toEqual({ saved: 'pre-restore-1' });
    // The hard link comes back as two files of one link each.
    expect(m.dump()).toEqual({ ...before, '/d/a': before['/d/a'].replace('nlink=2', 'nlink=1'), '/hard': before['/hard'].replace('nlink=2', 'nlink=1') });
    expect(call('snapshotList')).toEqual({ snapshots: [{ name: 's' }, { name: 'pre-restore-1' }] });
    call('snapshotRestore', { name: 'pre-restore-1' });
    expect(m.dump()).toEqual(changed);
    expect(m.snapshotNames()).toEqual(['s', 'pre-restore-1', 'pre-restore-2']);
    expect(errno(() => call('snapshotRestore', { name: 'nope' }))).toBe('ENOENT');
    expect(errno(() => call('snapshotDelete', { name: 'nope' }))).toBe('ENOENT');
    call('snapshotDelete', { name: 'pre-restore-1' });
    expect(Object.keys(m.dumpSnapshots()).some((p) => p.startsWith('/.snapshots/pre-restore-1'))).toBe(false);
  });

  it('restore keeps what is equal (inode and handle) and gives what differs a new inode (its handle: ESTALE)', () => {
    const m = new FsModel();
    const { call, ino, put } = fs(m);
    put('/same', [1]);
    put('/other', [2]);
    call('snapshotCreate', { name: 's' });
    const sameIno = ino('/same');
    const otherIno = ino('/other');
    const keep = (call('open', { ino: sameIno, flags: { read: true, write: true } }) as { handle: number }).handle;
    const lose = (call('open', { ino: otherIno, flags: { read: true, write: true } }) as { handle: number }).handle;
    call('write', { handle: lose, offsetBytes: 0, data: new Uint8Array([7]) });
    call('snapshotRestore', { name: 's' });
    expect(ino('/same')).toBe(sameIno);
    expect(ino('/other')).not.toBe(otherIno);
    expect(errno(() => call('write', { handle: keep, offsetBytes: 1, data: new Uint8Array([5]) }))).toBe('ok');
    expect(errno(() => call('write', { handle: lose, offsetBytes: 1, data: new Uint8Array([5]) }))).toBe('ESTALE');
    expect(errno(() => call('close', { handle: lose }))).toBe('ok');
  });

  it('clone copies a tree with new inodes; gc and checkpoint change nothing', () => {
    const m = new FsModel();
    const { call, ino, put } = fs(m);
    call('mkdir', { parent: ROOT_INO, name: 'd', mode: 0o700 });
    put('/d/x', [4, 5]);
    call('clone', { ino: ino('/d'), parent: ROOT_INO, name: 'e' });
    const d = m.dump();
    expect(d['/e']).toBe(d['/d']);
    expect(d['/e/x']).toBe(d['/d/x']);
    expect(ino('/e/x')).not.toBe(ino('/d/x'));
    expect(errno(() => call('clone', { ino: ino('/d'), parent: ROOT_INO, name: 'e' }))).toBe('EEXIST');
    m.gc();
    m.checkpoint();
    expect(m.dump()).toEqual(d);
  });
});
