/**
 * Every limit and default of the service shell, in one place (numbers named with units).
 * Derived values are formulas of the base ones; `checkShellLimits()` runs at load.
 */
import { IO_SIZE_BYTES_MAX } from '../../services/fs/protocol.ts';

/** A long command gives the terminal (Ctrl-C, output) a turn at least this often, in ms. */
export const SHELL_HOST_TURN_MS = 50;
/** Bytes moved per fs read or write message by put, get, cat, cp and mkfile. */
export const TRANSFER_CHUNK_BYTES = 1024 * 1024;
/** A transfer at least this large shows a progress bar (on a TTY only). */
export const PROGRESS_THRESHOLD_BYTES = 4 * 1024 * 1024;
/** Width of the progress bar itself, in characters. */
export const PROGRESS_BAR_WIDTH_CHARS = 30;
/** Directory entries asked for per readdir message. */
export const READDIR_PAGE_ENTRIES = 256;
/** Entries one directory listing may hold before ls, tree, du, rm -r and cp -r refuse it. */
export const DIR_ENTRIES_MAX = 1_000_000;
/** Depth of tree, du, rm -r, cp -r and completion walks. */
export const WALK_DEPTH_MAX = 256;
/** Bytes cat prints before it stops and suggests `get` (a terminal is not a pager). */
export const CAT_SIZE_BYTES_MAX = 16 * 1024 * 1024;
/** Largest file `mkfile` makes. */
export const MKFILE_SIZE_BYTES_MAX = 64 * 1024 ** 3;
/** History lines kept in memory and in the history file. */
export const HISTORY_LINES_MAX = 1000;
/** Default count for `log` and `dmesg`. */
export const LOG_TAIL_DEFAULT = 20;
/** Largest count `log N` and `dmesg N` accept. */
export const LOG_TAIL_MAX = 10_000;
/** Completion candidates listed from one directory. */
export const COMPLETION_CANDIDATES_MAX = 512;
/** Width used for columns when the output is not a terminal. */
export const OUTPUT_WIDTH_CHARS_DEFAULT = 80;
/** One script or -c string: lines. */
export const SCRIPT_LINES_MAX = 100_000;
/** Unflushed bytes the write-cache disk (power.ts) holds before writing back early. */
export const WRITE_CACHE_BYTES_MAX = 64 * 1024 * 1024;
/** Unflushed writes it holds before writing back early. */
export const WRITE_CACHE_WRITES_MAX = 16_384;

export function checkShellLimits(): void {
  const fail = (what: string) => {
    throw new Error(`tools/shell/limits.ts: ${what}`);
  };
  if (TRANSFER_CHUNK_BYTES > IO_SIZE_BYTES_MAX) fail('TRANSFER_CHUNK_BYTES exceeds the fs protocol IO_SIZE_BYTES_MAX');
  if (TRANSFER_CHUNK_BYTES % 4096 !== 0) fail('TRANSFER_CHUNK_BYTES must be whole 4 KiB blocks');
  if (PROGRESS_THRESHOLD_BYTES < TRANSFER_CHUNK_BYTES) fail('a progress bar needs more than one chunk');
  if (LOG_TAIL_DEFAULT > LOG_TAIL_MAX) fail('LOG_TAIL_DEFAULT exceeds LOG_TAIL_MAX');
  if (WRITE_CACHE_BYTES_MAX < IO_SIZE_BYTES_MAX) fail('the write cache must hold one largest request');
}

checkShellLimits();
