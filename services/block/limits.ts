/**
 * Every limit of the block service, in one place (TigerBeetle style).
 *
 * Base limits are plain numbers; derived ones are formulas of them. `checkBlockLimits()`
 * runs at module load so an inconsistent edit fails at once rather than in a corner case.
 * The on-disk sizes (block size, region formulas) are part of the format: changing them
 * changes FORMAT.md and the format version.
 */

/** The block size of the format (FORMAT.md §1). */
export const BLOCK_SIZE_BYTES = 4096;
export const SECTOR_SIZE_BYTES = 512;
export const SECTORS_PER_BLOCK = BLOCK_SIZE_BYTES / SECTOR_SIZE_BYTES;

/** Smallest and largest image the format accepts (16 MiB .. 1 TiB). The bitmap of the largest is 32 MiB in memory. */
export const IMAGE_BLOCKS_MIN = 4096;
export const IMAGE_BLOCKS_MAX = 2 ** 28;

/** Journal region: floor(N / JOURNAL_DIVISOR) blocks, clamped to [MIN, MAX] (FORMAT.md §2). */
export const JOURNAL_DIVISOR = 64;
export const JOURNAL_BLOCKS_MIN = 1024;
export const JOURNAL_BLOCKS_MAX = 16384;
/** The journal's first blocks are its two header slots (ping-pong). */
export const JOURNAL_HEADER_BLOCKS = 2;

/** Axiom log region: floor(N / AXIOM_DIVISOR) blocks, clamped to [MIN, MAX]. */
export const AXIOM_DIVISOR = 16;
export const AXIOM_BLOCKS_MIN = 256;
export const AXIOM_BLOCKS_MAX = 262144;
/** The data region must keep at least this many blocks. */
export const DATA_BLOCKS_MIN = 1024;

/** Metadata block header (bitmap, journal header/descriptor/commit): magic, checksum, self block index. */
export const METADATA_HEADER_BYTES = 16;
/** Bits of allocation state per bitmap block: the block minus its header. */
export const BITMAP_BITS_PER_BLOCK = (BLOCK_SIZE_BYTES - METADATA_HEADER_BYTES) * 8;
/** Journal descriptor: 32-byte header then 16-byte tags. */
export const DESCRIPTOR_HEADER_BYTES = 32;
export const DESCRIPTOR_TAG_BYTES = 16;
export const TAGS_PER_DESCRIPTOR = Math.floor((BLOCK_SIZE_BYTES - DESCRIPTOR_HEADER_BYTES) / DESCRIPTOR_TAG_BYTES);

/** Blocks one transaction may write (1 MiB). Bitmap and superblock images count too. */
export const TX_BLOCKS_MAX = 256;
/** Journal blocks a transaction of TX_BLOCKS_MAX occupies: descriptors + data + commit. */
export const TX_JOURNAL_BLOCKS_MAX = Math.ceil(TX_BLOCKS_MAX / TAGS_PER_DESCRIPTOR) + TX_BLOCKS_MAX + 1;
/** Open transactions (txBegin without commit) the service keeps at once. */
export const OPEN_TRANSACTIONS_MAX = 1024;
/** Idle time after which an open transaction is aborted (its writes dropped). */
export const OPEN_TRANSACTION_IDLE_MS_MAX = 60_000;

/** Background checkpoint: when the log is this full (fraction), or this long after the last one. */
export const CHECKPOINT_USED_FRACTION = 0.5;
export const CHECKPOINT_INTERVAL_MS = 5_000;

/** Cache: bytes of block images kept in memory (default, min, max). */
export const CACHE_SIZE_BYTES_DEFAULT = 32 * 1024 * 1024;
export const CACHE_SIZE_BYTES_MIN = 64 * BLOCK_SIZE_BYTES;
export const CACHE_SIZE_BYTES_MAX = 1024 * 1024 * 1024;
/** 2Q: share of the cache for blocks seen once (A1in), and ghost entries kept (A1out) as a share of capacity. */
export const CACHE_A1IN_FRACTION = 0.25;
export const CACHE_A1OUT_FRACTION = 0.5;
/** Dirty blocks written back in the background when this share of the cache is dirty. */
export const CACHE_DIRTY_FRACTION_MAX = 0.5;
/** Writes of at least this many blocks go around the cache, straight to the device (cache.ts, writeAround). */
export const CACHE_WRITE_AROUND_BLOCKS_MIN = 64;
/** Reads of at least this many blocks, none of them cached, bypass the cache (cache.ts); 16 blocks = one 64 KiB chunk. */
export const CACHE_READ_AROUND_BLOCKS_MIN = 16;

/** I/O scheduler: requests in flight on the driver, and waiting in the service. */
export const QUEUE_DEPTH_MAX = 64;
export const PENDING_REQUESTS_MAX = 65_536;
/** Bytes of the staging region lent to the driver for DMA (grants). */
export const STAGING_SIZE_BYTES = 32 * 1024 * 1024;
/** Largest device request the scheduler builds by merging (capped by the driver's own limit). */
export const MERGED_REQUEST_BYTES_MAX = 1024 * 1024;

/** Protocol: blocks per read or write request, extents per allocate/free. */
export const IO_BLOCKS_MAX = 1024;
export const ALLOCATE_BLOCKS_MAX = 2 ** 20;
export const EXTENTS_PER_REQUEST_MAX = 4096;
/** Timeout the service uses for calls to the driver. */
export const DRIVER_CALL_TIMEOUT_MS = 60_000;

export function checkBlockLimits(): void {
  const must = (ok: boolean, what: string) => {
    if (!ok) throw new Error(`services/block/limits.ts: ${what}`);
  };
  must(BLOCK_SIZE_BYTES % SECTOR_SIZE_BYTES === 0, 'a block is whole sectors');
  must(IMAGE_BLOCKS_MIN >= 2 + JOURNAL_BLOCKS_MIN + 1 + AXIOM_BLOCKS_MIN + DATA_BLOCKS_MIN, 'the smallest image holds every region');
  must(IMAGE_BLOCKS_MAX <= 2 ** 32, 'block indexes fit the u32 fields that hold log positions and counts');
  must(JOURNAL_BLOCKS_MIN - JOURNAL_HEADER_BLOCKS >= 2 * TX_JOURNAL_BLOCKS_MAX, 'the smallest log holds two of the largest transactions');
  must(JOURNAL_BLOCKS_MAX * BLOCK_SIZE_BYTES <= 128 * 1024 * 1024, 'journal images held until checkpoint stay under 128 MiB');
  must(TAGS_PER_DESCRIPTOR >= 1 && TAGS_PER_DESCRIPTOR <= 0xffff, 'a descriptor holds 1..65535 tags (u16 field)');
  must(CACHE_SIZE_BYTES_MIN <= CACHE_SIZE_BYTES_DEFAULT && CACHE_SIZE_BYTES_DEFAULT <= CACHE_SIZE_BYTES_MAX, 'cache default inside [min, max]');
  must(CACHE_SIZE_BYTES_MIN % BLOCK_SIZE_BYTES === 0, 'cache sizes are whole blocks');
  must(MERGED_REQUEST_BYTES_MAX % BLOCK_SIZE_BYTES === 0, 'merged requests are whole blocks');
  must(STAGING_SIZE_BYTES >= QUEUE_DEPTH_MAX * BLOCK_SIZE_BYTES && STAGING_SIZE_BYTES >= 2 * MERGED_REQUEST_BYTES_MAX, 'staging holds a full queue of blocks and two largest requests');
  must(IO_BLOCKS_MAX * BLOCK_SIZE_BYTES + 64 * 1024 <= 8 * 1024 * 1024, 'an inline read or write fits one kernel message');
  must(IO_BLOCKS_MAX * BLOCK_SIZE_BYTES <= STAGING_SIZE_BYTES, 'one client request fits the staging region');
  must(ALLOCATE_BLOCKS_MAX / BITMAP_BITS_PER_BLOCK + 2 < TX_BLOCKS_MAX, 'the largest allocation touches fewer bitmap blocks than a transaction holds');
}
checkBlockLimits();
