// Killing the virtio-blk driver in the middle of a large write: the supervisor resets the
// device, fails what was in flight with STOPPED and restarts the driver, which negotiates
// the device again; the client (standing in for the block service) re-grants its memory
// and re-issues what failed (kernel/isolated/reissue.ts). The write ends complete and every byte is verified, through
// the driver and on the disk itself; a second kill during the read-back is survived too.
import { afterEach, describe, expect, it } from 'vitest';
import { IsolatedKernel } from '../../kernel/isolated/isolated-kernel.ts';
import { bootIsolated, type IsolatedSystem } from '../../kernel/isolated/boot.ts';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { isCode } from '../../kernel/errors.ts';
import type { SupervisionEvent } from '../../kernel/isolated/supervisor.ts';
import { reissue } from '../../kernel/isolated/reissue.ts';
import { MiB, patterned } from './helpers.ts';

afterEach(() => IsolatedKernel.shutdownAll());

const CHUNKS = 48; // 1 MiB each
const LANES = 8; // requests in flight
const SECTORS_PER_CHUNK = MiB / 512;

/** What a client of a restartable driver does (kernel/isolated/reissue.ts): wait for the driver, re-grant, re-issue. */
class ReissuingClient {
  private region: ReturnType<IsolatedSystem['user']['memory']['alloc']>;
  private grantId: number;
  private grantEpoch = 0;
  reissued = 0;
  readonly codes = new Map<string, number>();

  constructor(private readonly sys: IsolatedSystem) {
    this.region = sys.user.memory.alloc(LANES * MiB);
    this.grantId = sys.user.memory.grant(this.region, 'virtio-blk', 'rw');
  }

  kill(): Promise<SupervisionEvent> {
    return this.sys.kill('virtio-blk');
  }

  async write(lane: number, chunk: number): Promise<void> {
    await this.retrying(async (grantId) => {
      this.sys.user.memory.view(this.region, lane * MiB, MiB).set(patterned(MiB, chunk));
      await this.sys.blk.writeFrom(chunk * SECTORS_PER_CHUNK, [{ grantId, offsetBytes: lane * MiB, lengthBytes: MiB }]);
    });
  }

  async read(lane: number, chunk: number): Promise<Uint8Array> {
    await this.retrying((grantId) => this.sys.blk.readInto(chunk * SECTORS_PER_CHUNK, SECTORS_PER_CHUNK, [{ grantId, offsetBytes: lane * MiB, lengthBytes: MiB }]));
    return this.sys.user.memory.view(this.region, lane * MiB, MiB).slice();
  }

  private async retrying(attempt: (grantId: number) => Promise<void>): Promise<void> {
    let used = this.grantEpoch;
    await reissue(
      this.sys.user.timers,
      async () => {
        used = this.grantEpoch;
        try {
          return await attempt(this.grantId);
        } catch (e) {
          if (isCode(e, 'STOPPED', 'NOENDPOINT', 'GRANT')) {
            this.codes.set(e.code, (this.codes.get(e.code) ?? 0) + 1);
            this.reissued++;
          }
          throw e;
        }
      },
      {
        // Grants lent to the dead instance died with it: lend the pages to the new one (once for all lanes).
        restarted: () => {
          if (used !== this.grantEpoch) return;
          this.grantId = this.sys.user.memory.grant(this.region, 'virtio-blk', 'rw');
          this.grantEpoch++;
        },
      },
    );
  }
}

async function lanes(count: number, work: (lane: number, chunk: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: LANES }, async (_, lane) => {
      while (next < count) await work(lane, next++);
    }),
  );
}

describe('isolated kernel: driver restart under load', () => {
  it('finishes a large write after the driver is killed in the middle, with every byte verified', async () => {
    const disk = new MemoryBackend(CHUNKS * MiB);
    const sys = await bootIsolated({ disk, memorySizeBytes: 64 * MiB });
    const client = new ReissuingClient(sys);
    const resetsBefore = sys.machine.transports[0].stats.resets;
    let done = 0;
    let killed: Promise<SupervisionEvent> | undefined;
    await lanes(CHUNKS, async (lane, chunk) => {
      await client.write(lane, chunk);
      if (++done === CHUNKS / 3) killed = client.kill();
    });
    expect((await killed!).kind).toBe('restarted');
    await sys.blk.flush();
    // Requests were in flight when the driver died, and they were re-issued.
    expect(client.codes.get('STOPPED') ?? 0).toBeGreaterThan(0);
    expect(client.reissued).toBeGreaterThan(0);
    // The supervisor reset the device; the new driver negotiated it from scratch.
    expect(sys.machine.transports[0].stats.resets).toBeGreaterThan(resetsBefore);
    expect(sys.kernel.logLines.filter((l) => l.includes('virtio-blk at 0x')).length).toBe(2);
    expect((await sys.blk.info()).features).toContain('FLUSH');
    // Every byte, on the disk itself ...
    const onDisk = new Uint8Array(MiB);
    for (let c = 0; c < CHUNKS; c++) {
      disk.read(c * MiB, onDisk);
      expect(Buffer.compare(onDisk, patterned(MiB, c)), `chunk ${c} on disk`).toBe(0);
    }
    // ... and through the driver, killed once more in the middle of the read-back.
    let readsDone = 0;
    let killedAgain: Promise<SupervisionEvent> | undefined;
    await lanes(CHUNKS, async (lane, chunk) => {
      const got = await client.read(lane, chunk);
      expect(Buffer.compare(got, patterned(MiB, chunk)), `chunk ${chunk} read back`).toBe(0);
      if (++readsDone === CHUNKS / 2) killedAgain = client.kill();
    });
    expect((await killedAgain!).kind).toBe('restarted');
    const kinds = sys.isolated.events.filter((e) => e.service === 'virtio-blk').map((e) => e.kind);
    expect(kinds.filter((k) => k === 'killed')).toHaveLength(2);
    expect(kinds.filter((k) => k === 'restarted')).toHaveLength(2);
    await sys.shutdown();
  });
});
