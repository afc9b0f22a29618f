/**
 * Pages and grants: how services own and lend physical memory.
 *
 * A service allocates whole pages (a Region it owns) and may lend part of a region to
 * another service as a Grant with bounds and rights ('r', 'w' or 'rw'). The holder of a
 * grant reaches those bytes only through it: every access is checked against the
 * grant's bounds and rights, and a violation raises a GRANT ServiceError and is counted.
 * Services with the DMA capability (drivers) may turn a region or a grant into
 * physical addresses for device descriptors, again bounds-checked.
 *
 * Invariants: a page belongs to at most one region; freeing a region revokes every grant
 * made from it; a grant never outlives its region; owners and grantees are service names.
 */
import { PAGE_SIZE_BYTES, GRANTS_PER_SERVICE_MAX } from './limits.ts';
import { ServiceError } from './errors.ts';
import type { PhysicalMemory } from './machine/physical-memory.ts';

export type Rights = 'r' | 'w' | 'rw';

export interface Region {
  readonly regionId: number;
  readonly addr: number;
  readonly sizeBytes: number;
}

interface RegionRecord extends Region {
  owner: string;
  grants: Set<number>;
}

interface GrantRecord {
  grantId: number;
  regionId: number;
  owner: string;
  grantee: string;
  addr: number;
  sizeBytes: number;
  rights: Rights;
}

export class MemoryManager {
  private readonly pageCount: number;
  private readonly pageUsed: Uint8Array;
  private nextPageHint = 0;
  private readonly regions = new Map<number, RegionRecord>();
  private readonly grants = new Map<number, GrantRecord>();
  private readonly grantsHeld = new Map<string, number>();
  private nextRegionId = 1;
  private nextGrantId = 1;
  faultCount = 0;
  freePageCount: number;

  constructor(readonly physical: PhysicalMemory) {
    this.pageCount = physical.sizeBytes / PAGE_SIZE_BYTES;
    this.pageUsed = new Uint8Array(this.pageCount);
    // Page 0 is never handed out, so physical address 0 in a descriptor is always a bug.
    this.pageUsed[0] = 1;
    this.freePageCount = this.pageCount - 1;
  }

  /** Allocates whole contiguous pages for `owner`; NOMEM when no run is large enough. */
  alloc(owner: string, sizeBytes: number): Region {
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) throw new ServiceError('BADMSG', `alloc: sizeBytes ${sizeBytes}`);
    const pages = Math.ceil(sizeBytes / PAGE_SIZE_BYTES);
    const first = this.findRun(pages);
    if (first < 0) throw new ServiceError('NOMEM', `no run of ${pages} free pages (${this.freePageCount} free)`);
    this.pageUsed.fill(1, first, first + pages);
    this.freePageCount -= pages;
    this.nextPageHint = first + pages;
    const region: RegionRecord = {
      regionId: this.nextRegionId++,
      addr: first * PAGE_SIZE_BYTES,
      sizeBytes: pages * PAGE_SIZE_BYTES,
      owner,
      grants: new Set(),
    };
    this.regions.set(region.regionId, region);
    return { regionId: region.regionId, addr: region.addr, sizeBytes: region.sizeBytes };
  }

  private findRun(pages: number): number {
    for (const start of [this.nextPageHint, 1]) {
      let run = 0;
      for (let p = start; p < this.pageCount; p++) {
        run = this.pageUsed[p] ? 0 : run + 1;
        if (run === pages) return p - pages + 1;
      }
    }
    return -1;
  }

  free(owner: string, regionId: number): void {
    const region = this.ownedRegion(owner, regionId);
    for (const grantId of region.grants) this.dropGrant(grantId);
    const first = region.addr / PAGE_SIZE_BYTES;
    const pages = region.sizeBytes / PAGE_SIZE_BYTES;
    for (let p = first; p < first + pages; p++) {
      if (!this.pageUsed[p]) throw new Error(`memory: freeing free page ${p}`);
      this.pageUsed[p] = 0;
    }
    this.freePageCount += pages;
    this.physical.bytes.fill(0, region.addr, region.addr + region.sizeBytes);
    this.regions.delete(regionId);
  }

  /** Frees everything a service owns and drops every grant it holds (service stopped). */
  releaseAll(service: string): void {
    for (const r of [...this.regions.values()]) if (r.owner === service) this.free(service, r.regionId);
    for (const g of [...this.grants.values()]) if (g.grantee === service) this.dropGrant(g.grantId);
  }

  /** A live view of a region the caller owns. */
  view(owner: string, regionId: number, offsetBytes = 0, lengthBytes?: number): Uint8Array {
    const region = this.ownedRegion(owner, regionId);
    const length = lengthBytes ?? region.sizeBytes - offsetBytes;
    this.checkWithin(owner, region.sizeBytes, offsetBytes, length, `region ${regionId}`);
    return this.physical.slice(region.addr + offsetBytes, length);
  }

  grant(owner: string, regionId: number, grantee: string, rights: Rights, offsetBytes = 0, lengthBytes?: number): number {
    const region = this.ownedRegion(owner, regionId);
    const length = lengthBytes ?? region.sizeBytes - offsetBytes;
    this.checkWithin(owner, region.sizeBytes, offsetBytes, length, `region ${regionId}`);
    const held = this.grantsHeld.get(grantee) ?? 0;
    if (held >= GRANTS_PER_SERVICE_MAX) throw new ServiceError('GRANT', `${grantee} holds ${held} grants already`);
    const g: GrantRecord = {
      grantId: this.nextGrantId++,
      regionId,
      owner,
      grantee,
      addr: region.addr + offsetBytes,
      sizeBytes: length,
      rights,
    };
    this.grants.set(g.grantId, g);
    region.grants.add(g.grantId);
    this.grantsHeld.set(grantee, held + 1);
    return g.grantId;
  }

  revoke(owner: string, grantId: number): void {
    const g = this.grants.get(grantId);
    if (!g || g.owner !== owner) throw this.fault(owner, `revoke: ${owner} made no grant ${grantId}`);
    this.dropGrant(grantId);
  }

  private dropGrant(grantId: number): void {
    const g = this.grants.get(grantId);
    if (!g) return;
    this.grants.delete(grantId);
    this.regions.get(g.regionId)?.grants.delete(grantId);
    this.grantsHeld.set(g.grantee, (this.grantsHeld.get(g.grantee) ?? 1) - 1);
  }

  grantSize(holder: string, grantId: number): number {
    return this.heldGrant(holder, grantId).sizeBytes;
  }

  /** A live view of granted memory, if the grant gives `holder` the rights asked for. */
  grantView(holder: string, grantId: number, need: Rights, offsetBytes = 0, lengthBytes?: number): Uint8Array {
    const g = this.heldGrant(holder, grantId);
    if (!hasRights(g.rights, need)) throw this.fault(holder, `grant ${grantId} gives '${g.rights}', not '${need}'`);
    const length = lengthBytes ?? g.sizeBytes - offsetBytes;
    this.checkWithin(holder, g.sizeBytes, offsetBytes, length, `grant ${grantId}`);
    return this.physical.slice(g.addr + offsetBytes, length);
  }

  /** Physical address of [offset, offset+length) of a region owned or a grant held (DMA). */
  physAddr(holder: string, ref: { regionId: number } | { grantId: number }, offsetBytes: number, lengthBytes: number, need: Rights): number {
    if ('regionId' in ref) {
      const region = this.ownedRegion(holder, ref.regionId);
      this.checkWithin(holder, region.sizeBytes, offsetBytes, lengthBytes, `region ${ref.regionId}`);
      return region.addr + offsetBytes;
    }
    const g = this.heldGrant(holder, ref.grantId);
    if (!hasRights(g.rights, need)) throw this.fault(holder, `grant ${ref.grantId} gives '${g.rights}', not '${need}'`);
    this.checkWithin(holder, g.sizeBytes, offsetBytes, lengthBytes, `grant ${ref.grantId}`);
    return g.addr + offsetBytes;
  }

  private ownedRegion(owner: string, regionId: number): RegionRecord {
    const r = this.regions.get(regionId);
    if (!r || r.owner !== owner) throw this.fault(owner, `${owner} owns no region ${regionId}`);
    return r;
  }

  private heldGrant(holder: string, grantId: number): GrantRecord {
    const g = this.grants.get(grantId);
    if (!g || g.grantee !== holder) throw this.fault(holder, `${holder} holds no grant ${grantId}`);
    return g;
  }

  private checkWithin(who: string, sizeBytes: number, offsetBytes: number, lengthBytes: number, what: string): void {
    if (
      !Number.isSafeInteger(offsetBytes) ||
      !Number.isSafeInteger(lengthBytes) ||
      offsetBytes < 0 ||
      lengthBytes < 0 ||
      offsetBytes + lengthBytes > sizeBytes
    ) {
      throw this.fault(who, `[${offsetBytes}, +${lengthBytes}) is outside ${what} of ${sizeBytes} bytes`);
    }
  }

  private fault(who: string, message: string): ServiceError {
    this.faultCount++;
    this.onFault?.(who, message);
    return new ServiceError('GRANT', message);
  }

  onFault?: (service: string, message: string) => void;
}

function hasRights(have: Rights, need: Rights): boolean {
  return need === 'rw' ? have === 'rw' : have.includes(need);
}
