/**
 * Limits of the filesystem service, in one place, checked at load.
 *
 * PAGE_SIZE_BYTES: a file is a map of fixed-size pages, each stored as one content-store
 * chunk (or a hole). 64 KiB keeps a random 4 KiB write to one chunk read-modify-write
 * while a 1 GiB file needs 16,384 page entries (512 KiB of hashes).
 *
 * The I/O and file size limits live here and protocol.ts re-exports them (protocol.ts
 * imports this file, never the reverse, so the checks below run with every value set).
 *
 * By grant: a read or write of at least GRANT_IO_BYTES_MIN moves through memory the
 * client lends (writeFrom / readInto, up to GRANT_SEGMENTS_MAX segments of it); smaller
 * ones stay inline, one message with no grant bookkeeping. The engine lends the content
 * store its own staging: PUT_STAGING_SLOTS slots of one putMany batch, GET_STAGING_SLOTS
 * slots of one page.
 */
import { TXN_RECORDS_MAX } from '../../axiom/protocol.ts';

/** Largest single read or write; larger transfers are split by the caller. */
export const IO_SIZE_BYTES_MAX = 4 * 1024 * 1024;
/** Largest file size (2^50 bytes, 1 PiB: offsets stay exact in a double). */
export const FILE_SIZE_BYTES_MAX = 2 ** 50;

export const PAGE_SIZE_BYTES = 64 * 1024;
/** Buffered (uncommitted) file data across all files before a commit is forced. */
export const DIRTY_BYTES_MAX = 64 * 1024 * 1024;
/** Open handles at once. */
export const HANDLES_MAX = 65_536;
/**
 * Pages carried by one FsWrite record, and by one data transaction: with up to two
 * ChunkRef records a page (the new chunk, the replaced one) a transaction stays within
 * Axiom's TXN_RECORDS_MAX (checked below).
 */
export const WRITE_RECORD_PAGES_MAX = 1024;
/** A client read or write this large or larger goes by grant when the client can lend memory. */
export const GRANT_IO_BYTES_MIN = 64 * 1024;
/** Segments one writeFrom / readInto may name. */
export const GRANT_SEGMENTS_MAX = 64;
/** Staging slots (IO_SIZE_BYTES_MAX each, allocated as needed) one FsClient may hold: calls in flight beyond them go inline. */
export const CLIENT_STAGING_SLOTS_MAX = 4;
/**
 * Pages per putMany the engine sends the content store (one staging slot each). Each
 * putMany costs the store a device flush and an Axiom commit: a 256 MiB sequential write
 * took 156 fdatasyncs at 64 pages a batch, 92 at 128 (60 at 256, for twice the staging).
 */
export const PUT_BATCH_PAGES = 128;
/** Slots of PUT_BATCH_PAGES pages the engine lends the content store for puts; more commits at once wait. */
export const PUT_STAGING_SLOTS = 2;
/** Slots of one page the engine lends the content store for gets; more gets at once wait. */
export const GET_STAGING_SLOTS = 32;
/** Pages one read fetches from the content store at once. */
export const READ_PAGES_IN_FLIGHT = 16;
/** Clean pages kept in memory for reads. */
export const PAGE_CACHE_BYTES_MAX = 128 * 1024 * 1024;
/** Commit a checkpoint after this many records since the last one (bounds mount time). */
export const CHECKPOINT_RECORDS_INTERVAL = 50_000;

function check(): void {
  const must = (ok: boolean, what: string) => {
    if (!ok) throw new Error(`services/fs/limits.ts: ${what}`);
  };
  must((PAGE_SIZE_BYTES & (PAGE_SIZE_BYTES - 1)) === 0, 'page size is a power of two');
  must(IO_SIZE_BYTES_MAX % PAGE_SIZE_BYTES === 0, 'an I/O limit is whole pages');
  must(DIRTY_BYTES_MAX >= IO_SIZE_BYTES_MAX, 'one maximal write fits the dirty bound');
  must(Number.isSafeInteger(FILE_SIZE_BYTES_MAX / PAGE_SIZE_BYTES), 'page numbers are exact');
  must(PAGE_CACHE_BYTES_MAX >= 16 * PAGE_SIZE_BYTES, 'the page cache holds some pages');
  must(GRANT_IO_BYTES_MIN > 0 && GRANT_IO_BYTES_MIN <= IO_SIZE_BYTES_MAX, 'the grant threshold is a size an I/O may have');
  must(GRANT_SEGMENTS_MAX >= 1 && CLIENT_STAGING_SLOTS_MAX >= 1, 'by grant takes at least one segment and one slot');
  must(PUT_BATCH_PAGES * PAGE_SIZE_BYTES <= 64 * 1024 * 1024, "a put batch fits the content store's grant bytes per request (64 MiB)");
  must(PUT_BATCH_PAGES <= 1024, "a put batch fits the content store's chunks per request (1024)");
  must(GET_STAGING_SLOTS >= READ_PAGES_IN_FLIGHT, 'one read can have all its pages in flight');
  must(1 + 2 * WRITE_RECORD_PAGES_MAX + 8 <= TXN_RECORDS_MAX, 'a data transaction fits Axiom (FsWrite, two ChunkRefs a page, a few more records)');
}
check();
