/**
 * Axiom over the block service, with a configuration that is plain data, for the
 * isolated kernel mode (kernel/isolated/): a worker thread receives its config by
 * structured clone, so it cannot take axiomService's `device(ctx)` function or a Hasher
 * object. This definition takes names instead and builds both inside the worker:
 *
 *   blockEndpoint  the block service whose Axiom region is the log (axiom/block-device.ts)
 *   hasher         'auto' (hash.ts's load-time choice: native with wasm for small inputs),
 *                  or exactly 'native', 'wasm' or 'noble'; all give the same BLAKE3 bytes,
 *                  so a log written with one is read with any other
 *
 * and then starts axiomService itself, so recovery, group commit and every reply are the
 * same code as in the deterministic mode (tools/system.ts composes the same pieces with
 * functions). A hasher that did not load in this thread is a start failure naming it.
 */
import type { Manifest, ServiceDefinition } from '../kernel/service.ts';
import { BLOCK_ENDPOINT, BlockClient } from '../services/block/protocol.ts';
import { axiomHasherOf, blake3Implementations, type Blake3 } from '../services/content/hash.ts';
import { blockLogDevice } from './block-device.ts';
import type { Hasher } from './chain.ts';
import { axiomError } from './errors.ts';
import { AXIOM_ENDPOINT } from './protocol.ts';
import { axiomService } from './service.ts';

export type HasherChoice = 'auto' | 'native' | 'wasm' | 'noble';
export const HASHER_CHOICES: readonly HasherChoice[] = ['auto', 'native', 'wasm', 'noble'];

export interface AxiomBlockConfig {
  blockEndpoint: string;
  /** Format the region if it holds no log yet (never over a damaged one). */
  formatIfEmpty: boolean;
  hasher: HasherChoice;
  /** Used when formatting: the largest checkpoint image the log will take. */
  checkpointImageSizeBytesMax?: number;
}

/** The Hasher (axiom/chain.ts) for a choice, as loaded in this thread. */
export function resolveHasher(choice: HasherChoice): Hasher {
  if (!HASHER_CHOICES.includes(choice)) throw axiomError('BADARG', `hasher '${String(choice)}' (expected one of ${HASHER_CHOICES.join(', ')})`);
  const impl: Blake3 | undefined = blake3Implementations[choice === 'auto' ? 'chosen' : choice];
  if (!impl) throw axiomError('BADARG', `hasher '${choice}' did not load in this thread (loaded: ${Object.keys(blake3Implementations).join(', ')})`);
  return axiomHasherOf(impl);
}

export const axiomBlockService: ServiceDefinition<AxiomBlockConfig> = {
  start(ctx, config) {
    const hasher = resolveHasher(config.hasher);
    return axiomService.start(ctx, {
      device: (c) => blockLogDevice(new BlockClient(c, config.blockEndpoint)),
      formatIfEmpty: config.formatIfEmpty,
      options: { hasher },
      checkpointImageSizeBytesMax: config.checkpointImageSizeBytesMax,
    });
  },
};

export const AXIOM_BLOCK_ENTRY = { module: new URL('./entry.ts', import.meta.url).href, export: 'axiomBlockService' };

/** Axiom over `blockEndpoint`, runnable in both modes (`service` and `entry`). */
export function axiomBlockManifest(
  config: Partial<AxiomBlockConfig> = {},
  opts: { name?: string; endpoint?: string } = {},
): Manifest<AxiomBlockConfig> {
  const blockEndpoint = config.blockEndpoint ?? BLOCK_ENDPOINT;
  return {
    name: opts.name ?? 'axiom',
    provides: [opts.endpoint ?? AXIOM_ENDPOINT],
    calls: [blockEndpoint],
    config: { blockEndpoint, formatIfEmpty: config.formatIfEmpty ?? true, hasher: config.hasher ?? 'auto', checkpointImageSizeBytesMax: config.checkpointImageSizeBytesMax },
    service: axiomBlockService,
    entry: AXIOM_BLOCK_ENTRY,
  };
}
