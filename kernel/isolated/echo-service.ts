/**
 * The smallest service: answers every call with its body. The benchmarks time a message
 * hop with it in both kernel modes (the same object runs as `service` under the
 * deterministic kernel and by `entry` in a worker), and a shell may use it as `ping`.
 */
import type { Manifest, ServiceDefinition } from '../service.ts';

export const echoService: ServiceDefinition = {
  start: () => ({ handle: (req) => req.body }),
};

export function echoManifest(name = 'echo'): Manifest {
  return {
    name,
    provides: [name],
    calls: [],
    service: echoService,
    entry: { module: new URL('./echo-service.ts', import.meta.url).href, export: 'echoService' },
  };
}
