/**
 * Errors as values. A reply carries either a value or `{code, message}`; typed clients
 * turn the latter back into a ServiceError so callers can `catch` and switch on `code`.
 *
 * Kernel codes (the layers above add their own, e.g. errno names in services/fs):
 *   NOCAP      the caller's manifest does not name that endpoint (or IRQ line, MMIO window)
 *   NOENDPOINT no service provides that endpoint
 *   TIMEOUT    no reply within the call's timeout
 *   TOOBIG     the encoded message is larger than MESSAGE_SIZE_BYTES_MAX
 *   BADMSG     the body could not be decoded, or has the wrong shape for the op
 *   BADOP      the endpoint has no such op
 *   MAILBOXFULL the receiver's mailbox is at MAILBOX_DEPTH_MAX
 *   GRANT      a memory access outside a grant's bounds or rights
 *   STOPPED    the service stopped (or restarted) before replying
 *   INTERNAL   the handler threw something that is not a ServiceError (a bug: counted)
 */

export type KernelErrorCode =
  | 'NOCAP'
  | 'NOENDPOINT'
  | 'TIMEOUT'
  | 'TOOBIG'
  | 'BADMSG'
  | 'BADOP'
  | 'MAILBOXFULL'
  | 'GRANT'
  | 'STOPPED'
  | 'INTERNAL';

export interface WireError {
  code: string;
  message: string;
}

export class ServiceError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ServiceError';
  }

  toWire(): WireError {
    return { code: this.code, message: this.message };
  }

  static fromWire(wire: unknown): ServiceError {
    if (wire && typeof wire === 'object' && typeof (wire as WireError).code === 'string') {
      const w = wire as WireError;
      return new ServiceError(w.code, String(w.message ?? w.code));
    }
    return new ServiceError('BADMSG', 'malformed error reply');
  }
}

/** True when `e` is a ServiceError with one of the given codes. */
export function isCode(e: unknown, ...codes: string[]): e is ServiceError {
  return e instanceof ServiceError && codes.includes(e.code);
}

/** Throws BADMSG naming the field; used by protocol validators. */
export function badMessage(what: string): never {
  throw new ServiceError('BADMSG', what);
}
