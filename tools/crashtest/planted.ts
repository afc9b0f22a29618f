/**
 * Planted bugs for the harness's self-test: a harness that finds nothing proves nothing.
 * Each bug makes the recorded run misbehave in a known way, from outside the production
 * code (a disk wrapper under the stack, or where the acknowledgement is marked), so no
 * service carries a switch. Only test code (test/crashtest/) passes them; the CLI has no
 * option for them.
 *
 * - ack-before-flush: the acknowledgement is taken when the call is sent, before Axiom's
 *   FLUSH completes (an fs that replies before its commit is durable).
 * - flush-ignored: the device completes FLUSH without making anything durable (a disk
 *   that lies about its write cache): acknowledged commits are not durable.
 * - skip-data-flush: every other FLUSH is dropped, so the chunk data and the record that
 *   names it share one flush window (ChunkPut without its data flush first): a crash
 *   may keep the record and lose the data.
 * - write-after-flush: the last write before each FLUSH is held back and issued right
 *   after it (a commit record or journal commit that lands after the barrier that should
 *   cover it: recovery would trust a transaction the flush never covered).
 * - replay-uncommitted: the block journal's replay also writes home the transaction after
 *   the last committed one, from its descriptors alone (planted-replay.ts: on the crash
 *   image before each recovery, not in services/block).
 */
import type { DiskBackend } from '../../kernel/machine/disk/backend.ts';
import type { FaultyBackend } from '../../kernel/machine/disk/faulty.ts';
import type { RecordHooks } from './record.ts';
import { replayUncommitted } from './planted-replay.ts';

export const PLANTED_BUGS = ['ack-before-flush', 'flush-ignored', 'skip-data-flush', 'write-after-flush', 'replay-uncommitted'] as const;
export type PlantedBug = (typeof PLANTED_BUGS)[number];

/** Delegates everything to the recording disk; subclasses change flush(). */
class WrappedDisk implements DiskBackend {
  readonly kind: string;
  readonly sizeBytes: number;
  readonly readOnly = false;
  constructor(protected readonly inner: FaultyBackend) {
    this.kind = `planted-${inner.kind}`;
    this.sizeBytes = inner.sizeBytes;
  }
  read(offsetBytes: number, dst: Uint8Array): void {
    this.inner.read(offsetBytes, dst);
  }
  write(offsetBytes: number, src: Uint8Array): void {
    this.inner.write(offsetBytes, src);
  }
  discard(offsetBytes: number, lengthBytes: number): void {
    this.inner.discard(offsetBytes, lengthBytes);
  }
  flush(): void {
    this.inner.flush();
  }
  close(): void {
    this.inner.close();
  }
}

class FlushIgnored extends WrappedDisk {
  override flush(): void {}
}

class SkipDataFlush extends WrappedDisk {
  private flushCount = 0;
  override flush(): void {
    if (this.flushCount++ % 2 === 1) this.inner.flush();
  }
}

class WriteAfterFlush extends WrappedDisk {
  private held: { offsetBytes: number; data: Uint8Array } | null = null;
  override write(offsetBytes: number, src: Uint8Array): void {
    this.release();
    this.held = { offsetBytes, data: src.slice() }; // reads must still see it: see read()
  }
  override read(offsetBytes: number, dst: Uint8Array): void {
    this.inner.read(offsetBytes, dst);
    const h = this.held;
    if (h === null) return;
    const from = Math.max(offsetBytes, h.offsetBytes);
    const to = Math.min(offsetBytes + dst.length, h.offsetBytes + h.data.length);
    if (from < to) dst.set(h.data.subarray(from - h.offsetBytes, to - h.offsetBytes), from - offsetBytes);
  }
  override discard(offsetBytes: number, lengthBytes: number): void {
    this.release();
    this.inner.discard(offsetBytes, lengthBytes);
  }
  override flush(): void {
    const h = this.held;
    this.held = null;
    this.inner.flush();
    if (h !== null) this.inner.write(h.offsetBytes, h.data);
  }
  private release(): void {
    if (this.held !== null) this.inner.write(this.held.offsetBytes, this.held.data);
    this.held = null;
  }
}

/** The recording hooks that plant `bug`. */
export function plantedHooks(bug: PlantedBug): RecordHooks {
  switch (bug) {
    case 'ack-before-flush':
      return { markBeforeReply: true };
    case 'flush-ignored':
      return { wrapDisk: (d) => new FlushIgnored(d) };
    case 'skip-data-flush':
      return { wrapDisk: (d) => new SkipDataFlush(d) };
    case 'write-after-flush':
      return { wrapDisk: (d) => new WriteAfterFlush(d) };
    case 'replay-uncommitted':
      return { beforeRecovery: replayUncommitted };
  }
}
