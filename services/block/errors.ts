/**
 * The block service's error codes, as values carried in replies (kernel/errors.ts).
 *
 *   NOSPC        not enough free blocks (or no contiguous run when one was demanded);
 *                nothing was changed
 *   RANGE        a block index or extent outside the image or outside the region the op
 *                may touch
 *   NOTALLOCATED free of a block that is not allocated (a double free, or a block never
 *                handed out; the bitmap cannot tell them apart); nothing was freed
 *   BADMSG       malformed request (kernel code, reused)
 *   TOOBIG       request over a limit in limits.ts (blocks per I/O, per transaction, ...)
 *   NOTX         unknown, finished or aborted transaction id
 *   INTEGRITY    a metadata block failed verification (names structure, block, field)
 *   IOERR        the device failed a request
 *   FAILED       an earlier journal or flush failure left the service unable to promise
 *                durability; it refuses every update until restarted (and replayed)
 *   NOTMOUNTED   the service could not mount its image (the message says why)
 */
import { ServiceError } from '../../kernel/errors.ts';

export type BlockErrorCode =
  | 'NOSPC'
  | 'RANGE'
  | 'NOTALLOCATED'
  | 'BADMSG'
  | 'TOOBIG'
  | 'NOTX'
  | 'INTEGRITY'
  | 'IOERR'
  | 'FAILED'
  | 'NOTMOUNTED';

export function blockError(code: BlockErrorCode, message: string): ServiceError {
  return new ServiceError(code, message);
}

/** Stops loudly on a broken invariant (a bug in this service, never a client's mistake). */
export function assert(ok: boolean, what: string): asserts ok {
  if (!ok) throw new Error(`block service invariant broken: ${what}`);
}
