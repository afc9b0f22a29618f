// Shared test helpers: tagged transactions that can be recognised after recovery, fake
// timers on a manual clock, a device that loses power after N operations, and
// collecting what a recovered log replays.
import type { Clock, Timers } from '../../kernel/service.ts';
import { AxiomLog, type AxiomOptions, type CommittedTransaction } from '../../axiom/log.ts';
import type { LogDevice } from '../../axiom/device.ts';
import { MemoryLogDevice } from '../../axiom/device.ts';
import { rec, type RecordInput } from '../../axiom/records.ts';

/** Tests format logs for small checkpoint images, so tiny regions still leave room. */
export const IMAGE_MAX = 1024;

/** A transaction of `recordCount` records whose names carry its tag; `padBytes` pads each name. */
export function taggedTxn(tag: number, recordCount = 1, padBytes = 0): RecordInput[] {
  return Array.from({ length: recordCount }, (_, j) => {
    const name = `t${tag}.${j}` + 'x'.repeat(Math.max(0, Math.min(padBytes, 240)));
    return j % 2 === 0
      ? rec('FileCreate', { parentIno: 1, ino: tag, name, mode: 0o644, timeMs: j })
      : rec('Unlink', { parentIno: 1, name, timeMs: j });
  });
}

/** The tag of a replayed transaction made by taggedTxn (or -1). */
export function tagOf(t: CommittedTransaction): number {
  const r = t.records[0];
  if (r.type !== 'FileCreate') return -1;
  return r.payload.ino;
}

export async function freshLog(blockCount: number, options: AxiomOptions = {}): Promise<{ device: MemoryLogDevice; log: AxiomLog }> {
  const device = new MemoryLogDevice(blockCount);
  await AxiomLog.format(device, { logId: new Uint8Array(16).fill(7), checkpointImageSizeBytesMax: IMAGE_MAX });
  return { device, log: await AxiomLog.open(device, options) };
}

export async function replay(log: AxiomLog): Promise<CommittedTransaction[]> {
  const out: CommittedTransaction[] = [];
  for await (const t of log.transactions()) out.push(t);
  return out;
}

/** Timers and a clock that move only when told (advance). */
export class ManualTime implements Timers, Clock {
  private now = 0;
  private nextId = 0;
  private readonly pending = new Map<number, { atMs: number; fn: () => void }>();

  nowMs(): number {
    return this.now;
  }

  setTimeout(fn: () => void, delayMs: number): number {
    this.pending.set(++this.nextId, { atMs: this.now + delayMs, fn });
    return this.nextId;
  }

  clearTimeout(timerId: number): void {
    this.pending.delete(timerId);
  }

  get armed(): number {
    return this.pending.size;
  }

  advance(ms: number): void {
    this.now += ms;
    for (const [id, t] of [...this.pending].sort((a, b) => a[1].atMs - b[1].atMs)) {
      if (t.atMs > this.now) continue;
      this.pending.delete(id);
      t.fn();
    }
  }
}

/** Passes operations through until `killAfterOps` of them have run; that one and all later ones fail (power lost). */
export class KillSwitchDevice implements LogDevice {
  ops = 0;
  killed = false;

  constructor(
    private readonly inner: LogDevice,
    private killAfterOps = Infinity,
  ) {}

  get blockSizeBytes(): number {
    return this.inner.blockSizeBytes;
  }

  get blockCount(): number {
    return this.inner.blockCount;
  }

  arm(opsFromNow: number): void {
    this.killAfterOps = this.ops + opsFromNow;
  }

  private async step<T>(run: () => Promise<T>, landsBeforeDeath: boolean): Promise<T> {
    if (this.killed) throw new Error('power lost');
    this.ops++;
    if (this.ops >= this.killAfterOps) {
      this.killed = true;
      if (landsBeforeDeath) await run();
      throw new Error('power lost');
    }
    return run();
  }

  read(blockIndex: number, blockCount: number): Promise<Uint8Array> {
    return this.step(() => this.inner.read(blockIndex, blockCount), false);
  }

  write(blockIndex: number, data: Uint8Array): Promise<void> {
    return this.step(() => this.inner.write(blockIndex, data), true);
  }

  flush(): Promise<void> {
    return this.step(() => this.inner.flush(), false);
  }
}
