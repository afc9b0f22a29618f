/**
 * Every limit of the isolated kernel mode (a worker thread per service), in one place,
 * in the manner of kernel/limits.ts: base numbers first, derived ones as formulas, and
 * `checkIsolatedLimits()` at load so an inconsistent edit fails at once.
 *
 * The transport numbers (ring size, spin budget) were chosen by the measurements written
 * in transport.ts's header; change them only with a new measurement beside the change.
 */
import { MESSAGE_SIZE_BYTES_MAX } from '../limits.ts';

/** Bytes of one direction's message ring (a power of two). */
export const RING_DATA_BYTES = 1024 * 1024;
/** Records larger than this travel by postMessage (ordered by a marker in the ring). */
export const RING_RECORD_BYTES_MAX = RING_DATA_BYTES / 4;
/** Bytes a producer may hold back while a ring is full, before the consumer counts as wedged. */
export const RING_BACKLOG_BYTES_MAX = 8 * MESSAGE_SIZE_BYTES_MAX;
/** How often a producer with a backlog retries a full ring (real milliseconds). */
export const RING_BACKLOG_RETRY_MS = 1;

/** Microseconds an idle thread polls for new work before it sleeps, if a core is free. */
export const IDLE_SPIN_US = 60;
/** Microseconds a worker blocked in a synchronous call polls before it sleeps, if a core is free. */
export const SYNC_SPIN_US = 200;
/** An adaptive spin budget below this many microseconds becomes no spinning at all. */
export const SPIN_US_MIN = 4;
/** While spinning does not pay, a short spin is tried again once every this many waits. */
export const SPIN_REPROBE_WAITS = 64;
/**
 * Longest a reactor sleeps on its doorbell before it looks at its rings anyway, in ms.
 * The doorbell loses no wake-up by design (ring.ts); this bounds the cost if one is ever
 * lost anyway (a test once saw a reply sit unseen until its 30 s timeout).
 */
export const REACTOR_RECHECK_MS = 50;

/** Bytes of a synchronous call's reply area (MMIO values, regions, grant facts). */
export const SYNC_REPLY_BYTES_MAX = 64 * 1024;
/** Real milliseconds a worker waits for a synchronous call before it calls the kernel dead. */
export const SYNC_CALL_TIMEOUT_MS = 60_000;

/** A worker bumps its heartbeat word this often (real milliseconds). */
export const HEARTBEAT_INTERVAL_MS = 100;
/** The kernel reports a service whose heartbeat has not moved for this long. */
export const HEARTBEAT_MISS_MS = 1_000;
/** The kernel checks heartbeats this often. */
export const HEARTBEAT_CHECK_MS = 250;
/** Default: a service that misses heartbeats this long is killed and restarted (0: report only). */
export const HANG_RESTART_MS_DEFAULT = 10_000;

/** Restarts of one service allowed inside RESTART_WINDOW_MS before the kernel gives up on it. */
export const RESTARTS_MAX = 5;
export const RESTART_WINDOW_MS = 60_000;
/** Wait before another attempt after a restart failed (times the attempt number). */
export const RESTART_BACKOFF_MS = 100;
/** Real milliseconds a worker has to start its service, and to stop it cleanly. */
export const START_TIMEOUT_MS = 30_000;
export const STOP_TIMEOUT_MS = 5_000;

/** reissue(): attempts of one request across restarts, and the backoff between them. */
export const REISSUE_ATTEMPTS_MAX = 50;
export const REISSUE_BACKOFF_MS_FIRST = 5;
export const REISSUE_BACKOFF_MS_MAX = 250;

/** Supervision events kept in memory (oldest dropped first). */
export const SUPERVISION_EVENTS_MAX = 1_000;

export function checkIsolatedLimits(): void {
  const pow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;
  const must = (ok: boolean, what: string) => {
    if (!ok) throw new Error(`kernel/isolated/limits.ts: ${what}`);
  };
  must(pow2(RING_DATA_BYTES) && RING_DATA_BYTES < 2 ** 30, 'the ring is a power of two below 2^30 (positions are int32)');
  must(RING_RECORD_BYTES_MAX + 8 <= RING_DATA_BYTES / 2, 'a ring record and its skip marker fit half the ring');
  must(RING_BACKLOG_BYTES_MAX >= MESSAGE_SIZE_BYTES_MAX, 'a backlog holds at least one largest message');
  must(SYNC_REPLY_BYTES_MAX % 4 === 0 && SYNC_REPLY_BYTES_MAX >= 4096, 'the sync reply area is whole words and holds a page');
  must(HEARTBEAT_MISS_MS >= 4 * HEARTBEAT_INTERVAL_MS, 'a miss is several intervals long');
  must(HEARTBEAT_CHECK_MS < HEARTBEAT_MISS_MS, 'the kernel checks more often than a miss lasts');
  must((HANG_RESTART_MS_DEFAULT as number) === 0 || HANG_RESTART_MS_DEFAULT > HEARTBEAT_MISS_MS, 'a hang is reported before it is restarted');
  must(RESTARTS_MAX >= 1, 'a service may restart at least once');
  must(REISSUE_BACKOFF_MS_FIRST > 0 && REISSUE_BACKOFF_MS_FIRST <= REISSUE_BACKOFF_MS_MAX, 'the reissue backoff grows from a positive first wait');
  must(REISSUE_ATTEMPTS_MAX * REISSUE_BACKOFF_MS_MAX >= 5_000, 'reissue outwaits a restart (a worker starts in 0.3-1 s here)');
}
checkIsolatedLimits();
