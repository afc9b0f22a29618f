/**
 * The scheduler's port to the virtio-blk driver: a staging region of this service's
 * memory, lent to the driver once ('rw' grant) for the service's lifetime, and calls that
 * name segments of it. The device DMAs straight into and out of the staging pages; the
 * only copies are between staging and the cache.
 *
 * Without a negotiated FLUSH the device is write-through, and the driver answers flush at
 * once; the scheduler still issues it, so the ordering rules hold either way.
 *
 * A restarted driver (the isolated mode's supervisor, kernel/isolated/) fails what was in
 * flight with STOPPED and forgets the staging grant (grants die with their holder), so a
 * request first sent to the new instance meets GRANT. Every driver request is safe to
 * repeat (a read, a write of the same bytes to the same sectors, a flush), so each is
 * re-issued (kernel/isolated/reissue.ts) after the staging region is lent again, once
 * per restart, under the new grant id. Segments are within the staging region by
 * construction (staging.ts asserts it), so GRANT on the current staging grant can only
 * mean the driver does not hold it. The scheduler keeps a re-issued request in flight
 * until it ends, so its ordering rules hold across a restart.
 */
import { VirtioBlkClient, VIRTIO_BLK_ENDPOINT, type BlkInfo, type Segment } from '../../drivers/virtio-blk/protocol.ts';
import type { ServiceContext } from '../../kernel/service.ts';
import { reissue } from '../../kernel/isolated/reissue.ts';
import { isCode } from '../../kernel/errors.ts';
import { blockError } from './errors.ts';
import { BLOCK_SIZE_BYTES, DRIVER_CALL_TIMEOUT_MS, STAGING_SIZE_BYTES } from './limits.ts';
import { IoScheduler } from './scheduler.ts';
import { Staging } from './staging.ts';

export async function openDriver(ctx: ServiceContext, endpoint: string = VIRTIO_BLK_ENDPOINT): Promise<{ scheduler: IoScheduler; info: BlkInfo }> {
  const blk = new VirtioBlkClient(ctx, endpoint);
  const info = await blk.info();
  if (info.blkSizeBytes > BLOCK_SIZE_BYTES || BLOCK_SIZE_BYTES % info.blkSizeBytes !== 0) {
    throw blockError('NOTMOUNTED', `the device's block size ${info.blkSizeBytes} does not divide ${BLOCK_SIZE_BYTES}`);
  }
  if (info.readOnly) throw blockError('NOTMOUNTED', 'the device is read-only');
  const region = ctx.memory.alloc(STAGING_SIZE_BYTES);
  const grantId = ctx.memory.grant(region, endpoint, 'rw');
  const staging = new Staging(ctx.memory.view(region), grantId);
  const timeoutMs = DRIVER_CALL_TIMEOUT_MS;
  // Segments name the staging grant; an attempt after a restart names the current one.
  const current = (segments: Segment[]) => segments.map((s) => ({ ...s, grantId: staging.grantId }));
  const lent = new Set([grantId]); // every staging grant this port made (one per driver instance)
  const call = (op: string, body: () => unknown): Promise<undefined> => {
    let used = staging.grantId;
    return reissue(
      ctx.timers,
      () => {
        used = staging.grantId;
        return ctx.call<void>(endpoint, op, body(), { timeoutMs }).then(() => undefined);
      },
      {
        symptom: (e) => isCode(e, 'GRANT') && lent.has(used),
        // Many requests see one restart: the first to get here lends the region again.
        restarted: () => {
          if (staging.grantId !== used) return;
          staging.grantId = ctx.memory.grant(region, endpoint, 'rw'); // NOENDPOINT while restarting: tried again later
          lent.add(staging.grantId);
        },
      },
    );
  };
  const port = {
    readInto: (sector: number, count: number, into: Segment[]) => call('read', () => ({ sector, count, into: current(into) })),
    writeFrom: (sector: number, from: Segment[]) => call('write', () => ({ sector, from: current(from) })),
    flush: () => call('flush', () => ({})),
  };
  // Each request takes a header and a status descriptor besides its segments; leave room for merged ones.
  const queueDepth = Math.max(1, Math.floor(info.queueSize / 4));
  const scheduler = new IoScheduler(port, staging, Math.floor((info.capacitySectors * 512) / BLOCK_SIZE_BYTES), {
    queueDepth,
    segMax: info.segMax,
    requestSizeBytesMax: Math.min(info.requestSizeBytesMax, info.sizeMaxBytes * info.segMax),
  });
  return { scheduler, info };
}
