/**
 * Staging slots: equal slots of one region a service owns and lends to another by one
 * grant, so bulk data moves through shared pages instead of message bodies (the fs lends
 * its pages to the content store, the content store its blocks to the block service).
 * `use` hands a caller a free slot for the length of its call and waits when none is free;
 * `idle` resolves once no slot is in use, after which the owner may free the region.
 *
 * Invariants: a slot serves one call at a time; every slot lies inside the region's view
 * (checked at construction); a slot comes back free however its call ends.
 */
import type { Region } from './memory.ts';

export class StagingSlots {
  private readonly free: number[] = [];
  private readonly waiters: (() => void)[] = [];

  constructor(
    readonly region: Region,
    private readonly view: Uint8Array,
    readonly grantId: number,
    readonly slotBytes: number,
    private readonly slotCount: number,
  ) {
    if (!Number.isSafeInteger(slotBytes) || slotBytes <= 0 || !Number.isSafeInteger(slotCount) || slotCount <= 0) {
      throw new RangeError(`staging: ${slotCount} slots of ${slotBytes} bytes`);
    }
    if (view.length < slotBytes * slotCount) throw new RangeError(`staging: ${view.length} bytes cannot hold ${slotCount} slots of ${slotBytes}`);
    for (let i = slotCount - 1; i >= 0; i--) this.free.push(i);
  }

  /** Runs `fn` with a free slot (its offset in the region and a view of it); waits for one if all are busy. */
  async use<T>(fn: (slotOffsetBytes: number, slot: Uint8Array) => Promise<T>): Promise<T> {
    while (this.free.length === 0) await new Promise<void>((r) => this.waiters.push(r));
    const index = this.free.pop()!;
    try {
      const at = index * this.slotBytes;
      return await fn(at, this.view.subarray(at, at + this.slotBytes));
    } finally {
      this.free.push(index);
      for (const wake of this.waiters.splice(0)) wake(); // each re-checks; idle() waits here too
    }
  }

  /** Resolves once no slot is in use (then the region may be freed). */
  async idle(): Promise<void> {
    while (this.free.length < this.slotCount) await new Promise<void>((r) => this.waiters.push(r));
  }
}
