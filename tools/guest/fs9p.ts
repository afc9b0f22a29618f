/**
 * Plugs a 9P server into v86's virtio-9p device: `filesystem: { handle9p }` hands us one
 * whole T-message per call and takes the R-message through `reply`, matched by tag.
 *
 * Every request is answered exactly once. If the path to the server itself fails (the
 * kernel call times out, the service stopped), the guest gets Rlerror EIO with the
 * request's tag, so its virtqueue slot is returned and the mount sees an I/O error
 * instead of hanging. A request too short to carry a tag cannot be matched by v86 at
 * all; it is answered with tag NOTAG and counted.
 */
import { encodeMessage, NOTAG, peekTag } from '../../services/9p/codec.ts';
import { ERRNO } from '../../services/9p/errno.ts';
import type { Handle9p } from './v86.ts';

export interface Fs9pCounters {
  requests: number;
  transportErrors: number;
  bytesIn: number;
  bytesOut: number;
  /** Host milliseconds from receiving requests to replying, summed (server latency). */
  serveMs: number;
}

/** A handle9p over any function that answers a T-message with an R-message. */
export function handle9pOver(serve: (request: Uint8Array) => Promise<Uint8Array>, counters?: Fs9pCounters, log?: (line: string) => void): Handle9p {
  return (request, reply) => {
    // v86 allocates a fresh buffer for every request and never touches it again.
    const copy = request;
    const t0 = performance.now();
    if (counters) {
      counters.requests++;
      counters.bytesIn += copy.length;
    }
    serve(copy).then(
      (response) => {
        if (counters) {
          counters.bytesOut += response.length;
          counters.serveMs += performance.now() - t0;
        }
        reply(response);
      },
      (e: unknown) => {
        if (counters) counters.transportErrors++;
        log?.(`9p transport: ${(e as Error).message}`);
        reply(encodeMessage('Rlerror', peekTag(copy) ?? NOTAG, { ecode: ERRNO.EIO }));
      },
    );
  };
}
