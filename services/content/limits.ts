/**
 * Every limit of the content store, in one place (TigerBeetle style).
 *
 * Base limits are plain numbers with their unit last in the name; derived limits are
 * formulas of them. `checkContentLimits()` runs at module load, so an edit that breaks a
 * relation (a chunk that could not fit one block-service request, a reply that could not
 * fit a kernel message, chunking parameters out of order) fails at once.
 *
 * Chunking defaults (FastCDC, normalised chunking level 2): min 16 KiB, avg 64 KiB,
 * max 256 KiB (min = avg / 4, max = avg * 4, as casync). Why these and not the paper's
 * 2/8/64 KiB: every chunk is stored in whole 4 KiB blocks, so on average half a block
 * per chunk is slack (3% at 64 KiB, 12% at 16 KiB); every new chunk costs two Axiom
 * records (~230 bytes of log) and an index entry (~200 bytes of memory); and the native
 * BLAKE3 has a ~10 us fixed cost per call, a third of the time for 64 KiB but most of it
 * for 8 KiB. Finer chunks would dedup small edits a little better; the versioned-tree
 * benchmark reports the ratio these defaults achieve.
 */

import { MESSAGE_SIZE_BYTES_MAX } from '../../kernel/limits.ts';

/** The block size of the format; the block service must report the same at mount. */
export const BLOCK_SIZE_BYTES = 4096;
/** BLAKE3 output used as a chunk's name. */
export const HASH_SIZE_BYTES = 32;

/** Largest chunk `put` accepts (and FastCDC's max may be set to). */
export const CHUNK_SIZE_BYTES_MAX = 1024 * 1024;
/** Blocks of the largest chunk: one contiguous extent, one block-service request. */
export const CHUNK_BLOCKS_MAX = CHUNK_SIZE_BYTES_MAX / BLOCK_SIZE_BYTES;

/** FastCDC defaults (see the header) and the bounds a store may be configured within. */
export const CDC_MIN_SIZE_BYTES_DEFAULT = 16 * 1024;
export const CDC_AVG_SIZE_BYTES_DEFAULT = 64 * 1024;
export const CDC_MAX_SIZE_BYTES_DEFAULT = 256 * 1024;
export const CDC_AVG_SIZE_BYTES_MIN = 256;
/** Normalisation level: the mask before avg has this many more bits, the one after this many fewer. */
export const CDC_NORMALIZATION_LEVEL = 2;
/** Seed of the Gear table (gear.ts); changing it changes every boundary, so it is part of the format. */
export const GEAR_SEED = 0x5354_5241; // "STRA"
/** Fixed-size chunking default. */
export const FIXED_CHUNK_SIZE_BYTES_DEFAULT = 64 * 1024;

/** Below this many bytes wasm BLAKE3 beats the native addon (its ~10 us per call); measured, see hash.ts. */
export const HASH_NATIVE_MIN_BYTES = 8 * 1024;

/** Per request: chunks in putMany / has / ref / unref, and bytes moved by one put or get. */
export const CHUNKS_PER_REQUEST_MAX = 1024;
export const INLINE_BYTES_PER_REQUEST_MAX = 6 * 1024 * 1024;
export const GRANT_BYTES_PER_REQUEST_MAX = 64 * 1024 * 1024;
/** Segments a by-grant request may name. */
export const SEGMENTS_PER_REQUEST_MAX = 1024;
/** Roots one gc call may name: packed 32-byte hashes, inline or by grant. */
export const GC_ROOTS_MAX = GRANT_BYTES_PER_REQUEST_MAX / HASH_SIZE_BYTES;

/** Axiom records per content transaction (Axiom's TXN_RECORDS_MAX is 1024). */
export const RECORDS_PER_TRANSACTION_MAX = 1024;
/** New chunks per transaction: each costs a ChunkPut and a ChunkRef. */
export const NEW_CHUNKS_PER_TRANSACTION_MAX = RECORDS_PER_TRANSACTION_MAX / 2;
/** Extents per block-service free (its limit is 4096 extents and 255 bitmap blocks). */
export const EXTENTS_PER_FREE_MAX = 256;

/** Block pool: blocks allocated ahead from the block service, first and largest refill. */
export const POOL_REFILL_BLOCKS_MIN = 64;
export const POOL_REFILL_BLOCKS_MAX = 8192;
/** Blocks one data write may carry (the block service's IO_BLOCKS_MAX). */
export const WRITE_BLOCKS_MAX = 1024;

/** Staging the service lends the block service for data writes: slots of one write each. */
export const STAGING_SLOT_BYTES = WRITE_BLOCKS_MAX * BLOCK_SIZE_BYTES;
export const STAGING_SLOTS = 8;
/**
 * Staging the service lends the block service for data reads: slots of the default
 * chunker's largest chunk (so every fs page and nearly every chunk), as many as the fs's
 * concurrent page reads of one read (its READ_PAGES_IN_FLIGHT, 16). Larger reads go inline.
 */
export const READ_SLOT_BYTES = CDC_MAX_SIZE_BYTES_DEFAULT;
export const READ_SLOTS = 16;

/** Chunks the index may hold (memory bound: ~200 bytes each, so ~3 GiB at the limit). */
export const INDEX_CHUNKS_MAX = 16 * 1024 * 1024;

/** How long a chunk put without a reference is kept from gc, waiting for the caller's ChunkRef (virtual ms). */
export const PUT_LEASE_MS = 10 * 60_000;

/** Timeout for calls to the block service and Axiom. */
export const LOWER_CALL_TIMEOUT_MS = 120_000;

export function checkContentLimits(): void {
  const must = (ok: boolean, what: string) => {
    if (!ok) throw new Error(`services/content/limits.ts: ${what}`);
  };
  const pow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;
  must(CHUNK_SIZE_BYTES_MAX % BLOCK_SIZE_BYTES === 0, 'the largest chunk is whole blocks');
  must(CHUNK_BLOCKS_MAX <= WRITE_BLOCKS_MAX, 'the largest chunk is one block-service request');
  must(pow2(CDC_AVG_SIZE_BYTES_DEFAULT) && CDC_AVG_SIZE_BYTES_DEFAULT >= CDC_AVG_SIZE_BYTES_MIN, 'avg is a power of two at least the minimum');
  must(CDC_MIN_SIZE_BYTES_DEFAULT < CDC_AVG_SIZE_BYTES_DEFAULT && CDC_AVG_SIZE_BYTES_DEFAULT < CDC_MAX_SIZE_BYTES_DEFAULT, 'min < avg < max');
  must(CDC_MAX_SIZE_BYTES_DEFAULT <= CHUNK_SIZE_BYTES_MAX, 'max chunk fits a put');
  must(FIXED_CHUNK_SIZE_BYTES_DEFAULT <= CHUNK_SIZE_BYTES_MAX, 'fixed chunk fits a put');
  must(Math.log2(CDC_AVG_SIZE_BYTES_DEFAULT) + CDC_NORMALIZATION_LEVEL <= 32, 'the small-chunk mask fits a 32-bit Gear hash');
  must(INLINE_BYTES_PER_REQUEST_MAX + 256 * 1024 <= MESSAGE_SIZE_BYTES_MAX, 'an inline request or reply fits one kernel message');
  must(CHUNK_SIZE_BYTES_MAX <= INLINE_BYTES_PER_REQUEST_MAX, 'the largest chunk can move inline');
  must(CHUNKS_PER_REQUEST_MAX * (HASH_SIZE_BYTES + 64) + 64 * 1024 <= MESSAGE_SIZE_BYTES_MAX, 'a list of hashes fits one message');
  must(GC_ROOTS_MAX * HASH_SIZE_BYTES <= GRANT_BYTES_PER_REQUEST_MAX, 'packed gc roots fit one by-grant request');
  must(NEW_CHUNKS_PER_TRANSACTION_MAX * 2 <= RECORDS_PER_TRANSACTION_MAX, 'a transaction holds its new chunks and their refs');
  must(RECORDS_PER_TRANSACTION_MAX <= 1024, "a transaction fits Axiom's TXN_RECORDS_MAX");
  must(POOL_REFILL_BLOCKS_MIN >= CHUNK_BLOCKS_MAX / 4 && POOL_REFILL_BLOCKS_MIN <= POOL_REFILL_BLOCKS_MAX, 'pool refill bounds in order');
  must(POOL_REFILL_BLOCKS_MAX <= 2 ** 20, "a refill fits the block service's ALLOCATE_BLOCKS_MAX");
  must(HASH_NATIVE_MIN_BYTES > 0, 'hash threshold positive');
  must(READ_SLOT_BYTES % BLOCK_SIZE_BYTES === 0 && READ_SLOT_BYTES <= WRITE_BLOCKS_MAX * BLOCK_SIZE_BYTES, 'a read slot is whole blocks, one block-service request');
  must(READ_SLOTS > 0 && STAGING_SLOTS > 0, 'staging has slots');
}
checkContentLimits();
