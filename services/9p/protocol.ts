/**
 * The 9P service's protocol: how a transport (the v86 glue in tools/guest, a test) hands
 * the server one T-message and gets the R-message back. This file is all another
 * program may import from services/9p besides the codec.
 *
 * Ops:
 *   message {data}  -> {data}   one whole T-message in, one whole R-message out; a bad
 *                               message is an Rlerror in `data`, never an error reply
 *   stats           -> P9ServerStats
 * One service instance serves one 9P session (one guest mount).
 */
import { badMessage, ServiceError } from '../../kernel/errors.ts';
import type { ServiceContext } from '../../kernel/service.ts';
import { MESSAGE_BYTES_MAX } from './limits.ts';
import type { P9ServerStats } from './server.ts';

export type { P9ServerStats } from './server.ts';

export const P9_ENDPOINT = '9p';

export type P9Request = { op: 'message'; data: Uint8Array } | { op: 'stats' };

/** Checks a request's shape; BADMSG naming the field. */
export function parseP9Request(op: string, body: unknown): P9Request {
  const b = (body ?? {}) as Record<string, unknown>;
  if (typeof b !== 'object' || Array.isArray(b)) badMessage(`${op}: body must be a map`);
  switch (op) {
    case 'message':
      if (!(b.data instanceof Uint8Array)) badMessage('data must be bytes');
      if (b.data.length > MESSAGE_BYTES_MAX) badMessage(`data of ${b.data.length} bytes (at most ${MESSAGE_BYTES_MAX})`);
      return { op, data: b.data };
    case 'stats':
      return { op };
    default:
      throw new ServiceError('BADOP', `9p has no op '${op}'`);
  }
}

/** Typed client over a context whose manifest names the 9P endpoint. */
export class P9ServiceClient {
  constructor(
    private readonly ctx: ServiceContext,
    readonly endpoint: string = P9_ENDPOINT,
  ) {}

  async message(data: Uint8Array): Promise<Uint8Array> {
    return (await this.ctx.call<{ data: Uint8Array }>(this.endpoint, 'message', { data })).data;
  }
  stats(): Promise<P9ServerStats> {
    return this.ctx.call<P9ServerStats>(this.endpoint, 'stats', {});
  }
}
