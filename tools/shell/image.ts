/**
 * Opening a raw image for the shell: the image file as the machine's disk (behind the
 * power-cut wrapper, so `crash` works on a real image), booted by tools/system.ts's
 * bootSystem with the shell's context holding every endpoint it may use.
 */
import fs from 'node:fs';
import { FileBackend } from '../../kernel/machine/disk/file.ts';
import { bootSystem } from '../system.ts';
import { createImage, IMAGE_SIZE_BYTES_DEFAULT } from '../cli/mkimage.ts';
import { UsageError } from '../cli/args.ts';
import { SHELL_ENDPOINTS } from './backends.ts';
import { ShellHost } from './host.ts';

export interface OpenImageOptions {
  seed?: number;
  /** Create (and size) the image if it does not exist. */
  create?: boolean;
  sizeBytes?: number;
  /** Boot-log lines as they happen. */
  log?: (line: string) => void;
}

export async function openImageHost(imagePath: string, options: OpenImageOptions = {}): Promise<ShellHost> {
  if (!fs.existsSync(imagePath)) {
    if (!options.create) throw new UsageError(`${imagePath} does not exist (create it with 'strata mkimage' or pass --create)`);
    await createImage(imagePath, options.sizeBytes ?? IMAGE_SIZE_BYTES_DEFAULT);
    options.log?.(`created ${imagePath} (sparse)`);
  }
  return ShellHost.start({
    disk: FileBackend.open(imagePath),
    imagePath,
    log: options.log,
    boot: (disk, log) => bootSystem({ disk, seed: options.seed ?? 1, log, userCalls: SHELL_ENDPOINTS }),
  });
}
