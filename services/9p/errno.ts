/**
 * Linux errno numbers (asm-generic/errno-base.h and errno.h, the same on i386 and
 * x86-64) for Rlerror, and the mapping from the error codes our services reply with.
 *
 * The filesystem's codes are errno names already (services/fs/protocol.ts) and pass
 * through unchanged. Kernel and lower-layer codes are not errnos: a bad message is
 * EINVAL, a full mailbox EAGAIN, anything else (TIMEOUT, STOPPED, INTEGRITY, an
 * unexpected exception) EIO, which is what a disk that failed would give Linux too.
 */
import { ServiceError } from '../../kernel/errors.ts';

export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EEXIST: 17,
  EXDEV: 18,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  EFBIG: 27,
  ENOSPC: 28,
  EROFS: 30,
  EMLINK: 31,
  ERANGE: 34,
  ENAMETOOLONG: 36,
  ENOLCK: 37,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENODATA: 61,
  EPROTO: 71,
  EBADMSG: 74,
  EOVERFLOW: 75,
  EMSGSIZE: 90,
  EOPNOTSUPP: 95,
  ESTALE: 116,
  EDQUOT: 122,
} as const;

export type ErrnoName = keyof typeof ERRNO;

const SERVICE_CODES: Record<string, ErrnoName> = {
  BADMSG: 'EINVAL',
  BADOP: 'EOPNOTSUPP',
  MAILBOXFULL: 'EAGAIN',
  NOSPC: 'ENOSPC',
  NOCAP: 'EACCES',
};

/** An error the 9P layer itself raises, carrying the errno it answers with. */
export class P9Error extends Error {
  constructor(
    readonly errno: ErrnoName,
    message: string,
  ) {
    super(message);
    this.name = 'P9Error';
  }
}

export function p9Error(errno: ErrnoName, message: string): P9Error {
  return new P9Error(errno, message);
}

/** The errno number to send for any thrown value; `internal` is true for a bug of ours. */
export function errnoOf(e: unknown): { ecode: number; name: ErrnoName; internal: boolean } {
  if (e instanceof P9Error) return { ecode: ERRNO[e.errno], name: e.errno, internal: false };
  if (e instanceof ServiceError) {
    const name = (e.code in ERRNO ? e.code : SERVICE_CODES[e.code] ?? 'EIO') as ErrnoName;
    return { ecode: ERRNO[name], name, internal: false };
  }
  return { ecode: ERRNO.EIO, name: 'EIO', internal: true };
}
