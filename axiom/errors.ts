/**
 * Axiom's error codes. Errors are ServiceErrors (kernel/errors.ts), so they cross the
 * service boundary as values and a client can switch on `code`.
 *
 *   BADRECORD    unknown record type, a payload of the wrong shape, or malformed msgpack
 *   TOOBIG       a payload, transaction or image larger than its limit (or the ring)
 *   NOSPC        the ring is full and nothing can be reclaimed: take a checkpoint
 *   BUSY         PENDING_PROPOSALS_MAX proposals are queued already
 *   EIO          the device failed; what was in flight may or may not be durable and
 *                the engine refuses everything until it is reopened (recovery decides)
 *   CORRUPT      a committed record or an anchor fails verification (integrity error)
 *   NOTFORMATTED the region holds no Axiom log (both anchor slots are zeros)
 *   PRUNED       a read asked for records before the newest checkpoint (space reused)
 *   CLOSED       the engine was closed
 *   READONLY     the engine was opened read-only (inspection, fsck)
 *   BADARG       an argument out of range (a caller bug), named in the message
 */

import { ServiceError } from '../kernel/errors.ts';

export type AxiomErrorCode =
  | 'BADRECORD'
  | 'TOOBIG'
  | 'NOSPC'
  | 'BUSY'
  | 'EIO'
  | 'CORRUPT'
  | 'NOTFORMATTED'
  | 'PRUNED'
  | 'CLOSED'
  | 'READONLY'
  | 'BADARG';

export function axiomError(code: AxiomErrorCode, message: string): ServiceError {
  return new ServiceError(code, `axiom: ${message}`);
}

/** An invariant of Axiom's own code broke: a bug, never a bad input. Stays on in production. */
export function assert(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(`axiom: assertion failed: ${what}`);
}
