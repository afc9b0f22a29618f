/**
 * Every limit of the 9P2000.L server, in one place, with derived ones written as formulas
 * and checked at load. A guest that asks for more gets Rlerror (EMFILE, ENOLCK, EINVAL,
 * ENAMETOOLONG, EMSGSIZE), never an unbounded structure on our side.
 */
import { IO_SIZE_BYTES_MAX, NAME_LENGTH_BYTES_MAX, PATH_LENGTH_BYTES_MAX, READDIR_ENTRIES_MAX, WALK_NAMES_MAX } from '../fs/protocol.ts';

/** size[4] type[1] tag[2]. */
export const HEADER_BYTES = 7;
/** Header of Rread/Rreaddir: size[4] type[1] tag[2] count[4] (P9_IOHDRSZ of an R-message). */
export const IO_HEADER_BYTES = HEADER_BYTES + 4;
/** Header of Twrite: size[4] type[1] tag[2] fid[4] offset[8] count[4] (Linux's P9_IOHDRSZ). */
export const WRITE_HEADER_BYTES = HEADER_BYTES + 4 + 8 + 4;
/** Smallest msize we accept: room for a useful read after the header. */
export const MSIZE_BYTES_MIN = 4096;
/** Largest msize we agree to (Linux's virtio transport tops out at 512 KiB of pages). */
export const MSIZE_BYTES_MAX = 512 * 1024 + 4096;
/** Largest message we decode at all; anything bigger is refused before parsing. */
export const MESSAGE_BYTES_MAX = MSIZE_BYTES_MAX;
/** Fids one session may hold at once. */
export const FIDS_MAX = 65_536;
/** Requests one session may have in flight (v86's virtqueue holds 32; Linux allows more tags). */
export const REQUESTS_IN_FLIGHT_MAX = 256;
/** Names in one Twalk (9P's MAXWELEM); the fs protocol walks the same number at once. */
export const WALK_NAMES_MAX_9P = 16;
/** Longest name in a directory entry, and longest string field of any message. */
export const NAME_BYTES_MAX = NAME_LENGTH_BYTES_MAX;
export const STRING_BYTES_MAX = PATH_LENGTH_BYTES_MAX;
/** Entries asked of the fs per Treaddir at most: min(this, what could fit the reply). */
export const READDIR_BATCH_ENTRIES_MAX = READDIR_ENTRIES_MAX;
/** Smallest directory entry on the wire: qid[13] offset[8] type[1] name[s] with a 1-byte name. */
export const DIRENT_BYTES_MIN = 13 + 8 + 1 + 2 + 1;
/** POSIX record locks held by one session, over all files. */
export const LOCKS_MAX = 4096;
/** Longest client_id in Tlock/Tgetlock (Linux sends the node name). */
export const LOCK_CLIENT_ID_BYTES_MAX = 256;
/** Rlopen's iounit: 0 tells Linux to use msize - P9_IOHDRSZ. */
export const IOUNIT_BYTES = 0;
/** st_blksize reported by getattr (also Linux's preferred I/O size for cp and dd). */
export const BLOCK_SIZE_BYTES_REPORTED = 128 * 1024;

function check(): void {
  const must = (ok: boolean, what: string) => {
    if (!ok) throw new Error(`services/9p/limits.ts: ${what}`);
  };
  must(MSIZE_BYTES_MIN > WRITE_HEADER_BYTES, 'a minimal msize carries some data');
  must(MSIZE_BYTES_MAX - IO_HEADER_BYTES <= IO_SIZE_BYTES_MAX, 'one Tread or Twrite is one fs read or write');
  must(WALK_NAMES_MAX_9P <= WALK_NAMES_MAX, 'one Twalk is one fs walk');
  must(MESSAGE_BYTES_MAX >= MSIZE_BYTES_MAX, 'every message of the largest msize can be decoded');
  must(READDIR_BATCH_ENTRIES_MAX <= READDIR_ENTRIES_MAX, 'a readdir batch is one fs readdir');
  must(STRING_BYTES_MAX >= NAME_BYTES_MAX, 'strings hold names');
}
check();
