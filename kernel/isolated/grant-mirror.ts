/**
 * Keeps each worker's grant facts (worker-memory.ts) coherent with the kernel's grant
 * table, without changing the kernel: it observes the four public mutators of the
 * Kernel's MemoryManager (grant, revoke, free, releaseAll) on that one instance and,
 * after each succeeds, pushes `grant` / `drop` envelopes to the grantee's worker.
 *
 * Why observe rather than ask: whoever makes a grant (a worker through its context, a
 * program attached on the main thread, a test) reaches MemoryManager.grant, and every
 * way a grant ends passes through revoke, free or releaseAll (dropGrant is private and
 * called only from them). The push goes into the grantee's ring at the moment the
 * kernel records the grant, so it is ahead of any message that could carry the grant's
 * id; a drop is likewise ahead of anything the revoker does afterwards.
 *
 * The MemoryManager stays the only authority: a worker whose facts do not prove an
 * access asks the kernel, which checks and counts (kernel/memory.ts).
 */
import type { MemoryManager, Rights } from '../memory.ts';

export interface GrantSink {
  pushGrant(grantId: number, addr: number, sizeBytes: number, rights: Rights): void;
  dropGrant(grantId: number): void;
}

interface Lent {
  owner: string;
  grantee: string;
  regionId: number;
}

export class GrantMirror {
  private readonly lent = new Map<number, Lent>();
  private readonly byRegion = new Map<number, Set<number>>();
  pushes = 0;
  drops = 0;

  constructor(
    private readonly memory: MemoryManager,
    private readonly sinkOf: (service: string) => GrantSink | undefined,
  ) {}

  install(): void {
    const mm = this.memory;
    const grant = mm.grant.bind(mm);
    const revoke = mm.revoke.bind(mm);
    const free = mm.free.bind(mm);
    const releaseAll = mm.releaseAll.bind(mm);
    mm.grant = (owner, regionId, grantee, rights, offsetBytes, lengthBytes) => {
      const grantId = grant(owner, regionId, grantee, rights, offsetBytes, lengthBytes);
      this.lent.set(grantId, { owner, grantee, regionId });
      const ids = this.byRegion.get(regionId) ?? new Set<number>();
      ids.add(grantId);
      this.byRegion.set(regionId, ids);
      const sink = this.sinkOf(grantee);
      if (sink) {
        // A view with exactly the grant's rights cannot fault: it gives address and size.
        const v = mm.grantView(grantee, grantId, rights);
        sink.pushGrant(grantId, v.byteOffset, v.length, rights);
        this.pushes++;
      }
      return grantId;
    };
    mm.revoke = (owner, grantId) => {
      revoke(owner, grantId);
      this.ended(grantId);
    };
    mm.free = (owner, regionId) => {
      free(owner, regionId);
      for (const grantId of [...(this.byRegion.get(regionId) ?? [])]) this.ended(grantId);
    };
    mm.releaseAll = (service) => {
      releaseAll(service);
      for (const [grantId, l] of this.lent) if (l.grantee === service || l.owner === service) this.ended(grantId);
    };
  }

  private ended(grantId: number): void {
    const l = this.lent.get(grantId);
    if (!l) return;
    this.lent.delete(grantId);
    const ids = this.byRegion.get(l.regionId);
    ids?.delete(grantId);
    if (ids?.size === 0) this.byRegion.delete(l.regionId);
    const sink = this.sinkOf(l.grantee);
    if (sink) {
      sink.dropGrant(grantId);
      this.drops++;
    }
  }
}
