/**
 * The content store's error codes, as values carried in replies (kernel/errors.ts).
 *
 *   NOTFOUND   no chunk with that hash in the index (or it was swept by gc)
 *   INTEGRITY  bytes read back do not hash to the chunk's name, or the index replayed
 *              from the log is inconsistent; the message names the hash and the block
 *   REFCOUNT   unref of a chunk whose committed references are all already released
 *   BADMSG     malformed request (kernel code, reused); TOOBIG over a limit in limits.ts
 *   NOSPC      the block service has no room for the chunk (nothing was changed)
 *   NOTMOUNTED the store could not mount (the message says why)
 *   FAILED     a commit ended with an unknown outcome (the log failed or timed out); the
 *              store serves reads but refuses every update until it is remounted, when
 *              replay decides what happened
 * Errors of the layers below (IOERR, FAILED, EIO, ...) pass through unchanged.
 */
import { ServiceError } from '../../kernel/errors.ts';

export type ContentErrorCode = 'NOTFOUND' | 'INTEGRITY' | 'REFCOUNT' | 'BADMSG' | 'TOOBIG' | 'NOSPC' | 'NOTMOUNTED' | 'FAILED';

export function contentError(code: ContentErrorCode, message: string): ServiceError {
  return new ServiceError(code, `content: ${message}`);
}

/** Stops loudly on a broken invariant (a bug in this service, never a client's mistake). */
export function assert(ok: unknown, what: string): asserts ok {
  if (!ok) throw new Error(`content store invariant broken: ${what}`);
}

/** Lower-case hex of a hash, for index keys and messages. */
export function hexOf(hash: Uint8Array): string {
  return Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength).toString('hex');
}

export function hashOfHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}
