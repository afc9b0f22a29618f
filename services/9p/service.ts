/**
 * The 9P2000.L server as a kernel service: it provides the 9P endpoint (protocol.ts) and
 * calls only the filesystem's endpoint, through FsClient. Each T-message arrives as one
 * request and its R-message is the reply; the server itself never fails a request (a bad
 * message is answered with Rlerror inside the reply), so the guest always gets an answer.
 */
import type { Manifest, ServiceDefinition } from '../../kernel/service.ts';
import { FS_ENDPOINT, FsClient } from '../fs/protocol.ts';
import { P9_ENDPOINT, parseP9Request } from './protocol.ts';
import { P9Server } from './server.ts';

export interface P9ServiceConfig {
  fsEndpoint: string;
}

export const p9Service: ServiceDefinition<P9ServiceConfig> = {
  start(ctx, config) {
    const server = new P9Server(new FsClient(ctx, config.fsEndpoint), { log: (line) => ctx.log(line) });
    return {
      handle: async (req) => {
        const r = parseP9Request(req.op, req.body);
        if (r.op === 'stats') return server.stats;
        return { data: await server.handle(r.data) };
      },
    };
  },
};

export function p9Manifest(options: { name?: string; endpoint?: string; fsEndpoint?: string } = {}): Manifest<P9ServiceConfig> {
  const fsEndpoint = options.fsEndpoint ?? FS_ENDPOINT;
  return {
    name: options.name ?? 'p9',
    provides: [options.endpoint ?? P9_ENDPOINT],
    calls: [fsEndpoint],
    config: { fsEndpoint },
    service: p9Service,
  };
}
