/**
 * What a client of a restartable service does with a request the service's death
 * interrupted: wait for it to come back and issue the request again. For the callers of
 * the driver (the block service) and of any other service whose requests are safe to
 * repeat (reads; writes of the same bytes to the same place; anything idempotent).
 *
 * `reissue(timers, attempt, options)` runs `attempt`; when it fails with STOPPED (the
 * service died with the request in flight) or NOENDPOINT (it is being restarted), it
 * waits with a growing backoff on the caller's own timers (so it runs unchanged in both
 * kernel modes) and tries again, at most REISSUE_ATTEMPTS_MAX times. Before the first
 * attempt after a STOPPED it calls `options.restarted`, where the caller lends its pages
 * again: grants die with their holder, so the old ids name nothing (a GRANT error after
 * an interruption means just that and is retried the same way); the attempt must read
 * the ids afresh. Any other error is the request's own answer and is thrown at once.
 */
import { isCode } from '../errors.ts';
import type { Timers } from '../service.ts';
import { REISSUE_ATTEMPTS_MAX, REISSUE_BACKOFF_MS_FIRST, REISSUE_BACKOFF_MS_MAX } from './limits.ts';

export interface ReissueOptions {
  /** Called once per interruption, before the next attempt: re-grant memory here. */
  restarted?: () => void | Promise<void>;
  /**
   * Errors that also mean "the service is a new instance", besides STOPPED and
   * NOENDPOINT: e.g. GRANT for a grant lent once for the service's lifetime, which a
   * request first sent after the restart meets (it was never interrupted itself).
   * Such an error is retried like STOPPED (the `restarted` hook runs first).
   */
  symptom?: (e: unknown) => boolean;
  attemptsMax?: number;
}

export async function reissue<T>(timers: Timers, attempt: () => Promise<T>, options: ReissueOptions = {}): Promise<T> {
  const attemptsMax = options.attemptsMax ?? REISSUE_ATTEMPTS_MAX;
  let backoffMs = REISSUE_BACKOFF_MS_FIRST;
  let interrupted = false;
  let hookDue = false; // the service came back as a new instance since the last attempt
  for (let n = 1; ; n++) {
    try {
      if (hookDue) {
        await options.restarted?.(); // NOENDPOINT here: still restarting, try again later
        hookDue = false;
      }
      return await attempt();
    } catch (e) {
      const declared = options.symptom?.(e) === true;
      const restartSymptom = isCode(e, 'STOPPED', 'NOENDPOINT') || (interrupted && isCode(e, 'GRANT')) || declared;
      if (!restartSymptom || n >= attemptsMax) throw e;
      if (isCode(e, 'STOPPED', 'GRANT') || declared) hookDue = true;
      interrupted = true;
      await new Promise<void>((resolve) => timers.setTimeout(resolve, backoffMs));
      backoffMs = Math.min(REISSUE_BACKOFF_MS_MAX, backoffMs * 2);
    }
  }
}
