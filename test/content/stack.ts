// Boots the real stack for content tests: machine -> virtio-blk driver -> block service
// -> Axiom service (its region through the block protocol) -> content service, on a
// formatted memory or faulty disk, with a user context that may call all of them.
import { bootTestSystem, MiB } from '../helpers/stack.ts';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import type { DiskBackend } from '../../kernel/machine/disk/backend.ts';
import type { System } from '../../tools/system.ts';
import { formatImage } from '../../services/block/format/image.ts';
import { blockManifest } from '../../services/block/service.ts';
import { BLOCK_ENDPOINT, BlockClient } from '../../services/block/protocol.ts';
import { AXIOM_ENDPOINT, AxiomClient } from '../../axiom/protocol.ts';
import { axiomManifest } from '../../axiom/service.ts';
import { blockLogDevice } from '../../axiom/block-device.ts';
import { VIRTIO_BLK_ENDPOINT } from '../../drivers/virtio-blk/protocol.ts';
import { CONTENT_ENDPOINT, ContentClient } from '../../services/content/protocol.ts';
import { contentManifest, type ContentServiceConfig } from '../../services/content/service.ts';

export interface ContentStack {
  sys: System;
  content: ContentClient;
  block: BlockClient;
  axiom: AxiomClient;
}

export function formattedMemory(sizeBytes = 32 * MiB): MemoryBackend {
  const disk = new MemoryBackend(sizeBytes);
  formatImage((blockIndex, data) => disk.write(blockIndex * 4096, data), disk.sizeBytes, { uuid: Uint8Array.from({ length: 16 }, (_, i) => i + 7) });
  disk.flush();
  return disk;
}

export async function bootContent(disk: DiskBackend, options: { seed?: number; content?: Partial<ContentServiceConfig>; log?: (line: string) => void; memorySizeBytes?: number } = {}): Promise<ContentStack> {
  const sys = await bootTestSystem({
    disk,
    seed: options.seed ?? 1,
    log: options.log,
    memorySizeBytes: options.memorySizeBytes ?? 128 * MiB,
    userCalls: [VIRTIO_BLK_ENDPOINT, BLOCK_ENDPOINT, AXIOM_ENDPOINT, CONTENT_ENDPOINT],
  });
  try {
    await sys.kernel.spawn(blockManifest({ background: false }));
    await sys.kernel.spawn(axiomManifest({ device: (ctx) => blockLogDevice(new BlockClient(ctx)), formatIfEmpty: true, checkpointImageSizeBytesMax: 64 * 1024 }, { calls: [BLOCK_ENDPOINT] }));
    await sys.kernel.spawn(contentManifest(options.content));
  } catch (e) {
    await sys.kernel.shutdown().catch(() => undefined);
    throw e;
  }
  return { sys, content: new ContentClient(sys.user), block: new BlockClient(sys.user), axiom: new AxiomClient(sys.user) };
}
