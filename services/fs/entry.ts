/**
 * The filesystem service's manifest for the isolated kernel mode (kernel/isolated/):
 * the same manifest as fsManifest, plus `entry`, the module and export a worker thread
 * loads the service from. Its config is plain data (the wall-clock epoch, a flag).
 */
import type { Manifest } from '../../kernel/service.ts';
import { fsManifest, type FsServiceConfig } from './service.ts';

export const FS_ENTRY = { module: new URL('./service.ts', import.meta.url).href, export: 'fsService' };

export function fsEntryManifest(config: FsServiceConfig, opts: Parameters<typeof fsManifest>[1] = {}): Manifest<FsServiceConfig> {
  return { ...fsManifest(config, opts), entry: FS_ENTRY };
}
