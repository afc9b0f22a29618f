// The virtio-blk driver suite, once for both kernel modes (test/driver holds the
// deterministic originals). Every request type, many in flight, data against a byte-array
// model, bad input, capabilities, durability, device reset with requests in flight. The
// trace-replay test needs the deterministic scheduler and runs in that mode only.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FaultyBackend } from '../../kernel/machine/disk/faulty.ts';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import type { DiskBackend } from '../../kernel/machine/disk/backend.ts';
import type { Kernel } from '../../kernel/kernel.ts';
import type { Machine } from '../../kernel/machine/machine.ts';
import type { ServiceContext } from '../../kernel/service.ts';
import type { VirtioBlkClient } from '../../drivers/virtio-blk/protocol.ts';
import { codeOf, MiB, patterned } from '../helpers/stack.ts';

export interface SuiteSystem {
  kernel: Kernel;
  machine: Machine;
  user: ServiceContext;
  blk: VirtioBlkClient;
  shutdown(): Promise<void>;
}

export interface SuiteBootOptions {
  disk?: DiskBackend;
  sizeBytes?: number;
  seed?: number;
  trace?: boolean;
  withoutFlush?: boolean;
}

export interface KernelMode {
  name: 'deterministic' | 'isolated';
  boot(options?: SuiteBootOptions): Promise<SuiteSystem>;
  /** Spawns a service that maps `base` although its manifest names no MMIO window. */
  spawnRogue(sys: SuiteSystem, base: number): Promise<void>;
  /** fast-check runs of the model test (a boot each: workers take longer to start). */
  modelRuns: number;
}

/** A disk whose chosen writes throw a plain Error: the device treats that as its own fault and asks for a reset. */
class GlitchyDisk extends MemoryBackend {
  writesSeen = 0;
  glitchAt = new Set<number>();
  alwaysGlitchSector = -1;
  override write(offsetBytes: number, src: Uint8Array): void {
    this.writesSeen++;
    if (this.glitchAt.has(this.writesSeen)) throw new Error(`glitch on write ${this.writesSeen}`);
    if (this.alwaysGlitchSector >= 0 && offsetBytes === this.alwaysGlitchSector * 512) throw new Error('stuck glitch');
    super.write(offsetBytes, src);
  }
}

export function driverSuite(mode: KernelMode): void {
  const boot = mode.boot;

  describe(`virtio-blk driver (${mode.name} kernel): requests`, () => {
    it('negotiates features and reports the device', async () => {
      const sys = await boot({ sizeBytes: 8 * MiB });
      const info = await sys.blk.info();
      expect(info.capacitySectors).toBe((8 * MiB) / 512);
      expect(info.features).toEqual(expect.arrayContaining(['VERSION_1', 'FLUSH', 'BLK_SIZE', 'SEG_MAX', 'SIZE_MAX', 'DISCARD', 'WRITE_ZEROES']));
      expect(info.writeCache).toBe(true);
      expect(info.readOnly).toBe(false);
      expect(info.id.length).toBeGreaterThan(0);
      expect(info.queueSize).toBeGreaterThanOrEqual(32);
      await sys.shutdown();
    });

    it('round-trips IN, OUT, FLUSH, DISCARD and WRITE_ZEROES, inline and by grant', async () => {
      const sys = await boot();
      const data = patterned(64 * 1024, 1);
      await sys.blk.write(100, data);
      await sys.blk.flush();
      expect(Buffer.compare(await sys.blk.read(100, 128), data)).toBe(0);
      const region = sys.user.memory.alloc(128 * 1024);
      const grantId = sys.user.memory.grant(region, 'virtio-blk', 'rw');
      sys.user.memory.view(region, 0, 64 * 1024).set(data);
      await sys.blk.writeFrom(1000, [
        { grantId, offsetBytes: 0, lengthBytes: 32 * 1024 },
        { grantId, offsetBytes: 32 * 1024, lengthBytes: 32 * 1024 },
      ]);
      await sys.blk.readInto(1000, 128, [{ grantId, offsetBytes: 64 * 1024, lengthBytes: 64 * 1024 }]);
      expect(Buffer.compare(sys.user.memory.view(region, 64 * 1024, 64 * 1024), data)).toBe(0);
      await sys.blk.writeZeroes(100, 8);
      expect((await sys.blk.read(100, 8)).every((b) => b === 0)).toBe(true);
      expect(Buffer.compare(await sys.blk.read(108, 8), data.subarray(4096, 8192))).toBe(0);
      await sys.blk.discard(1000, 16);
      expect((await sys.blk.read(1000, 16)).every((b) => b === 0)).toBe(true);
      const stats = await sys.blk.stats();
      expect(stats.completed).toMatchObject({ write: 2, read: 5, flush: 1, writeZeroes: 1, discard: 1, getId: 1 });
      await sys.shutdown();
    });

    it('keeps a full queue of requests in flight and queues the rest', async () => {
      const sys = await boot();
      const info = await sys.blk.info();
      const n = info.queueSize * 2;
      const blocks = Array.from({ length: n }, (_, i) => patterned(4096, i + 10));
      await Promise.all(blocks.map((b, i) => sys.blk.write(i * 8, b)));
      const back = await Promise.all(blocks.map((_, i) => sys.blk.read(i * 8, 8)));
      back.forEach((b, i) => expect(Buffer.compare(b, blocks[i])).toBe(0));
      const stats = await sys.blk.stats();
      expect(stats.inFlightMax).toBe(Math.floor(info.queueSize / 3)); // header, data, status per request
      expect(stats.inFlight).toBe(0);
      expect(stats.queued).toBe(0);
      await sys.shutdown();
    });

    it('gives the same data as a byte-array model over random requests', async () => {
      const sizeBytes = 1 * MiB;
      const sectors = sizeBytes / 512;
      const op = fc.oneof(
        fc.record({ kind: fc.constant('write' as const), sector: fc.nat(sectors - 1), count: fc.integer({ min: 1, max: 64 }), seed: fc.nat() }),
        fc.record({ kind: fc.constant('read' as const), sector: fc.nat(sectors - 1), count: fc.integer({ min: 1, max: 64 }) }),
        fc.record({ kind: fc.constant('zero' as const), sector: fc.nat(sectors - 1), count: fc.integer({ min: 1, max: 64 }) }),
        fc.record({ kind: fc.constant('flush' as const) }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
          const sys = await boot({ disk: new MemoryBackend(sizeBytes) });
          const model = new Uint8Array(sizeBytes);
          try {
            for (const o of ops) {
              if (o.kind === 'flush') {
                await sys.blk.flush();
                continue;
              }
              const count = Math.min(o.count, sectors - o.sector);
              if (o.kind === 'write') {
                const data = patterned(count * 512, o.seed);
                await sys.blk.write(o.sector, data);
                model.set(data, o.sector * 512);
              } else if (o.kind === 'zero') {
                await sys.blk.writeZeroes(o.sector, count);
                model.fill(0, o.sector * 512, (o.sector + count) * 512);
              } else {
                const got = await sys.blk.read(o.sector, count);
                expect(Buffer.compare(got, model.subarray(o.sector * 512, (o.sector + count) * 512))).toBe(0);
              }
            }
            expect(Buffer.compare(await sys.blk.read(0, 2048), model.subarray(0, MiB))).toBe(0);
          } finally {
            await sys.shutdown();
          }
        }),
        { numRuns: mode.modelRuns },
      );
    });
  });

  describe(`virtio-blk driver (${mode.name} kernel): bad input and capabilities`, () => {
    it('refuses requests past capacity, misaligned, oversized or malformed, and keeps working', async () => {
      const sys = await boot({ sizeBytes: 1 * MiB });
      const call = (op: string, body: unknown) => codeOf(sys.user.call('virtio-blk', op, body));
      expect(await call('read', { sector: 2047, count: 2 })).toBe('RANGE');
      expect(await call('write', { sector: 0, data: new Uint8Array(100) })).toBe('BADMSG');
      expect(await call('write', { sector: 0 })).toBe('BADMSG');
      expect(await call('read', { sector: -1, count: 1 })).toBe('BADMSG');
      expect(await call('read', 'nonsense')).toBe('BADMSG');
      expect(await call('read', { sector: 0, count: 16384 })).toBe('RANGE');
      expect(await call('frobnicate', {})).toBe('BADOP');
      const faults0 = sys.kernel.memory.faultCount;
      expect(await call('read', { sector: 0, count: 8, into: [{ grantId: 999, offsetBytes: 0, lengthBytes: 4096 }] })).toBe('GRANT');
      const region = sys.user.memory.alloc(4096);
      const ro = sys.user.memory.grant(region, 'virtio-blk', 'r');
      expect(await call('read', { sector: 0, count: 8, into: [{ grantId: ro, offsetBytes: 0, lengthBytes: 4096 }] })).toBe('GRANT');
      expect(await call('read', { sector: 0, count: 16, into: [{ grantId: ro, offsetBytes: 0, lengthBytes: 8192 }] })).toBe('GRANT');
      expect(sys.kernel.memory.faultCount - faults0).toBe(3); // every violation counted by the kernel
      await sys.blk.write(0, patterned(512, 3));
      expect(Buffer.compare(await sys.blk.read(0, 1), patterned(512, 3))).toBe(0);
      expect((await sys.blk.stats()).errors).toBe(0); // nothing bad reached the device
      await sys.shutdown();
    });

    it('carries device I/O errors back as IOERR values', async () => {
      const disk = new FaultyBackend(1 * MiB);
      disk.failSectors([40], { reads: true, writes: true });
      const sys = await boot({ disk });
      expect(await codeOf(sys.blk.read(36, 8))).toBe('IOERR');
      expect(await codeOf(sys.blk.write(40, new Uint8Array(512)))).toBe('IOERR');
      expect(await codeOf(sys.blk.read(48, 8))).toBe('ok');
      expect((await sys.blk.stats()).errors).toBe(2);
      await sys.shutdown();
    });

    it('refuses callers without the capability, and other services may not map the device', async () => {
      const sys = await boot();
      const stranger = sys.kernel.attach({ name: 'stranger', calls: [] });
      expect(await codeOf(stranger.call('virtio-blk', 'read', { sector: 0, count: 1 }))).toBe('NOCAP');
      expect(sys.kernel.endpointCounters().get('virtio-blk')!.refused).toBe(1);
      await expect(mode.spawnRogue(sys, sys.machine.devices[0].base)).rejects.toThrow(/may not map MMIO/);
      await sys.shutdown();
    });
  });

  describe(`virtio-blk driver (${mode.name} kernel): durability`, () => {
    it('may lose a write that was not flushed, never one that was', async () => {
      const disk = new FaultyBackend(1 * MiB);
      const sys = await boot({ disk });
      await sys.blk.write(8, patterned(4096, 1));
      await sys.blk.flush();
      await sys.blk.write(16, patterned(4096, 2));
      disk.crash('lose-all');
      const image = disk.snapshotDurable();
      expect(Buffer.compare(image.subarray(8 * 512, 16 * 512), patterned(4096, 1))).toBe(0);
      expect(image.subarray(16 * 512, 24 * 512).every((b) => b === 0)).toBe(true);
      await sys.shutdown();
    });

    it('is write-through when FLUSH is not negotiated: every completed write survives', async () => {
      const disk = new FaultyBackend(1 * MiB);
      const sys = await boot({ disk, withoutFlush: true });
      expect((await sys.blk.info()).writeCache).toBe(false);
      await sys.blk.write(16, patterned(4096, 2));
      disk.crash('lose-all');
      expect(Buffer.compare(disk.snapshotDurable().subarray(16 * 512, 24 * 512), patterned(4096, 2))).toBe(0);
      await sys.shutdown();
    });
  });

  describe(`virtio-blk driver (${mode.name} kernel): device reset with requests in flight`, () => {
    it.each([1, 2, 3])('re-initialises the device and completes every request once (seed %i)', async (seed) => {
      const disk = new GlitchyDisk(4 * MiB);
      const sys = await boot({ disk, seed });
      disk.glitchAt.add(disk.writesSeen + 5);
      const device = sys.machine.blockDevices[0];
      const outBefore = device.counters.requests.out;
      const blocks = Array.from({ length: 24 }, (_, i) => patterned(4096, 100 + i));
      const results = await Promise.all(blocks.map((b, i) => codeOf(sys.blk.write(i * 8, b))));
      expect(results.every((r) => r === 'ok')).toBe(true);
      for (let i = 0; i < blocks.length; i++) expect(Buffer.compare(await sys.blk.read(i * 8, 8), blocks[i])).toBe(0);
      const stats = await sys.blk.stats();
      expect(stats.resets).toBe(1);
      expect(stats.completed.write).toBe(24);
      expect(device.counters.requests.out - outBefore).toBe(25); // each once, plus the glitched one again
      expect(sys.kernel.logLines.some((l) => l.includes('device needs reset'))).toBe(true);
      expect((await sys.blk.info()).features).toContain('FLUSH');
      await sys.shutdown();
    });

    it('fails a request that meets a second reset with RESET and keeps serving others', async () => {
      const disk = new GlitchyDisk(4 * MiB);
      const sys = await boot({ disk });
      disk.alwaysGlitchSector = 64;
      expect(await codeOf(sys.blk.write(64, patterned(4096, 1)))).toBe('RESET');
      expect(await codeOf(sys.blk.write(128, patterned(4096, 2)))).toBe('ok');
      expect(Buffer.compare(await sys.blk.read(128, 8), patterned(4096, 2))).toBe(0);
      expect((await sys.blk.stats()).resets).toBe(2);
      await sys.shutdown();
    });
  });

  if (mode.name === 'deterministic') {
    describe('virtio-blk driver (deterministic kernel): replay', () => {
      it('replays the same message and interrupt trace for the same seed', async () => {
        const run = async () => {
          const sys = await boot({ seed: 9, trace: true, sizeBytes: 1 * MiB });
          await Promise.all(Array.from({ length: 40 }, (_, i) => sys.blk.write(i * 8, patterned(4096, i))));
          await sys.blk.flush();
          const lines = sys.kernel.trace.lines();
          await sys.shutdown();
          return lines;
        };
        const a = await run();
        expect(a.some((l) => l.includes(' irq '))).toBe(true);
        expect(await run()).toEqual(a);
      });
    });
  }
}
