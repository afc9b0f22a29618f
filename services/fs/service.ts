/**
 * The filesystem service: serves the protocol of protocol.ts with the engine
 * (filesystem.ts) over the content store (chunks), Axiom (records) and the block service
 * (checkpoint images, free space).
 *
 * Mount runs after start() returns (the kernel delivers no replies to a service that is
 * still starting, and mount reads through other services); requests wait for it. If the
 * mount fails, every request gets EIO naming why, and the reason is in the kernel log.
 *
 * Time: file times are wall-clock, `epochMs` (given at boot by the host, fixed in tests)
 * plus the kernel clock, so the deterministic kernel replays times exactly too.
 *
 * Checkpoint policy: after CHECKPOINT_RECORDS_INTERVAL records since the last one (the
 * engine's rule), and on shutdown, when `checkpoints` is on. Mount replays at most that
 * many records after the newest checkpoint.
 */
import { ServiceError } from '../../kernel/errors.ts';
import type { Manifest, ServiceContext, ServiceDefinition } from '../../kernel/service.ts';
import { AxiomClient, AXIOM_ENDPOINT } from '../../axiom/protocol.ts';
import { BlockClient, BLOCK_ENDPOINT } from '../../services/block/protocol.ts';
import { ContentClient, CONTENT_ENDPOINT } from '../../services/content/protocol.ts';
import { FS_ENDPOINT, parseFsRequest, fsError } from './protocol.ts';
import { Filesystem } from './filesystem.ts';
import { dispatchFs } from './dispatch.ts';
import { AxiomMetaLog, ContentChunks } from './adapters.ts';
import type { Time } from './records.ts';

export interface FsServiceConfig {
  /** Wall-clock milliseconds at kernel time 0. */
  epochMs: number;
  /** Take checkpoints on the engine's policy and at shutdown (default on). */
  checkpoints?: boolean;
}

export interface FsMountReport {
  replayedRecords: number;
  orphansFreed: number;
  inodes: number;
  mountMs: number;
}

export const fsService: ServiceDefinition<FsServiceConfig> = {
  start(ctx, config) {
    const now = (): Time => {
      const ms = config.epochMs + ctx.clock.nowMs();
      const sec = Math.floor(ms / 1000);
      return [sec, Math.round((ms - sec * 1000) * 1e6)];
    };
    const block = new BlockClient(ctx);
    const content = new ContentClient(ctx);
    const log = new AxiomMetaLog(new AxiomClient(ctx), block, content);
    let fs: Filesystem | undefined;
    let report: FsMountReport | undefined;
    let failure: string | undefined;
    const t0 = ctx.clock.nowMs();
    const mounted = (async () => {
      try {
        const r = await Filesystem.mount(new ContentChunks(content, ctx.memory), log, now, { checkpoints: config.checkpoints !== false });
        fs = r.fs;
        report = { replayedRecords: r.replayed, orphansFreed: r.orphansFreed, inodes: r.fs.stats().inodes, mountMs: ctx.clock.nowMs() - t0 };
        ctx.log(`mounted: ${report.inodes} inodes, ${r.fs.stats().snapshots} snapshot(s), replayed ${r.replayed} records, freed ${r.orphansFreed} orphaned inode(s)`);
      } catch (e) {
        failure = e instanceof Error ? e.message : String(e);
        ctx.log(`mount failed: ${failure}`);
      }
    })();
    const usage = async () => {
      const s = await block.stats();
      return { blockCount: s.dataBlocks, blocksFree: s.freeBlocks };
    };
    const ready = async (): Promise<Filesystem> => {
      await mounted;
      if (!fs) throw fsError('EIO', `the filesystem did not mount: ${failure}`);
      return fs;
    };
    return {
      async handle(req) {
        if (req.op === 'mountReport') {
          await ready();
          return report;
        }
        if (req.op === 'stats') return (await ready()).stats();
        if (req.op === 'checkpoint') return (await (await ready()).checkpoint(), {});
        if (req.op === 'liveChunks') return { hashes: [...(await ready()).liveChunks()] };
        if (req.op === 'gc') {
          const engine = await ready();
          return engine.snapshots.gc(async (roots) => {
            // Mount replays an FsSnapshotCreate by loading its objects from the store: were a
            // deleted snapshot's create still replayable, this gc could sweep what that replay
            // needs. A checkpoint first (snapshot operations are held off meanwhile) leaves no
            // record before the gc for a mount to replay.
            await engine.checkpoint();
            return content.gc(roots);
          });
        }
        const parsed = parseFsRequest(req.op, req.body); // before the mount wait: bad input is refused at once
        return dispatchFs(fs ?? (await ready()), parsed, usage, ctx.memory);
      },
      async stop() {
        if (!fs) return;
        try {
          await fs.sync();
          if (config.checkpoints !== false) await fs.checkpoint();
        } catch (e) {
          if (!(e instanceof ServiceError)) throw e;
          ctx.log(`stop: ${e.message}`);
        }
      },
    };
  },
};

export function fsManifest(config: FsServiceConfig, opts: { name?: string; endpoint?: string } = {}): Manifest<FsServiceConfig> {
  return {
    name: opts.name ?? 'fs',
    provides: [opts.endpoint ?? FS_ENDPOINT],
    calls: [CONTENT_ENDPOINT, AXIOM_ENDPOINT, BLOCK_ENDPOINT],
    config,
    service: fsService,
  };
}

export type { ServiceContext };
