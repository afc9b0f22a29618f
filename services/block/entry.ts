/**
 * The block service's manifest for the isolated kernel mode (kernel/isolated/): the
 * same manifest as blockManifest, plus `entry`, the module and export a worker thread
 * loads the service from (a worker cannot receive the ServiceDefinition object itself).
 * Its config is already plain data (endpoint name, cache size, a flag).
 */
import type { Manifest } from '../../kernel/service.ts';
import { blockManifest, type BlockServiceConfig } from './service.ts';

export const BLOCK_ENTRY = { module: new URL('./service.ts', import.meta.url).href, export: 'blockService' };

export function blockEntryManifest(options: Parameters<typeof blockManifest>[0] = {}): Manifest<BlockServiceConfig> {
  return { ...blockManifest(options), entry: BLOCK_ENTRY };
}
