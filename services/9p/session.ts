/**
 * The state of one 9P connection (one guest mount) and the types handlers are written
 * against: the fs client (the only way to the filesystem), the fid and lock tables, the
 * negotiated msize, and the requests in flight (so Tflush can wait for the one it names).
 *
 * Handlers are `(session, body) => Promise<Reply>`; they throw P9Error or let the fs
 * client's ServiceError through, and the server turns either into Rlerror.
 */
import type { FsClient } from '../fs/protocol.ts';
import type { Body, RName, TName } from './codec.ts';
import { FidTable, type Fid } from './fids.ts';
import { IO_HEADER_BYTES } from './limits.ts';
import { LockTable } from './locks.ts';
import { p9Error } from './errno.ts';
import type { FileType } from '../fs/protocol.ts';

export type Reply = { [R in RName]: { name: R; body: Body<R> } }[RName];
export type Handler<N extends TName> = (session: Session, body: Body<N>, tag: number) => Promise<Reply>;
export type HandlerTable = { [N in TName]?: Handler<N> };

export function reply<R extends RName>(name: R, body: Body<R>): Reply {
  return { name, body } as Reply;
}

export class Session {
  readonly fids = new FidTable();
  readonly locks = new LockTable();
  /** Tags of requests being handled, with a promise that settles when each is answered. */
  readonly inFlight = new Map<number, Promise<unknown>>();
  msizeBytes = 0;
  versioned = false;

  constructor(
    readonly fs: FsClient,
    readonly log: (line: string) => void,
  ) {}

  /** Payload bytes one Rread or Rreaddir may carry. */
  get ioBytesMax(): number {
    return this.msizeBytes - IO_HEADER_BYTES;
  }

  /** A fid of the given type, or the errno Linux expects for the wrong type. */
  fidOfType(id: number, type: FileType): Fid {
    const fid = this.fids.get(id);
    if (fid.type === type) return fid;
    const errno = type === 'dir' ? 'ENOTDIR' : type === 'file' && fid.type === 'dir' ? 'EISDIR' : 'EINVAL';
    throw p9Error(errno, `fid ${id} is a ${fid.type}, not a ${type}`);
  }

  /** Closes the fs handle a fid holds, if any. */
  async release(fid: Fid): Promise<void> {
    const handle = fid.open?.handle;
    fid.open = undefined;
    if (handle !== undefined) await this.fs.close(handle);
  }

  /** Forgets every fid (closing their handles) and lock: Tversion starts a new session. */
  async reset(): Promise<void> {
    const fids = this.fids.clear();
    this.locks.clear();
    for (const fid of fids) {
      try {
        await this.release(fid);
      } catch (e) {
        this.log(`9p: closing fid ${fid.id} on reset: ${(e as Error).message}`);
      }
    }
  }
}
