// Helpers for the isolated-kernel tests: manifests of the fixture services (runnable in
// both modes: `service` for the deterministic kernel, `entry` for a worker), a boot for
// either mode, and a poll that waits on a condition with a generous bound.
import * as fixtures from './fixtures.ts';
import type { Manifest, ServiceDefinition } from '../../kernel/service.ts';

const FIXTURES_URL = new URL('./fixtures.ts', import.meta.url).href;

type FixtureName = 'echoService' | 'relayService' | 'memoryService' | 'rogueService' | 'failingService';

/** A manifest for one of fixtures.ts's services, named `name`, providing `name`. */
export function fixture(exportName: FixtureName, name: string, extra: Partial<Manifest> = {}): Manifest {
  return {
    name,
    provides: [name],
    calls: [],
    service: fixtures[exportName] as ServiceDefinition,
    entry: { module: FIXTURES_URL, export: exportName },
    ...extra,
  };
}

/** Resolves when `check()` is true; rejects after `boundMs` (a bound, not a timing claim). */
export async function until(check: () => boolean, boundMs = 30_000, what = 'condition'): Promise<void> {
  const t0 = performance.now();
  while (!check()) {
    if (performance.now() - t0 > boundMs) throw new Error(`gave up waiting for ${what} after ${boundMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export { codeOf, patterned, MiB } from '../helpers/stack.ts';
