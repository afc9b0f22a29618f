// The virtio-blk device: every request type, a full queue, odd framings, the write-cache model.
import { describe, expect, it } from 'vitest';
import { FaultyBackend } from '../../kernel/machine/disk/faulty.ts';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import * as S from '../../kernel/machine/virtio-spec.ts';
import { FULL_FEATURES, firstDifference, kick, pattern, request, rig, segment } from './helpers.ts';
import type { Rig } from './helpers.ts';

const SECTOR = 512;
const DISK_SECTORS = 4096;
const DISK_BYTES = DISK_SECTORS * SECTOR;
const OK = S.VIRTIO_BLK_S_OK;
const IOERR = S.VIRTIO_BLK_S_IOERR;
const UNSUPP = S.VIRTIO_BLK_S_UNSUPP;

function diskBytes(disk: MemoryBackend | FaultyBackend, sector: number, count: number): Uint8Array {
  const dst = new Uint8Array(count * SECTOR);
  disk.read(sector * SECTOR, dst);
  return dst;
}

/** Sends one request and returns its status byte and used element. */
function send(r: Rig, type: number, sector: number, data: { out?: Uint8Array; inBytes?: number } = {}) {
  const before = r.q.usedIdx();
  const req = request(r, type, sector, data);
  kick(r);
  expect(r.q.usedIdx()).toBe((before + 1) & 0xffff);
  const used = r.q.usedElem(before);
  expect(used.id).toBe(req.head);
  return { status: r.memory.read8(req.statusAddr), usedBytes: used.lengthBytes, req };
}

describe('virtio-blk requests', () => {
  it('OUT then IN round-trips data; used length counts only device-written bytes', () => {
    const disk = new MemoryBackend(DISK_BYTES);
    const r = rig(disk);
    const data = pattern(8 * SECTOR, 1);
    const out = send(r, S.VIRTIO_BLK_T_OUT, 10, { out: data });
    expect([out.status, out.usedBytes]).toEqual([OK, 1]);
    expect(firstDifference(diskBytes(disk, 10, 8), data)).toBe(-1);
    const read = send(r, S.VIRTIO_BLK_T_IN, 10, { inBytes: 8 * SECTOR });
    expect([read.status, read.usedBytes]).toEqual([OK, 8 * SECTOR + 1]);
    expect(firstDifference(r.memory.slice(read.req.dataAddr, 8 * SECTOR), data)).toBe(-1);
    const counters = r.machine.blockDevices[0].counters;
    expect(counters.requests.out).toBe(1);
    expect(counters.requests.in).toBe(1);
    expect(counters.bytesWritten).toBe(8 * SECTOR);
    expect(counters.bytesRead).toBe(8 * SECTOR);
  });

  it('FLUSH calls the backend flush and carries no data', () => {
    const disk = new FaultyBackend(DISK_BYTES);
    const r = rig(disk);
    const flushesBefore = disk.stats.flushes;
    expect(send(r, S.VIRTIO_BLK_T_FLUSH, 0)).toMatchObject({ status: OK, usedBytes: 1 });
    expect(disk.stats.flushes).toBe(flushesBefore + 1);
    expect(send(r, S.VIRTIO_BLK_T_FLUSH, 5).status).toBe(IOERR); // §5.2.6.1: sector MUST be 0
    expect(send(r, S.VIRTIO_BLK_T_FLUSH, 0, { out: new Uint8Array(SECTOR) }).status).toBe(IOERR);
  });

  it('GET_ID writes the 20-byte NUL-padded serial', () => {
    const r = rig(new MemoryBackend(DISK_BYTES));
    const got = send(r, S.VIRTIO_BLK_T_GET_ID, 0, { inBytes: 20 });
    expect([got.status, got.usedBytes]).toEqual([OK, 21]);
    const id = r.memory.slice(got.req.dataAddr, 20);
    expect(new TextDecoder().decode(id.subarray(0, 13))).toBe('test-serial-0');
    expect(id.subarray(13).every((b) => b === 0)).toBe(true);
    expect(send(r, S.VIRTIO_BLK_T_GET_ID, 0, { inBytes: 16 }).status).toBe(IOERR); // MUST be 20 bytes
  });

  it('DISCARD and WRITE_ZEROES zero their range; flags and segment counts are checked', () => {
    const disk = new MemoryBackend(DISK_BYTES);
    const r = rig(disk);
    send(r, S.VIRTIO_BLK_T_OUT, 100, { out: pattern(8 * SECTOR, 2) });
    expect(send(r, S.VIRTIO_BLK_T_DISCARD, 0, { out: segment(101, 2) }).status).toBe(OK);
    expect(diskBytes(disk, 101, 2).every((b) => b === 0)).toBe(true);
    expect(diskBytes(disk, 100, 1).some((b) => b !== 0)).toBe(true);
    expect(send(r, S.VIRTIO_BLK_T_WRITE_ZEROES, 0, { out: segment(104, 3, S.VIRTIO_BLK_DWZ_F_UNMAP) }).status).toBe(OK);
    expect(diskBytes(disk, 104, 3).every((b) => b === 0)).toBe(true);
    expect(diskBytes(disk, 107, 1).some((b) => b !== 0)).toBe(true);
    // §5.2.6.2: unmap on DISCARD and unknown flags are UNSUPP
    expect(send(r, S.VIRTIO_BLK_T_DISCARD, 0, { out: segment(107, 1, S.VIRTIO_BLK_DWZ_F_UNMAP) }).status).toBe(UNSUPP);
    expect(send(r, S.VIRTIO_BLK_T_WRITE_ZEROES, 0, { out: segment(107, 1, 2) }).status).toBe(UNSUPP);
    expect(diskBytes(disk, 107, 1).some((b) => b !== 0)).toBe(true);
    // more segments than max_discard_seg (1), a partial segment, none at all, past capacity
    const two = new Uint8Array([...segment(1, 1), ...segment(3, 1)]);
    expect(send(r, S.VIRTIO_BLK_T_DISCARD, 0, { out: two }).status).toBe(IOERR);
    expect(send(r, S.VIRTIO_BLK_T_DISCARD, 0, { out: segment(1, 1).subarray(0, 12) }).status).toBe(IOERR);
    expect(send(r, S.VIRTIO_BLK_T_DISCARD, 0).status).toBe(IOERR);
    expect(send(r, S.VIRTIO_BLK_T_WRITE_ZEROES, 0, { out: segment(DISK_SECTORS - 1, 2) }).status).toBe(IOERR);
    const counters = r.machine.blockDevices[0].counters;
    expect(counters.bytesDiscarded).toBe(2 * SECTOR);
    expect(counters.bytesZeroed).toBe(3 * SECTOR);
  });

  it('DISCARD and WRITE_ZEROES are UNSUPP when not negotiated', () => {
    const r = rig(new MemoryBackend(DISK_BYTES), S.featureBit(S.VIRTIO_F_VERSION_1));
    expect(send(r, S.VIRTIO_BLK_T_DISCARD, 0, { out: segment(0, 1) }).status).toBe(UNSUPP);
    expect(send(r, S.VIRTIO_BLK_T_WRITE_ZEROES, 0, { out: segment(0, 1) }).status).toBe(UNSUPP);
  });

  it('an unknown type is UNSUPP, and the writable data it came with is zeroed, not left as garbage', () => {
    const r = rig(new MemoryBackend(DISK_BYTES));
    for (const type of [2, S.VIRTIO_BLK_T_GET_LIFETIME, S.VIRTIO_BLK_T_SECURE_ERASE, 0xffff_ffff]) {
      const got = send(r, type, 0, { inBytes: 64 });
      expect([got.status, got.usedBytes]).toEqual([UNSUPP, 65]);
      expect(r.memory.slice(got.req.dataAddr, 64).every((b) => b === 0)).toBe(true);
    }
    expect(r.machine.blockDevices[0].counters.requests.unsupported).toBe(4);
    expect(r.machine.blockDevices[0].counters.statusUnsupp).toBe(4);
  });

  it('answers a full queue of requests from one notify, in order', () => {
    const disk = new MemoryBackend(DISK_BYTES);
    const r = rig(disk);
    // 128 two-descriptor OUT requests fill all 256 descriptors: header and data share one buffer.
    const heads: number[] = [];
    const statusAddrs: number[] = [];
    for (let i = 0; i < 128; i++) {
      const buf = r.alloc.take(16 + SECTOR);
      r.memory.write32(buf + S.VIRTIO_BLK_REQ_TYPE_OFFSET, S.VIRTIO_BLK_T_OUT);
      r.memory.write64(buf + S.VIRTIO_BLK_REQ_SECTOR_OFFSET, i * 3);
      r.memory.bytes.set(pattern(SECTOR, 1000 + i), buf + 16);
      const statusAddr = r.alloc.take(1, 1);
      r.memory.write8(statusAddr, 0xff);
      const head = r.q.chain([{ addr: buf, lengthBytes: 16 + SECTOR }, { addr: statusAddr, lengthBytes: 1, writable: true }]);
      r.q.publish(head);
      heads.push(head);
      statusAddrs.push(statusAddr);
    }
    kick(r);
    expect(r.q.usedIdx()).toBe(128);
    expect(r.host.interrupts.length).toBe(1); // one notification for the batch
    for (let i = 0; i < 128; i++) {
      expect(r.q.usedElem(i)).toEqual({ id: heads[i], lengthBytes: 1 });
      expect(r.memory.read8(statusAddrs[i])).toBe(OK);
      expect(firstDifference(diskBytes(disk, i * 3, 1), pattern(SECTOR, 1000 + i))).toBe(-1);
    }
  });

  it('does not assume an arrangement of descriptors: split header, unaligned data pieces, status sharing a buffer', () => {
    const disk = new MemoryBackend(DISK_BYTES);
    const r = rig(disk);
    const data = pattern(3 * SECTOR, 9);
    const header = r.alloc.take(16);
    r.memory.write32(header, S.VIRTIO_BLK_T_OUT);
    r.memory.write64(header + 8, 40);
    const pieces = [100, 700, 1, 735]; // 1536 bytes, three sectors straddling four buffers
    const outDescs = pieces.map((len, i) => {
      const addr = r.alloc.take(len, 1);
      const at = pieces.slice(0, i).reduce((a, b) => a + b, 0);
      r.memory.bytes.set(data.subarray(at, at + len), addr);
      return { addr, lengthBytes: len };
    });
    const status = r.alloc.take(1, 1);
    r.q.publish(r.q.chain([{ addr: header, lengthBytes: 8 }, { addr: header + 8, lengthBytes: 8 }, ...outDescs, { addr: status, lengthBytes: 1, writable: true }]));
    kick(r);
    expect(r.memory.read8(status)).toBe(OK);
    expect(firstDifference(diskBytes(disk, 40, 3), data)).toBe(-1);
    // IN into [300 | 1236 + status] : data and status share the last writable buffer
    const inHeader = r.alloc.take(16);
    r.memory.write32(inHeader, S.VIRTIO_BLK_T_IN);
    r.memory.write64(inHeader + 8, 40);
    const a = r.alloc.take(300, 1);
    const b = r.alloc.take(1237, 1);
    r.q.publish(r.q.chain([{ addr: inHeader, lengthBytes: 16 }, { addr: a, lengthBytes: 300, writable: true }, { addr: b, lengthBytes: 1237, writable: true }]));
    kick(r);
    expect(r.memory.read8(b + 1236)).toBe(OK);
    expect(r.q.usedElem(1).lengthBytes).toBe(1537);
    const back = new Uint8Array([...r.memory.slice(a, 300), ...r.memory.slice(b, 1236)]);
    expect(firstDifference(back, data)).toBe(-1);
  });
});

describe('virtio-blk errors answered with a status', () => {
  it.each([
    ['IN data not whole sectors', S.VIRTIO_BLK_T_IN, 0, { inBytes: 513 }],
    ['OUT data not whole sectors', S.VIRTIO_BLK_T_OUT, 0, { out: new Uint8Array(100) }],
    ['IN past capacity', S.VIRTIO_BLK_T_IN, DISK_SECTORS - 1, { inBytes: 2 * SECTOR }],
    ['OUT past capacity', S.VIRTIO_BLK_T_OUT, DISK_SECTORS, { out: new Uint8Array(SECTOR) }],
    ['IN at a sector beyond 2^53', S.VIRTIO_BLK_T_IN, 2 ** 53 - 1, { inBytes: SECTOR }],
    ['IN with device-readable data (read-only buffer where the device must write)', S.VIRTIO_BLK_T_IN, 0, { out: new Uint8Array(SECTOR) }],
  ] as const)('%s -> IOERR, disk untouched', (_name, type, sector, data) => {
    const disk = new MemoryBackend(DISK_BYTES);
    const r = rig(disk);
    const got = send(r, type, sector, data);
    expect(got.status).toBe(IOERR);
    expect(diskBytes(disk, 0, DISK_SECTORS).every((b) => b === 0)).toBe(true);
    if ('inBytes' in data) {
      expect(got.usedBytes).toBe(data.inBytes + 1);
      expect(r.memory.slice(got.req.dataAddr, data.inBytes).every((b) => b === 0)).toBe(true); // zeroed, not 0xee garbage
    }
    expect(r.machine.blockDevices[0].lastError).toBeTruthy();
  });

  it('OUT with device-writable data (write-only buffer where the device must read) -> IOERR', () => {
    const disk = new MemoryBackend(DISK_BYTES);
    const r = rig(disk);
    expect(send(r, S.VIRTIO_BLK_T_OUT, 0, { inBytes: SECTOR }).status).toBe(IOERR);
  });

  it('a short header, a readable buffer after a writable one, and a buffer over size_max -> IOERR', () => {
    const r = rig(new MemoryBackend(DISK_BYTES));
    const header = r.alloc.take(16);
    const status = r.alloc.take(1, 1);
    const data = r.alloc.take(SECTOR);
    const big = r.alloc.take(2 * 1024 * 1024);
    r.memory.write32(header, S.VIRTIO_BLK_T_IN);
    const cases = [
      [{ addr: header, lengthBytes: 8 }, { addr: status, lengthBytes: 1, writable: true }],
      [{ addr: header, lengthBytes: 16 }, { addr: data, lengthBytes: SECTOR, writable: true }, { addr: data, lengthBytes: 16 }, { addr: status, lengthBytes: 1, writable: true }],
      [{ addr: header, lengthBytes: 16 }, { addr: big, lengthBytes: 2 * 1024 * 1024, writable: true }, { addr: status, lengthBytes: 1, writable: true }],
    ];
    for (const descs of cases) {
      r.memory.write8(status, 0xff);
      r.q.publish(r.q.chain(descs));
      kick(r);
      expect(r.memory.read8(status)).toBe(IOERR);
    }
    expect(r.machine.blockDevices[0].counters.malformed).toBe(3);
    expect(r.machine.transports[0].driverBugs).toEqual([]); // answered, not a reset
  });

  it('a read-only device refuses writes with IOERR and writes nothing', () => {
    const disk = new MemoryBackend(DISK_BYTES, { readOnly: true });
    const r = rig(disk, FULL_FEATURES | S.featureBit(S.VIRTIO_BLK_F_RO));
    expect(send(r, S.VIRTIO_BLK_T_OUT, 0, { out: new Uint8Array(SECTOR).fill(1) }).status).toBe(IOERR);
    expect(send(r, S.VIRTIO_BLK_T_WRITE_ZEROES, 0, { out: segment(0, 1) }).status).toBe(IOERR);
    expect(send(r, S.VIRTIO_BLK_T_IN, 0, { inBytes: SECTOR }).status).toBe(OK);
    expect(send(r, S.VIRTIO_BLK_T_FLUSH, 0).status).toBe(OK);
    expect(disk.bytes.every((b) => b === 0)).toBe(true);
  });

  it('backend failures (medium error, no space) become IOERR', () => {
    const disk = new FaultyBackend(DISK_BYTES);
    const r = rig(disk);
    disk.failSectors([7]);
    expect(send(r, S.VIRTIO_BLK_T_IN, 4, { inBytes: 8 * SECTOR }).status).toBe(IOERR);
    expect(send(r, S.VIRTIO_BLK_T_OUT, 7, { out: new Uint8Array(SECTOR) }).status).toBe(IOERR);
    expect(send(r, S.VIRTIO_BLK_T_IN, 8, { inBytes: SECTOR }).status).toBe(OK);
    disk.limitWrittenBytes(SECTOR);
    expect(send(r, S.VIRTIO_BLK_T_OUT, 20, { out: new Uint8Array(2 * SECTOR) }).status).toBe(IOERR);
    expect(r.machine.blockDevices[0].lastError).toMatch(/NOSPC/);
    disk.flipBitOnRead(30, 0, { once: true });
    const got = send(r, S.VIRTIO_BLK_T_IN, 30, { inBytes: SECTOR });
    expect(got.status).toBe(OK); // silent corruption: the device cannot know
    expect(r.memory.read8(got.req.dataAddr)).toBe(1);
  });
});

describe('virtio-blk write-cache model (the commit point)', () => {
  it('with FLUSH negotiated, an OUT is lost by a crash until a FLUSH completes', () => {
    const disk = new FaultyBackend(DISK_BYTES);
    const r = rig(disk);
    expect(r.machine.blockDevices[0].writeThrough).toBe(false);
    send(r, S.VIRTIO_BLK_T_OUT, 1, { out: new Uint8Array(SECTOR).fill(0xa1) });
    disk.crash('lose-all');
    expect(diskBytes(disk, 1, 1)[0]).toBe(0);
    send(r, S.VIRTIO_BLK_T_OUT, 2, { out: new Uint8Array(SECTOR).fill(0xa2) });
    send(r, S.VIRTIO_BLK_T_FLUSH, 0);
    disk.crash('lose-all');
    expect(diskBytes(disk, 2, 1)[0]).toBe(0xa2);
  });

  it('without FLUSH negotiated the device is write-through: every completed write survives a crash', () => {
    const disk = new FaultyBackend(DISK_BYTES);
    const r = rig(disk, FULL_FEATURES & ~S.featureBit(S.VIRTIO_BLK_F_FLUSH));
    expect(r.machine.blockDevices[0].writeThrough).toBe(true);
    for (let i = 0; i < 5; i++) send(r, S.VIRTIO_BLK_T_OUT, 10 + i, { out: new Uint8Array(SECTOR).fill(0xb0 + i) });
    send(r, S.VIRTIO_BLK_T_OUT, 20, { out: new Uint8Array(SECTOR).fill(0xcc) });
    send(r, S.VIRTIO_BLK_T_WRITE_ZEROES, 0, { out: segment(20, 1) });
    disk.crash('lose-all');
    for (let i = 0; i < 5; i++) expect(diskBytes(disk, 10 + i, 1)[0]).toBe(0xb0 + i);
    expect(diskBytes(disk, 20, 1)[0]).toBe(0);
    expect(r.machine.blockDevices[0].counters.backendFlushes).toBe(7);
  });
});
