/**
 * Every limit of the kernel, the machine and the driver, in one place.
 *
 * Derived limits are written as formulas of the base ones, and `checkLimits()` runs
 * at module load so an inconsistent edit fails at once rather than in a corner case.
 * Later layers keep their own limits files (services/<name>/limits.ts) in the same way.
 */

export const SECTOR_SIZE_BYTES = 512;
export const PAGE_SIZE_BYTES = 4096;

/** Physical memory of the default machine. */
export const MEMORY_SIZE_BYTES_DEFAULT = 256 * 1024 * 1024;

/** Largest encoded message body the kernel will carry; bulk data goes through grants. */
export const MESSAGE_SIZE_BYTES_MAX = 8 * 1024 * 1024;
/** Messages waiting in one service's mailbox before sends to it are refused. */
export const MAILBOX_DEPTH_MAX = 65_536;
/** Default and largest timeout a call may ask for (virtual or real milliseconds). */
export const CALL_TIMEOUT_MS_DEFAULT = 30_000;
export const CALL_TIMEOUT_MS_MAX = 10 * 60_000;
/** Grants one service may hold at once (given plus received). */
export const GRANTS_PER_SERVICE_MAX = 65_536;
/** Trace entries kept in memory when tracing is on (oldest dropped first). */
export const TRACE_ENTRIES_MAX = 1_000_000;
/** Steps between real yields to the host event loop in the deterministic scheduler. */
export const SCHEDULER_STEPS_PER_YIELD = 256;
/**
 * Microtask turns the deterministic scheduler waits, when nothing is runnable, for a
 * chain in flight to make something runnable before it pays a host turn (setImmediate)
 * to let everything settle. A QD1 call through the fs service needs about a dozen.
 */
export const SCHEDULER_IDLE_SPIN_TURNS = 64;

/** virtio-mmio window per device, and where the first one is mapped. */
export const MMIO_WINDOW_SIZE_BYTES = 0x1000;
export const MMIO_BASE_ADDR = 0x1000_1000;
/** Interrupt line of the first virtio-mmio device; device i uses line FIRST + i. */
export const VIRTIO_IRQ_LINE_FIRST = 1;

/** Split virtqueue size the device offers (QueueNumMax); a power of two. */
export const VIRTQUEUE_SIZE_MAX = 256;
/** Largest descriptor chain the device will walk before calling the chain malformed. */
export const DESCRIPTOR_CHAIN_LENGTH_MAX = VIRTQUEUE_SIZE_MAX;
/** virtio-blk: data segments per request (config seg_max) and bytes per segment (size_max). */
export const BLK_SEG_MAX = VIRTQUEUE_SIZE_MAX - 2;
export const BLK_SIZE_MAX_BYTES = 1024 * 1024;
/** Largest single request the driver accepts from a client. */
export const BLK_REQUEST_SIZE_BYTES_MAX = 4 * 1024 * 1024;
/** DISCARD / WRITE_ZEROES limits the device advertises. */
export const BLK_DISCARD_SECTORS_MAX = 0x40_0000;
export const BLK_DISCARD_SEG_MAX = 1;
export const BLK_WRITE_ZEROES_SECTORS_MAX = 0x40_0000;
export const BLK_WRITE_ZEROES_SEG_MAX = 1;

export function checkLimits(): void {
  const pow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;
  const must = (ok: boolean, what: string) => {
    if (!ok) throw new Error(`kernel/limits.ts: ${what}`);
  };
  must(PAGE_SIZE_BYTES % SECTOR_SIZE_BYTES === 0, 'a page holds whole sectors');
  must(MEMORY_SIZE_BYTES_DEFAULT % PAGE_SIZE_BYTES === 0, 'memory is whole pages');
  must(pow2(VIRTQUEUE_SIZE_MAX) && VIRTQUEUE_SIZE_MAX <= 32768, 'queue size is a power of two <= 32768 (virtio 2.7)');
  must(BLK_SEG_MAX + 2 <= VIRTQUEUE_SIZE_MAX, 'a request of seg_max segments plus header and status fits the queue');
  must(BLK_SIZE_MAX_BYTES % SECTOR_SIZE_BYTES === 0, 'size_max is whole sectors');
  must(BLK_REQUEST_SIZE_BYTES_MAX <= BLK_SEG_MAX * BLK_SIZE_MAX_BYTES, 'the largest request fits seg_max segments');
  must(BLK_REQUEST_SIZE_BYTES_MAX + 64 * 1024 <= MESSAGE_SIZE_BYTES_MAX, 'an inline request fits one message');
}
checkLimits();
