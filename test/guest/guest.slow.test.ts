// A real Linux (Debian's i386 kernel, busybox) in v86, using Strata: the whole stack's
// filesystem through our 9P2000.L server at /mnt/strata, and the block service as its IDE
// disk. Every check is made by code nobody here wrote (sha256sum, tar, find, du, mke2fs,
// e2fsck); the host then reads the same files through the fs protocol, and again after
// rebooting the stack on the same disk; a snapshot taken on the host shows in the guest
// read-only under /.snapshots; at the end the offline fsck finds the disk clean.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocateGuestDisk, startGuest, type GuestHost } from '../../tools/guest/host.ts';
import type { GuestVm } from '../../tools/guest/vm.ts';
import { guestArtefacts, guestTestStack, type GuestTestStack } from './stack.ts';
import { readWholeFile } from '../helpers/stack.ts';

const DISK_BYTES = 96 * 1024 * 1024;
const TAR_FILES = 3000;
const BIG_MIB = 100;

let stack: GuestTestStack;
let host: GuestHost;
let vm: GuestVm;

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const guestSha = async (path: string) => (await vm.sh(`sha256sum ${path}`)).split(/\s+/)[0];

beforeAll(async () => {
  const artefacts = await guestArtefacts();
  stack = await guestTestStack();
  const extent = await allocateGuestDisk(stack.sys.block!, DISK_BYTES);
  host = await startGuest({ kernel: stack.sys.kernel, artefacts, filesystem: 'strata', disk: { extent }, log: (l) => console.error(l) });
  vm = host.vm;
  console.log(`guest booted in ${(vm.bootMs / 1000).toFixed(1)} s`);
  expect(vm.console).toContain('strata-guest: 9p mounted at /mnt/strata');
}, 600_000);

afterAll(async () => {
  await host?.stop();
  await stack?.close();
});

const fsc = () => stack.sys.fs!;

describe('Linux guest on Strata', () => {
  it('creates, writes and reads back files (sha256sum in the guest, the fs protocol on the host)', async () => {
    await vm.sh('cd /mnt/strata && echo "hello from linux" > hello.txt && printf "%s" abc > abc && dd if=/dev/urandom of=rand.bin bs=4096 count=100 2>/dev/null');
    expect(await vm.sh('cat /mnt/strata/hello.txt')).toBe('hello from linux\n');
    const hash = await guestSha('/mnt/strata/rand.bin');
    expect(sha256(await readWholeFile(fsc(), '/rand.bin'))).toBe(hash);
    expect(new TextDecoder().decode(await readWholeFile(fsc(), '/hello.txt'))).toBe('hello from linux\n');
    // Overwrite in the middle, append, truncate: the guest and the host agree.
    await vm.sh('cd /mnt/strata && printf XYZ | dd of=rand.bin bs=1 seek=5000 conv=notrunc 2>/dev/null && echo tail >> abc && truncate -s 3000 hello.txt');
    expect(sha256(await readWholeFile(fsc(), '/rand.bin'))).toBe(await guestSha('/mnt/strata/rand.bin'));
    expect(new TextDecoder().decode(await readWholeFile(fsc(), '/abc'))).toBe('abctail\n');
    expect((await fsc().resolve('/hello.txt')).sizeBytes).toBe(3000);
    expect(await vm.sh('stat -c %s /mnt/strata/hello.txt')).toBe('3000\n');
  });

  it('mkdir -p of a deep tree, mv, rm -r, ln and ln -s', async () => {
    const deep = Array.from({ length: 30 }, (_, i) => `level${i}`).join('/');
    await vm.sh(`cd /mnt/strata && mkdir -p tree/${deep} && echo leaf > tree/${deep}/leaf && mkdir -p tree/a/b tree/c`);
    expect(await vm.sh(`cat /mnt/strata/tree/${deep}/leaf`)).toBe('leaf\n');
    expect((await fsc().resolve(`/tree/${deep}/leaf`)).type).toBe('file');
    await vm.sh('cd /mnt/strata/tree && mv level0 moved && mv a/b c/b2 && echo x > c/f && mv c/f c/g');
    expect(await vm.run('ls /mnt/strata/tree/level0')).toMatchObject({ status: 1 });
    expect(await vm.sh(`cat /mnt/strata/tree/moved/${deep.split('/').slice(1).join('/')}/leaf`)).toBe('leaf\n');
    await vm.sh('cd /mnt/strata/tree && ln c/g hard && ln -s c/g soft && ln -s /nonexistent dangling');
    expect(await vm.sh('cd /mnt/strata/tree && cat hard soft && readlink soft && stat -c %h c/g')).toBe('x\nx\nc/g\n2\n');
    expect(await fsc().readlink((await fsc().resolve('/tree/soft', false)).ino)).toBe('c/g');
    expect((await fsc().resolve('/tree/hard')).ino).toBe((await fsc().resolve('/tree/c/g')).ino);
    await vm.sh('rm -r /mnt/strata/tree/moved && rm /mnt/strata/tree/hard');
    expect(await fsc().resolve('/tree/moved').then(() => 'exists', (e: { code: string }) => e.code)).toBe('ENOENT');
    expect((await fsc().resolve('/tree/c/g')).nlink).toBe(1);
    expect(await vm.run('rmdir /mnt/strata/tree/c')).toMatchObject({ status: 1 });
  });

  it(`extracts a busybox tar of ${TAR_FILES} files, lists it, and find, du and df agree`, async () => {
    // Build the source tree on the guest's tmpfs, in 60 directories.
    await vm.sh(`mkdir -p /tmp/src && cd /tmp/src && for d in $(seq 0 59); do mkdir d$d; done && i=0; while [ $i -lt ${TAR_FILES} ]; do echo "file $i $((i * 7919))" > d$((i % 60))/f$i; i=$((i + 1)); done && tar -cf /tmp/src.tar -C /tmp src`, { timeoutMs: 600_000 });
    const t0 = performance.now();
    await vm.sh('mkdir -p /mnt/strata/untar && tar -xf /tmp/src.tar -C /mnt/strata/untar', { timeoutMs: 900_000 });
    console.log(`tar -x of ${TAR_FILES} files: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    expect((await vm.sh('tar -tf /tmp/src.tar | wc -l')).trim()).toBe(String(TAR_FILES + 61));
    expect((await vm.sh('find /mnt/strata/untar/src -type f | wc -l')).trim()).toBe(String(TAR_FILES));
    expect((await vm.sh('find /mnt/strata/untar/src -type d | wc -l')).trim()).toBe('61');
    expect((await vm.sh('ls /mnt/strata/untar/src/d7 | wc -l')).trim()).toBe(String(TAR_FILES / 60));
    expect(await vm.sh('cd /tmp && find src -type f | sort | xargs cat | sha256sum')).toBe(await vm.sh('cd /mnt/strata/untar && find src -type f | sort | xargs cat | sha256sum'));
    const du = Number((await vm.sh('du -s -k /mnt/strata/untar/src')).split(/\s+/)[0]);
    expect(du).toBeGreaterThan(0);
    expect(await vm.sh('df -k /mnt/strata | tail -1')).toMatch(/host9p\s+\d+\s+\d+\s+\d+/);
    expect(new TextDecoder().decode(await readWholeFile(fsc(), '/untar/src/d13/f1273'))).toBe(`file 1273 ${1273 * 7919}\n`);
    expect((await fsc().readdir((await fsc().resolve('/untar/src/d0')).ino, 0, 4096)).entries.length).toBe(TAR_FILES / 60);
  });

  it(`writes a ${BIG_MIB} MB file with dd and checks it in the guest and on the host`, async () => {
    await vm.sh('dd if=/dev/urandom of=/tmp/seed bs=1M count=1 2>/dev/null');
    await vm.sh(`cd /mnt/strata && (for i in $(seq ${BIG_MIB}); do cat /tmp/seed; done) | dd of=big bs=1M 2>/dev/null; sync`, { timeoutMs: 900_000 });
    expect((await vm.sh('stat -c %s /mnt/strata/big')).trim()).toBe(String(BIG_MIB << 20));
    const inGuest = await guestSha('/mnt/strata/big');
    const big = await readWholeFile(fsc(), '/big');
    expect(sha256(big)).toBe(inGuest);
    const first = big.subarray(0, 1 << 20);
    for (let i = 1; i < BIG_MIB; i++) expect(Buffer.compare(big.subarray(i << 20, (i + 1) << 20), first)).toBe(0);
    expect(await vm.sh('dd if=/mnt/strata/big of=/dev/null bs=1M 2>&1 | head -1')).toBe(`${BIG_MIB}+0 records in\n`);
  });

  it('formats, mounts, fills and checks an ext4 filesystem on the IDE disk served by the block service', async () => {
    expect(vm.console).toContain('strata-guest: disk /dev/sda');
    await vm.sh('mkfs.ext4 -q -F /dev/sda', { timeoutMs: 600_000 });
    await vm.sh('mount -t ext4 /dev/sda /mnt/disk && cp /mnt/strata/rand.bin /mnt/disk/ && mkdir /mnt/disk/dir && cp -r /mnt/strata/untar/src/d1 /mnt/disk/dir/ && sync');
    const hash = await guestSha('/mnt/disk/rand.bin');
    expect(hash).toBe(await guestSha('/mnt/strata/rand.bin'));
    await vm.sh('umount /mnt/disk');
    const fsck = await vm.run('e2fsck -f -n /dev/sda', { timeoutMs: 600_000 });
    expect(fsck.output).toMatch(/\/dev\/sda: \d+\/\d+ files/);
    expect(fsck.status).toBe(0);
    // Mounted again, the files are there: the bytes went through the block service and back.
    await vm.sh('mount -t ext4 /dev/sda /mnt/disk');
    expect(await guestSha('/mnt/disk/rand.bin')).toBe(hash);
    expect((await vm.sh('ls /mnt/disk/dir/d1 | wc -l')).trim()).toBe(String(TAR_FILES / 60));
    await vm.sh('umount /mnt/disk');
    await host.disk!.drain();
    expect(host.disk!.writes).toBeGreaterThan(0);
  });

  it('shows a snapshot taken on the host to the guest, read-only, under /.snapshots', async () => {
    const randHash = sha256(await readWholeFile(fsc(), '/rand.bin'));
    await fsc().snapshotCreate('before-edit');
    await vm.sh('echo changed > /mnt/strata/hello.txt && rm /mnt/strata/abc');
    expect((await vm.sh('ls /mnt/strata/.snapshots')).split(/\s+/)).toContain('before-edit');
    expect(await guestSha('/mnt/strata/.snapshots/before-edit/rand.bin')).toBe(randHash);
    expect(await vm.sh('cat /mnt/strata/.snapshots/before-edit/abc')).toBe('abctail\n');
    expect(await vm.sh('stat -c %s /mnt/strata/.snapshots/before-edit/hello.txt')).toBe('3000\n');
    expect(await vm.sh('cat /mnt/strata/hello.txt')).toBe('changed\n');
    // Read-only: neither a write nor a delete reaches the snapshot.
    expect((await vm.run('echo x > /mnt/strata/.snapshots/before-edit/abc')).status).not.toBe(0);
    expect((await vm.run('rm /mnt/strata/.snapshots/before-edit/rand.bin')).status).not.toBe(0);
    expect(await vm.sh('cat /mnt/strata/.snapshots/before-edit/abc')).toBe('abctail\n');
    // Copying one file back out of the snapshot, the way a user undoes one mistake.
    await vm.sh('cp /mnt/strata/.snapshots/before-edit/abc /mnt/strata/abc');
    expect(new TextDecoder().decode(await readWholeFile(fsc(), '/abc'))).toBe('abctail\n');
  });

  it('served every request without an internal error or a transport failure', async () => {
    const stats = await host.p9Stats();
    expect(stats?.internalErrors).toBe(0);
    expect(stats?.malformed).toBe(0);
    expect(host.counters.transportErrors).toBe(0);
    console.log(`9P: ${host.counters.requests} requests, ${JSON.stringify(stats?.byMessage)}`);
  });

  it('keeps every file across a reboot of the whole stack on the same disk', async () => {
    const before = { rand: sha256(await readWholeFile(fsc(), '/rand.bin')), big: sha256(await readWholeFile(fsc(), '/big')) };
    await vm.sh('sync');
    await host.stop();
    // The guest's IDE disk is this session's extent: freed as `strata guest` frees it at exit
    // (a mount would reclaim it anyway, as blocks no chunk owns).
    await stack.sys.block!.free([host.disk!.extent]);
    const sys = await stack.reboot();
    expect((await sys.block!.info()).mount.problems).toEqual([]);
    expect(sha256(await readWholeFile(fsc(), '/rand.bin'))).toBe(before.rand);
    expect(sha256(await readWholeFile(fsc(), '/big'))).toBe(before.big);
    expect(new TextDecoder().decode(await readWholeFile(fsc(), '/untar/src/d0/f0'))).toBe('file 0 0\n');
    let files = 0;
    for (let d = 0; d < 60; d++) files += (await fsc().readdir((await fsc().resolve(`/untar/src/d${d}`)).ino, 0, 4096)).entries.length;
    expect(files).toBe(TAR_FILES);
    expect(await fsc().readlink((await fsc().resolve('/tree/soft', false)).ino)).toBe('c/g');
  });

  it('leaves a disk the offline fsck finds clean', async () => {
    const report = await stack.offlineFsck();
    expect(report.problems).toEqual([]);
    expect(report.exitCode).toBe(0);
  });
});
