/**
 * The 9P2000.L server: takes one whole T-message, answers with one R-message. It maps
 * each request onto the filesystem protocol through its typed client (FsClient) and
 * nothing else, so it works the same over the reference model and the real fs service.
 *
 * Dispatch is a table of named handlers (handlers/*.ts) keyed by message name; a type we
 * do not handle, and an R-message sent to us, is EOPNOTSUPP. Every failure becomes
 * Rlerror with a Linux errno: a malformed message (short, wrong size field, a string
 * past the end, trailing bytes) EINVAL; anything before Tversion EPROTO; more than
 * REQUESTS_IN_FLIGHT_MAX at once EAGAIN; an exception that is not an errno is a bug of
 * ours, counted in `stats.internalErrors`, logged, and answered EIO. `handle` never
 * rejects, so no guest message can stop the server.
 *
 * Requests run concurrently (Linux keeps several in flight); a Tflush waits for the
 * request it names to be answered before answering itself.
 */
import type { FsClient } from '../fs/protocol.ts';
import { decodeMessage, encodeMessage, NOTAG, peekTag, UnknownMessageError, WireError, type TMessage, type TName } from './codec.ts';
import { ERRNO, errnoOf, p9Error, type ErrnoName } from './errno.ts';
import { REQUESTS_IN_FLIGHT_MAX } from './limits.ts';
import { Session, type Handler, type HandlerTable, type Reply } from './session.ts';
import { sessionHandlers } from './handlers/session.ts';
import { attrHandlers } from './handlers/attrs.ts';
import { ioHandlers } from './handlers/io.ts';
import { nameHandlers } from './handlers/names.ts';

export const HANDLERS: HandlerTable = { ...sessionHandlers, ...attrHandlers, ...ioHandlers, ...nameHandlers };

export interface P9ServerStats {
  requests: number;
  /** Replies that were Rlerror, by errno name. */
  errors: Partial<Record<ErrnoName, number>>;
  malformed: number;
  internalErrors: number;
  /** Requests handled, by message name. */
  byMessage: Partial<Record<TName, number>>;
  inFlightMax: number;
}

export interface P9ServerOptions {
  /** Where notices go (internal errors, reset problems). */
  log?: (line: string) => void;
}

export class P9Server {
  readonly stats: P9ServerStats = { requests: 0, errors: {}, malformed: 0, internalErrors: 0, byMessage: {}, inFlightMax: 0 };
  private readonly session: Session;
  private readonly log: (line: string) => void;

  constructor(fs: FsClient, options: P9ServerOptions = {}) {
    this.log = options.log ?? (() => {});
    this.session = new Session(fs, this.log);
  }

  /** Fids the session holds now (for tests and the shell). */
  get fidCount(): number {
    return this.session.fids.size;
  }

  /** Answers one T-message. Never rejects. */
  async handle(request: Uint8Array): Promise<Uint8Array> {
    this.stats.requests++;
    let tag = peekTag(request) ?? NOTAG;
    let name: string = 'malformed';
    try {
      const msg = decodeMessage(request);
      tag = msg.tag;
      name = msg.name;
      const handler = HANDLERS[msg.name as TName] as Handler<TName> | undefined;
      if (!handler) throw p9Error('EOPNOTSUPP', `${msg.name} is not handled`);
      if (!this.session.versioned && msg.name !== 'Tversion') throw p9Error('EPROTO', `${msg.name} before Tversion`);
      if (this.session.inFlight.size >= REQUESTS_IN_FLIGHT_MAX) throw p9Error('EAGAIN', `${REQUESTS_IN_FLIGHT_MAX} requests in flight`);
      const byMessage = this.stats.byMessage as Record<string, number>;
      byMessage[msg.name] = (byMessage[msg.name] ?? 0) + 1;
      const reply = await this.run(handler, msg as TMessage);
      return encodeMessage(reply.name, tag, reply.body as never);
    } catch (e) {
      return this.errorReply(e, tag, name);
    }
  }

  private async run(handler: Handler<TName>, msg: TMessage): Promise<Reply> {
    const running = handler(this.session, msg.body as never, msg.tag);
    const inFlight = this.session.inFlight;
    inFlight.set(msg.tag, running);
    this.stats.inFlightMax = Math.max(this.stats.inFlightMax, inFlight.size);
    try {
      return await running;
    } finally {
      if (inFlight.get(msg.tag) === running) inFlight.delete(msg.tag);
    }
  }

  private errorReply(e: unknown, tag: number, name: string): Uint8Array {
    let errno: { ecode: number; name: ErrnoName };
    if (e instanceof WireError) {
      this.stats.malformed++;
      errno = { ecode: ERRNO.EINVAL, name: 'EINVAL' };
    } else if (e instanceof UnknownMessageError) {
      this.stats.malformed++;
      errno = { ecode: ERRNO.EOPNOTSUPP, name: 'EOPNOTSUPP' };
    } else {
      const mapped = errnoOf(e);
      if (mapped.internal) {
        this.stats.internalErrors++;
        this.log(`9p: internal error in ${name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
      errno = mapped;
    }
    this.stats.errors[errno.name] = (this.stats.errors[errno.name] ?? 0) + 1;
    return encodeMessage('Rlerror', tag, { ecode: errno.ecode });
  }
}
