/**
 * Timer queue: a binary min-heap of deadlines, ordered by (deadlineMs, timerId) so two
 * timers due at the same instant always fire in the order they were set.
 * The kernel owns one; in virtual-clock mode it is the only thing that moves time.
 *
 * Every call arms a timeout that its reply almost always cancels, so cancel is O(1):
 * the entry stays in the heap, dead, until it reaches the top or the heap is rebuilt
 * (when dead entries outnumber live ones), which keeps the heap O(live) in size.
 */

export interface TimerEntry {
  timerId: number;
  deadlineMs: number;
  owner: string;
  fire: () => void;
}

export class TimerHeap {
  private heap: TimerEntry[] = [];
  private readonly live = new Set<number>();

  get size(): number {
    return this.live.size;
  }

  push(entry: TimerEntry): void {
    this.live.add(entry.timerId);
    this.heap.push(entry);
    this.siftUp(this.heap.length - 1);
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(this.heap[i], this.heap[parent])) break;
      [this.heap[i], this.heap[parent]] = [this.heap[parent], this.heap[i]];
      i = parent;
    }
  }

  cancel(timerId: number): void {
    if (!this.live.delete(timerId)) return;
    if (this.heap.length > 64 && this.heap.length > 2 * this.live.size) this.rebuild();
  }

  /** Removes every timer of one owner (a stopped service). */
  cancelOwner(owner: string): void {
    for (const e of this.heap) if (e.owner === owner) this.live.delete(e.timerId);
    this.rebuild();
  }

  private rebuild(): void {
    const entries = this.heap.filter((e) => this.live.has(e.timerId));
    this.heap = [];
    for (const e of entries) {
      this.heap.push(e);
      this.siftUp(this.heap.length - 1);
    }
  }

  peekDeadlineMs(): number | undefined {
    this.skipCancelled();
    return this.heap[0]?.deadlineMs;
  }

  /** Pops the earliest live timer if it is due at `nowMs`. */
  popDue(nowMs: number): TimerEntry | undefined {
    this.skipCancelled();
    const top = this.heap[0];
    if (!top || top.deadlineMs > nowMs) return undefined;
    this.live.delete(top.timerId);
    return this.pop();
  }

  private skipCancelled(): void {
    while (this.heap.length && !this.live.has(this.heap[0].timerId)) this.pop();
  }

  private pop(): TimerEntry {
    const top = this.heap[0];
    const last = this.heap.pop() as TimerEntry;
    if (this.heap.length) {
      this.heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.heap.length && before(this.heap[l], this.heap[m])) m = l;
        if (r < this.heap.length && before(this.heap[r], this.heap[m])) m = r;
        if (m === i) break;
        [this.heap[i], this.heap[m]] = [this.heap[m], this.heap[i]];
        i = m;
      }
    }
    return top;
  }
}

function before(a: TimerEntry, b: TimerEntry): boolean {
  return a.deadlineMs < b.deadlineMs || (a.deadlineMs === b.deadlineMs && a.timerId < b.timerId);
}
