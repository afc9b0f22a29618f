// In-memory seams for the filesystem engine: a chunk store (a Map by hash) and a metadata
// log (an array of committed transactions and the newest checkpoint), with a crash switch
// that forgets what was not committed.
import { blake3 } from '@noble/hashes/blake3.js';
import { Kernel } from '../../kernel/kernel.ts';
import { Filesystem } from '../../services/fs/filesystem.ts';
import { dispatchFs } from '../../services/fs/dispatch.ts';
import { FsClient, parseFsRequest } from '../../services/fs/protocol.ts';
import type { ChunkSink, MetaLog } from '../../services/fs/seams.ts';
import type { FsRecord, Time } from '../../services/fs/records.ts';
import type { ChunkDelta } from '../../services/fs/state.ts';
import { hashKey } from '../../services/fs/pages.ts';

export class MemChunks implements ChunkSink {
  readonly chunks = new Map<string, Uint8Array>();
  puts = 0;
  async put(list: Uint8Array[]): Promise<Uint8Array[]> {
    return list.map((bytes) => {
      const hash = blake3(bytes);
      this.chunks.set(hashKey(hash), bytes.slice());
      this.puts++;
      return hash;
    });
  }
  async get(hash: Uint8Array): Promise<Uint8Array> {
    const c = this.chunks.get(hashKey(hash));
    if (!c) throw new Error(`no chunk ${hashKey(hash)}`);
    return c.slice();
  }
}

export class MemLog implements MetaLog {
  transactions: FsRecord[][] = [];
  /** Sequence numbers as a log would give them: one per fs record, from 1. */
  private recordCount = 0;
  checkpointImage?: Uint8Array;
  checkpointAt = 0;
  refDeltas = new Map<string, number>();
  failNext = false;
  async commit(records: FsRecord[], deltas: ChunkDelta[]): Promise<number> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('injected commit failure');
    }
    // Records cross a boundary: copy them as the codec would.
    this.transactions.push(structuredClone(records));
    for (const d of deltas) this.refDeltas.set(hashKey(d.hash), (this.refDeltas.get(hashKey(d.hash)) ?? 0) + d.delta);
    const firstSeq = this.recordCount + 1;
    this.recordCount += records.length;
    return firstSeq;
  }
  async replay() {
    let seq = this.transactions.slice(0, this.checkpointAt).reduce((n, t) => n + t.length, 0);
    return { image: this.checkpointImage, records: this.transactions.slice(this.checkpointAt).flat().map((r) => ({ ...r, seq: ++seq })) };
  }
  async checkpoint(image: Uint8Array): Promise<void> {
    this.checkpointImage = image;
    this.checkpointAt = this.transactions.length;
  }
}

export const fixedNow = (): Time => [1_700_000_000, 0];

/** The engine as a service behind the fs protocol, over in-memory seams; remount replays the log. */
export async function memFs(chunks = new MemChunks(), log = new MemLog()) {
  const kernel = new Kernel({ seed: 5 });
  let fs = (await Filesystem.mount(chunks, log, fixedNow)).fs;
  let generation = 0;
  const start = async () => {
    const name = `fs${generation++}`;
    await kernel.spawn({
      name,
      provides: ['fs'],
      calls: [],
      service: { start: () => ({ handle: (req) => dispatchFs(fs, parseFsRequest(req.op, req.body), async () => ({ blockCount: 1000, blocksFree: 500 })) }) },
    });
    return name;
  };
  let current = await start();
  const client = new FsClient(kernel.attach({ name: 'app', calls: ['fs'] }));
  return {
    fs: client,
    engine: () => fs,
    chunks,
    log,
    kernel,
    remount: async () => {
      await kernel.stop(current);
      fs = (await Filesystem.mount(chunks, log, fixedNow)).fs;
      current = await start();
      return client;
    },
    close: () => kernel.shutdown(),
  };
}
