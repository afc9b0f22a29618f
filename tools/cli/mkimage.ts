/**
 * `strata mkimage <path> --size <N[KMG]>`: creates a sparse raw disk image.
 * Refuses to overwrite an existing file unless --force is given.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FileBackend } from '../../kernel/machine/disk/file.ts';
import { helpText, parseArgs, parseSize, UsageError, type OptionSpec } from './args.ts';
import { formatBytes } from '../../drivers/virtio-blk/driver.ts';

export const IMAGE_SIZE_BYTES_DEFAULT = 1024 ** 3;
export const IMAGE_SIZE_BYTES_MIN = 1024 * 1024;

const spec: Record<string, OptionSpec> = {
  size: { value: true, help: `image size, e.g. 256M or 4G (default ${formatBytes(IMAGE_SIZE_BYTES_DEFAULT)})` },
  force: { help: 'replace an existing file' },
  help: { help: 'show this help' },
};

export const mkimageHelp = helpText('strata mkimage <path> [--size N[KMGT]] [--force]', 'Create a sparse raw disk image (usable by strata, qemu-img, dd).', spec);

export function createImage(imagePath: string, sizeBytes: number, force = false): void {
  if (sizeBytes < IMAGE_SIZE_BYTES_MIN) throw new UsageError(`size ${sizeBytes} is below the minimum of ${formatBytes(IMAGE_SIZE_BYTES_MIN)}`);
  if (sizeBytes % 4096 !== 0) throw new UsageError(`size ${sizeBytes} is not a multiple of 4096`);
  if (fs.existsSync(imagePath)) {
    if (!force) throw new UsageError(`${imagePath} exists; use --force to replace it`);
    fs.rmSync(imagePath);
  }
  fs.mkdirSync(path.dirname(path.resolve(imagePath)), { recursive: true });
  FileBackend.open(imagePath, { create: true, sizeBytes }).close();
}

export async function mkimageCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, spec);
  if (args.options.help) return console.log(mkimageHelp), 0;
  if (args.positionals.length !== 1) throw new UsageError('mkimage takes one image path');
  const sizeBytes = args.options.size ? parseSize(String(args.options.size)) : IMAGE_SIZE_BYTES_DEFAULT;
  createImage(args.positionals[0], sizeBytes, args.options.force === true);
  console.log(`created ${args.positionals[0]}: ${formatBytes(sizeBytes)} (${sizeBytes / 512} sectors), sparse`);
  return 0;
}
