/**
 * What can go wrong in a command, as values the shell prints in one line:
 *
 *   ls: /x: No such file or directory (ENOENT)
 *   cp: missing destination (usage: cp [-r] SRC... DST)
 *   journal: not available yet (needs services/block)
 *
 * A command throws a CommandError (status 1), a ShellUsageError (2), NotAvailableError
 * (3) or Interrupted (130); a ServiceError from a service is turned into a CommandError
 * by `explain`, which names the subject (usually a path) and spells the errno out as
 * strerror does, keeping the code in parentheses so scripts and people can grep it.
 * Anything else is a bug in the shell: it is printed as one "internal error" line with
 * status 70 (the stack only when STRATA_DEBUG is set) and the shell keeps running.
 */
import { ServiceError } from '../../kernel/errors.ts';

export const STATUS_OK = 0;
export const STATUS_FAILED = 1;
export const STATUS_USAGE = 2;
export const STATUS_NOT_AVAILABLE = 3;
export const STATUS_INTERNAL = 70;
export const STATUS_UNKNOWN_COMMAND = 127;
export const STATUS_INTERRUPTED = 130;

export class CommandError extends Error {
  constructor(
    message: string,
    readonly status: number = STATUS_FAILED,
    /** The service's error code, when there was one (ENOENT, NOSPC, ...). */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

/** The user typed the command wrong; the shell adds the usage line. */
export class ShellUsageError extends CommandError {
  constructor(message: string) {
    super(message, STATUS_USAGE);
    this.name = 'ShellUsageError';
  }
}

/** The layer that serves the command has not landed (or is not running). */
export class NotAvailableError extends CommandError {
  constructor(readonly needs: string) {
    super(`not available yet (needs ${needs})`, STATUS_NOT_AVAILABLE);
    this.name = 'NotAvailableError';
  }
}

export class Interrupted extends CommandError {
  constructor() {
    super('interrupted', STATUS_INTERRUPTED);
    this.name = 'Interrupted';
  }
}

/** strerror's words for the errno names the fs protocol uses, and the kernel's codes. */
const ERROR_TEXT: Record<string, string> = {
  ENOENT: 'No such file or directory',
  EEXIST: 'File exists',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  ENOTEMPTY: 'Directory not empty',
  ENOSPC: 'No space left on device',
  NOSPC: 'No space left on device',
  EINVAL: 'Invalid argument',
  ENAMETOOLONG: 'File name too long',
  EXDEV: 'Invalid cross-device link',
  ELOOP: 'Too many levels of symbolic links',
  EBADF: 'Bad file descriptor',
  EIO: 'Input/output error',
  IOERR: 'Input/output error',
  ESTALE: 'Stale file handle',
  EPERM: 'Operation not permitted',
  EFBIG: 'File too large',
  EROFS: 'Read-only file system',
  EMFILE: 'Too many open files',
  EACCES: 'Permission denied',
  NOCAP: 'The shell holds no capability for that service',
  NOENDPOINT: 'The service is not running',
  TIMEOUT: 'The service did not answer in time',
  STOPPED: 'The service stopped before answering',
  MAILBOXFULL: "The service's mailbox is full",
  TOOBIG: 'Message too large',
  BADMSG: 'Bad message',
  BADOP: 'Operation not supported by the service',
  INTEGRITY: 'Integrity check failed',
  CORRUPT: 'Corrupt data found',
  INTERNAL: 'Internal error in the service',
};

/** The readable words for an error code, or the code itself if it is not one we know. */
export function errorText(code: string): string {
  return ERROR_TEXT[code] ?? code;
}

/**
 * Turns what a service threw into a one-line CommandError: "SUBJECT: words (CODE)".
 * Shell errors pass through unchanged; anything that is not a ServiceError is rethrown
 * (it is a bug, and the shell reports it as one).
 */
export function explain(e: unknown, subject?: string): CommandError {
  if (e instanceof CommandError) return e;
  if (e instanceof ServiceError) {
    const known = ERROR_TEXT[e.code] !== undefined;
    const words = known ? errorText(e.code) : e.message;
    const detail = !known || /^E[A-Z]+$/.test(e.code) ? '' : `: ${e.message}`;
    const prefix = subject === undefined ? '' : `${subject}: `;
    return new CommandError(`${prefix}${words}${detail} (${e.code})`, STATUS_FAILED, e.code);
  }
  throw e;
}

/** Runs `fn`, turning a service error into a CommandError about `subject`. */
export async function about<T>(subject: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw explain(e, subject);
  }
}

/** True when `e` carries the given service error code (ServiceError or an explained one). */
export function hasCode(e: unknown, ...codes: string[]): boolean {
  if (e instanceof ServiceError) return codes.includes(e.code);
  if (e instanceof CommandError) return e.code !== undefined && codes.includes(e.code);
  return false;
}
