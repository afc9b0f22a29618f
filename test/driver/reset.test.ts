// The driver's recovery when the device sets DEVICE_NEEDS_RESET with requests in flight:
// reset, re-initialise (the full §3.1.1 sequence), re-submit once, lose nothing.
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { bootTestSystem, codeOf, MiB, patterned } from '../helpers/stack.ts';

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

describe('virtio-blk driver: device reset with requests in flight', () => {
  // Several seeds, so that some interleavings put completions and the reset request in
  // the same interrupt (the case where re-submitting everything would repeat requests).
  it.each([1, 2, 3, 4])('re-initialises the device and completes every request once (seed %i)', async (seed) => {
    const disk = new GlitchyDisk(4 * MiB);
    const sys = await bootTestSystem({ disk, seed });
    disk.glitchAt.add(disk.writesSeen + 5); // the fifth of the writes below
    const device = sys.machine.blockDevices[0];
    const outBefore = device.counters.requests.out;
    const blocks = Array.from({ length: 24 }, (_, i) => patterned(4096, 100 + i));
    const results = await Promise.all(blocks.map((b, i) => codeOf(sys.blk.write(i * 8, b))));
    expect(results.every((r) => r === 'ok')).toBe(true);
    for (let i = 0; i < blocks.length; i++) expect(Buffer.compare(await sys.blk.read(i * 8, 8), blocks[i])).toBe(0);
    const stats = await sys.blk.stats();
    expect(stats.resets).toBe(1);
    expect(stats.completed.write).toBe(24);
    // The device ran each write once, plus the one that glitched once more: requests it
    // had already completed were collected, not re-submitted.
    expect(device.counters.requests.out - outBefore).toBe(25);
    expect(sys.kernel.logLines.some((l) => l.includes('device needs reset'))).toBe(true);
    // The device is live again with the same negotiated features.
    expect((await sys.blk.info()).features).toContain('FLUSH');
    await sys.shutdown();
  });

  it('fails a request that meets a second reset with RESET and keeps serving others', async () => {
    const disk = new GlitchyDisk(4 * MiB);
    const sys = await bootTestSystem({ disk });
    disk.alwaysGlitchSector = 64;
    expect(await codeOf(sys.blk.write(64, patterned(4096, 1)))).toBe('RESET');
    expect(await codeOf(sys.blk.write(128, patterned(4096, 2)))).toBe('ok');
    expect(Buffer.compare(await sys.blk.read(128, 8), patterned(4096, 2))).toBe(0);
    expect((await sys.blk.stats()).resets).toBe(2);
    await sys.shutdown();
  });
});
