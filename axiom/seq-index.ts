/**
 * A sparse index from sequence number to logical position: one entry per
 * INDEX_STRIDE_RECORDS committed records (and always one at the log's start), each with
 * the hash of the record before it, so a reader can start at any entry and verify the
 * chain from there. Memory is O(live records / stride), never O(history).
 *
 * Invariants: entries are in strictly increasing seq (and position) order; after
 * `pruneBefore(startSeq, ...)` the first entry is exactly the log's start.
 */

import { assert } from './errors.ts';
import { INDEX_STRIDE_RECORDS } from './limits.ts';

export interface IndexEntry {
  seq: number;
  pos: number;
  prevHash: Uint8Array;
}

export class SeqIndex {
  private entries: IndexEntry[] = [];
  private head = 0;

  constructor(private readonly strideRecords = INDEX_STRIDE_RECORDS) {}

  get size(): number {
    return this.entries.length - this.head;
  }

  private last(): IndexEntry | undefined {
    return this.size === 0 ? undefined : this.entries[this.entries.length - 1];
  }

  /** Seq of the newest entry, or -Infinity. */
  lastSeq(): number {
    return this.last()?.seq ?? -Infinity;
  }

  /** Adds an entry for record `seq` if the stride since the last entry has passed. */
  addIfDue(seq: number, pos: number, prevHash: Uint8Array): void {
    const last = this.last();
    if (last !== undefined && seq - last.seq < this.strideRecords) return;
    assert(last === undefined || (seq > last.seq && pos > last.pos), 'index entries increase');
    this.entries.push({ seq, pos, prevHash: Uint8Array.from(prevHash) });
  }

  /** The entry with the largest seq <= `seq`. */
  floor(seq: number): IndexEntry | undefined {
    let lo = this.head;
    let hi = this.entries.length - 1;
    let found: IndexEntry | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid].seq <= seq) {
        found = this.entries[mid];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /** Drops entries before the new start and makes `start` the first entry. */
  pruneBefore(start: IndexEntry): void {
    while (this.head < this.entries.length && this.entries[this.head].seq < start.seq) this.head++;
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    if (this.size === 0 || this.entries[this.head].seq !== start.seq) {
      if (this.head > 0) this.entries[--this.head] = { ...start, prevHash: Uint8Array.from(start.prevHash) };
      else this.entries.unshift({ ...start, prevHash: Uint8Array.from(start.prevHash) });
    }
    assert(this.entries[this.head].seq === start.seq, 'index starts at the log start');
  }
}
