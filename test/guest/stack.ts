// The host side for guest tests: the real machine, kernel, virtio-blk driver and block
// service on a formatted in-memory image, and the filesystem engine (services/fs) served on
// the `fs` endpoint over in-memory seams (test/fs/mem-seams.ts) until the fs service runs
// on the content store and Axiom. Also builds the guest artefacts when they are missing.
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { blockManifest } from '../../services/block/service.ts';
import { BLOCK_ENDPOINT, BlockClient } from '../../services/block/protocol.ts';
import { formatImage, parseUuid } from '../../services/block/format/index.ts';
import { Filesystem } from '../../services/fs/filesystem.ts';
import { dispatchFs } from '../../services/fs/dispatch.ts';
import { FS_ENDPOINT, FsClient, parseFsRequest } from '../../services/fs/protocol.ts';
import { ensureGuestArtefacts, type GuestArtefacts } from '../../tools/guest/build.ts';
import type { System } from '../../tools/system.ts';
import { bootTestSystem, MiB } from '../helpers/stack.ts';
import { fixedNow, MemChunks, MemLog } from '../fs/mem-seams.ts';

export interface GuestTestStack {
  sys: System;
  fs: FsClient;
  block: BlockClient;
  engine: () => Filesystem;
  /** Stops the fs service and mounts the engine again from its log (as after a restart). */
  remount(): Promise<void>;
  close(): Promise<void>;
}

export async function guestArtefacts(): Promise<GuestArtefacts> {
  return ensureGuestArtefacts({ log: (line) => console.log(line) });
}

export async function guestTestStack(options: { imageBytes?: number } = {}): Promise<GuestTestStack> {
  const disk = new MemoryBackend(options.imageBytes ?? 256 * MiB);
  formatImage((blockIndex, data) => disk.write(blockIndex * 4096, data), disk.sizeBytes, { uuid: parseUuid('9a9a9a9a-0000-4000-8000-00000000c0de') });
  disk.flush();
  const sys = await bootTestSystem({ disk, memorySizeBytes: 128 * MiB, clock: 'real', userCalls: [BLOCK_ENDPOINT, FS_ENDPOINT] });
  await sys.kernel.spawn(blockManifest());
  const chunks = new MemChunks();
  const log = new MemLog();
  let engine = (await Filesystem.mount(chunks, log, fixedNow)).fs;
  let generation = 0;
  const startFs = async () => {
    const name = `fs${generation++}`;
    await sys.kernel.spawn({
      name,
      provides: [FS_ENDPOINT],
      calls: [],
      service: { start: () => ({ handle: (req) => dispatchFs(engine, parseFsRequest(req.op, req.body), async () => ({ blockCount: 1 << 20, blocksFree: 1 << 19 })) }) },
    });
    return name;
  };
  let current = await startFs();
  return {
    sys,
    fs: new FsClient(sys.user),
    block: new BlockClient(sys.user),
    engine: () => engine,
    remount: async () => {
      await sys.kernel.stop(current);
      engine = (await Filesystem.mount(chunks, log, fixedNow)).fs;
      current = await startFs();
    },
    close: () => sys.shutdown(),
  };
}
