/**
 * The content service's manifest for the isolated kernel mode (kernel/isolated/): the
 * same manifest as contentManifest, plus `entry`, the module and export a worker thread
 * loads the service from. Its config is plain data (endpoint names, the chunking
 * parameters, a flag); BLAKE3 is chosen inside the worker when hash.ts loads there.
 */
import type { Manifest } from '../../kernel/service.ts';
import { contentManifest, type ContentServiceConfig } from './service.ts';

export const CONTENT_ENTRY = { module: new URL('./service.ts', import.meta.url).href, export: 'contentService' };

export function contentEntryManifest(options: Parameters<typeof contentManifest>[0] = {}): Manifest<ContentServiceConfig> {
  return { ...contentManifest(options), entry: CONTENT_ENTRY };
}
