/**
 * An insertion-ordered set of block indexes with O(1) add (at the tail), delete, first and
 * "move to tail", as an intrusive doubly linked list over a Map of nodes.
 *
 * Why not a JS Set: deleting from the front of a Set leaves holes that V8 compacts only
 * when the table is rehashed, so `values().next()` after many front deletions walks
 * every hole. The cache takes its eviction victims from the front of such a set, once per
 * evicted block; with a Set that walk was most of the eviction cost in a long scan.
 *
 * Invariants: `head` and `tail` are undefined exactly when the set is empty; following
 * `next` from `head` visits every member once, in insertion order, ending at `tail`.
 */
interface Node {
  prev: number | undefined;
  next: number | undefined;
}

export class LinkedSet {
  private readonly nodes = new Map<number, Node>();
  private head: number | undefined;
  private tail: number | undefined;

  get size(): number {
    return this.nodes.size;
  }

  has(key: number): boolean {
    return this.nodes.has(key);
  }

  /** The oldest member, or undefined when empty. */
  first(): number | undefined {
    return this.head;
  }

  /** Adds `key` at the tail; false (and no change) if it is already a member. */
  add(key: number): boolean {
    if (this.nodes.has(key)) return false;
    this.nodes.set(key, { prev: this.tail, next: undefined });
    if (this.tail === undefined) this.head = key;
    else this.nodes.get(this.tail)!.next = key;
    this.tail = key;
    return true;
  }

  delete(key: number): boolean {
    const n = this.nodes.get(key);
    if (!n) return false;
    if (n.prev === undefined) this.head = n.next;
    else this.nodes.get(n.prev)!.next = n.next;
    if (n.next === undefined) this.tail = n.prev;
    else this.nodes.get(n.next)!.prev = n.prev;
    this.nodes.delete(key);
    return true;
  }

  /** Members from the oldest; deleting the member just visited is allowed. */
  *[Symbol.iterator](): IterableIterator<number> {
    for (let k = this.head; k !== undefined; ) {
      const next = this.nodes.get(k)!.next;
      yield k;
      k = next;
    }
  }
}
