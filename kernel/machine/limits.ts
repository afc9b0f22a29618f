/**
 * Limits of the emulated machine that kernel/limits.ts does not hold: how much the
 * machine remembers about driver bugs, how long the fault-injecting disk's history may
 * grow, and the virtio-blk numbers the device advertises beyond the shared ones.
 *
 * Base limits come from ../limits.ts (queue size, seg_max, size_max, MMIO map, IRQ
 * lines); everything here is either new or derived from them, and `checkMachineLimits()`
 * runs at load so an inconsistent edit fails at once.
 */

import {
  BLK_DISCARD_SECTORS_MAX,
  BLK_SEG_MAX,
  BLK_SIZE_MAX_BYTES,
  BLK_WRITE_ZEROES_SECTORS_MAX,
  DESCRIPTOR_CHAIN_LENGTH_MAX,
  MMIO_WINDOW_SIZE_BYTES,
  SECTOR_SIZE_BYTES,
  VIRTQUEUE_SIZE_MAX,
} from '../limits.ts';

/** Driver-bug reports a transport keeps (oldest dropped first); the count keeps going. */
export const DRIVER_BUG_LOG_ENTRIES_MAX = 256;
/** Deferred work and interrupts a machine holds before a host is attached. */
export const PENDING_BEFORE_ATTACH_MAX = 4096;
/** Disks one machine carries (one MMIO window and one IRQ line each). */
export const MACHINE_DISKS_MAX = 16;
/** Requests the device completes per deferred run before it yields and re-defers. */
export const REQUESTS_PER_RUN_MAX = VIRTQUEUE_SIZE_MAX;
/** Steps SyncHost.run() takes before it decides the work never ends. */
export const SYNC_HOST_STEPS_MAX = 1_000_000;

/** Discards may start at any sector: the backends zero at sector granularity. */
export const BLK_DISCARD_SECTOR_ALIGNMENT = 1;
/** Bytes of zeros written per call when a file backend discards. */
export const FILE_ZERO_CHUNK_BYTES = 1024 * 1024;
/** Bytes of write data the faulty backend's log may hold before it refuses to go on. */
export const FAULTY_LOG_DATA_BYTES_MAX = 1024 * 1024 * 1024;

export function checkMachineLimits(): void {
  const must = (ok: boolean, what: string) => {
    if (!ok) throw new Error(`kernel/machine/limits.ts: ${what}`);
  };
  must(MMIO_WINDOW_SIZE_BYTES >= 0x100 + 64, 'an MMIO window holds the registers and the blk config space');
  must(DESCRIPTOR_CHAIN_LENGTH_MAX >= BLK_SEG_MAX + 2, 'a chain of seg_max data buffers plus header and status is walkable');
  must(BLK_SIZE_MAX_BYTES <= 0xffff_ffff && BLK_SEG_MAX <= 0xffff_ffff, 'size_max and seg_max fit their le32 fields');
  must(BLK_DISCARD_SECTORS_MAX <= 0xffff_ffff && BLK_WRITE_ZEROES_SECTORS_MAX <= 0xffff_ffff, 'discard limits fit le32');
  must(FILE_ZERO_CHUNK_BYTES % SECTOR_SIZE_BYTES === 0, 'zero chunks are whole sectors');
  must(REQUESTS_PER_RUN_MAX >= 1 && PENDING_BEFORE_ATTACH_MAX >= 1, 'budgets are positive');
}
checkMachineLimits();
