/**
 * Limits of the filesystem service, in one place, checked at load.
 *
 * PAGE_SIZE_BYTES: a file is a map of fixed-size pages, each stored as one content-store
 * chunk (or a hole). 64 KiB keeps a random 4 KiB write to one chunk read-modify-write
 * while a 1 GiB file needs 16,384 page entries (512 KiB of hashes).
 */
import { FILE_SIZE_BYTES_MAX, IO_SIZE_BYTES_MAX } from './protocol.ts';
import { TXN_RECORDS_MAX } from '../../axiom/protocol.ts';

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
  must(1 + 2 * WRITE_RECORD_PAGES_MAX + 8 <= TXN_RECORDS_MAX, 'a data transaction fits Axiom (FsWrite, two ChunkRefs a page, a few more records)');
}
check();
