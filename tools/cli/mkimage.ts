/**
 * `strata mkimage <path> --size <N[KMG]>`: creates a sparse raw disk image and formats it
 * (FORMAT.md: superblock and spare, journal, bitmap, Axiom region, data region), with the
 * same format module the block service mounts with. Refuses to overwrite an existing file
 * unless --force is given. The image's uuid comes from the host's randomness (a tool, not
 * a service, so that is allowed here).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { FileBackend } from '../../kernel/machine/disk/file.ts';
import type { DiskBackend } from '../../kernel/machine/disk/backend.ts';
import { formatImage } from '../../services/block/format/index.ts';
import { AxiomLog } from '../../axiom/log.ts';
import { DiskLogDevice } from '../../axiom/disk-device.ts';
import { CHECKPOINT_IMAGE_SIZE_BYTES_MAX } from '../../axiom/limits.ts';
import { axiomHasher } from '../../services/content/hash.ts';
import { helpText, parseArgs, parseSize, UsageError, type OptionSpec } from './args.ts';
import { formatBytes } from '../../drivers/virtio-blk/driver.ts';

export const IMAGE_SIZE_BYTES_DEFAULT = 1024 ** 3;
export const IMAGE_SIZE_BYTES_MIN = 16 * 1024 * 1024;
export const IMAGE_SIZE_BYTES_MAX = 1024 ** 4;

const spec: Record<string, OptionSpec> = {
  size: { value: true, help: `image size, e.g. 256M or 4G (default ${formatBytes(IMAGE_SIZE_BYTES_DEFAULT)})` },
  force: { help: 'replace an existing file' },
  help: { help: 'show this help' },
};

export const mkimageHelp = helpText('strata mkimage <path> [--size N[KMGT]] [--force]', 'Create and format a sparse raw disk image (the same bytes qemu-img, dd and hexdump see; see FORMAT.md).', spec);

/** The largest Axiom checkpoint image an Axiom region of this size keeps room for (a quarter of it). */
export function checkpointImageSizeFor(axiomRegionBlockCount: number): number {
  return Math.min(CHECKPOINT_IMAGE_SIZE_BYTES_MAX, Math.floor((axiomRegionBlockCount * 4096) / 4));
}

/** Formats any disk backend: block format (FORMAT.md), then the Axiom region; flushes. */
export async function formatDisk(backend: DiskBackend, ids: { uuid: Uint8Array; logId: Uint8Array }): Promise<void> {
  const { layout } = formatImage((blockIndex, data) => backend.write(blockIndex * 4096, data), backend.sizeBytes, { uuid: ids.uuid });
  const region = new DiskLogDevice(backend, layout.axiom.blockIndex, layout.axiom.blockCount);
  await AxiomLog.format(region, { logId: ids.logId, hasher: axiomHasher, checkpointImageSizeBytesMax: checkpointImageSizeFor(layout.axiom.blockCount) });
  backend.flush();
}

export async function createImage(imagePath: string, sizeBytes: number, force = false): Promise<void> {
  if (sizeBytes < IMAGE_SIZE_BYTES_MIN) throw new UsageError(`size ${formatBytes(sizeBytes)} is below the minimum of ${formatBytes(IMAGE_SIZE_BYTES_MIN)}`);
  if (sizeBytes > IMAGE_SIZE_BYTES_MAX) throw new UsageError(`size ${formatBytes(sizeBytes)} is above the maximum of ${formatBytes(IMAGE_SIZE_BYTES_MAX)}`);
  if (sizeBytes % 4096 !== 0) throw new UsageError(`size ${sizeBytes} is not a multiple of 4096`);
  if (fs.existsSync(imagePath)) {
    if (!force) throw new UsageError(`${imagePath} exists; use --force to replace it`);
    fs.rmSync(imagePath);
  }
  fs.mkdirSync(path.dirname(path.resolve(imagePath)), { recursive: true });
  const backend = FileBackend.open(imagePath, { create: true, sizeBytes });
  try {
    await formatDisk(backend, { uuid: new Uint8Array(crypto.randomBytes(16)), logId: new Uint8Array(crypto.randomBytes(16)) });
  } catch (e) {
    backend.close();
    fs.rmSync(imagePath, { force: true });
    throw e;
  }
  backend.close();
}

export async function mkimageCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, spec);
  if (args.options.help) return console.log(mkimageHelp), 0;
  if (args.positionals.length !== 1) throw new UsageError('mkimage takes one image path');
  const sizeBytes = args.options.size ? parseSize(String(args.options.size)) : IMAGE_SIZE_BYTES_DEFAULT;
  await createImage(args.positionals[0], sizeBytes, args.options.force === true);
  console.log(`created ${args.positionals[0]}: ${formatBytes(sizeBytes)} (${sizeBytes / 512} sectors), sparse, formatted`);
  return 0;
}
