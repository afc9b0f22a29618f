/**
 * fsck's limits, in one place. Every walk over structures read from the image is bounded
 * (by the inode count, the chunk count, or a limit here), so a damaged image can make
 * fsck report, never loop or exhaust memory.
 */

/** How far past the end of the Axiom log to look for an intact later record (damage vs. torn tail). */
export const AXIOM_PROBE_SIZE_BYTES_MAX = 1024 * 1024;
/** Seqs past the end of the log that count as "later history" when found intact. */
export const AXIOM_PROBE_SEQS_MAX = 65536;
/** Records asked of the log per read. */
export const READ_BATCH_RECORDS = 4096;
/** Paths kept per chunk to say what a damaged chunk affects. */
export const PATHS_PER_CHUNK_MAX = 20;
/** Bytes `inspect chunk` shows as hex and ASCII. */
export const PREVIEW_SIZE_BYTES = 256;
/** Largest refcount correction --repair makes on one chunk; a larger one is left as an error (a count that far off is corrupt, not drifted). */
export const REFCOUNT_DELTA_REPAIR_MAX = 1 << 20;
/** Memory of the stack a repair boots. */
export const REPAIR_MEMORY_SIZE_BYTES = 128 * 1024 * 1024;

/** Stops loudly when an invariant of fsck's own does not hold (a bug here, never bad input). */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`fsck invariant: ${message}`);
}

/** Runs of set bits in [from, to) of a bitmap (1 = allocated), skipping whole 0x00/0xff bytes. */
export function setRuns(bits: Uint8Array, from: number, to: number): { blockIndex: number; blockCount: number }[] {
  const out: { blockIndex: number; blockCount: number }[] = [];
  let runStart = -1;
  for (let i = from; i < to; ) {
    if ((i & 7) === 0 && i + 8 <= to) {
      const b = bits[i >>> 3];
      if (b === 0x00 || b === 0xff) {
        if (b === 0xff && runStart < 0) runStart = i;
        if (b === 0x00 && runStart >= 0) (out.push({ blockIndex: runStart, blockCount: i - runStart }), (runStart = -1));
        i += 8;
        continue;
      }
    }
    const set = (bits[i >>> 3] & (1 << (i & 7))) !== 0;
    if (set && runStart < 0) runStart = i;
    if (!set && runStart >= 0) (out.push({ blockIndex: runStart, blockCount: i - runStart }), (runStart = -1));
    i++;
  }
  if (runStart >= 0) out.push({ blockIndex: runStart, blockCount: to - runStart });
  return out;
}
