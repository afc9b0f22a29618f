// Shared helpers for the block service tests: formatted disks, tagged block images.
import { FaultyBackend } from '../../kernel/machine/disk/faulty.ts';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { backendDevice } from '../../services/block/device.ts';
import { checksumSeed, formatImage, parseUuid, type Layout } from '../../services/block/format/index.ts';
import { BLOCK_SIZE_BYTES } from '../../services/block/limits.ts';

export const MiB = 1024 * 1024;
export const B = BLOCK_SIZE_BYTES;
export const UUID = parseUuid('5a5a5a5a-0000-4000-8000-0123456789ab');
export const SEED = checksumSeed(UUID);

export function formatInto(disk: { sizeBytes: number; write(offsetBytes: number, src: Uint8Array): void; flush(): void }): Layout {
  const { layout } = formatImage((blockIndex, data) => disk.write(blockIndex * B, data), disk.sizeBytes, { uuid: UUID });
  disk.flush();
  return layout;
}

export function formattedFaulty(sizeBytes = 16 * MiB): { disk: FaultyBackend; layout: Layout } {
  const mem = new MemoryBackend(sizeBytes);
  const layout = formatInto(mem);
  return { disk: new FaultyBackend(mem.bytes), layout };
}

export function memoryDevice(image: Uint8Array) {
  const disk = new MemoryBackend(image);
  return { disk, dev: backendDevice(disk) };
}

/** A block whose every 8-byte word says (tag, index), so a torn or mixed block is obvious. */
export function tagged(tag: number, index: number): Uint8Array {
  const b = new Uint8Array(B);
  const dv = new DataView(b.buffer);
  for (let at = 0; at < B; at += 8) {
    dv.setUint32(at, tag, true);
    dv.setUint32(at + 4, index, true);
  }
  return b;
}

export function isTagged(bytes: Uint8Array, tag: number, index: number): boolean {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at < B; at += 8) if (dv.getUint32(at, true) !== tag || dv.getUint32(at + 4, true) !== index) return false;
  return true;
}

export function blockAt(image: Uint8Array, blockIndex: number): Uint8Array {
  return image.subarray(blockIndex * B, (blockIndex + 1) * B);
}
