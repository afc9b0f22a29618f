/**
 * ServiceMemory inside a worker: validated views over the machine's physical memory
 * (the one SharedArrayBuffer, shared with every worker), with the kernel as the only
 * authority.
 *
 * Which and why: the worker HOLDS VALIDATED FACTS and asks the kernel for everything
 * else. It keeps the regions it owns (learned from its own alloc, which the kernel
 * answers) and the grants it holds (pushed by the kernel, grant-mirror.ts, in its ring
 * before any message that could name them, and dropped the same way when revoked or
 * freed). An access those facts prove valid is answered locally: a view is a subarray of
 * the shared buffer, physAddr is arithmetic. That is the hot path of every request
 * (the driver turns grants into DMA addresses per request), and a synchronous
 * question to the kernel costs a main-thread wake-up, 20 us or more (transport.ts).
 * Anything the facts do not prove (an unknown id, wrong rights, out of bounds, no DMA
 * capability) goes to the kernel synchronously, which runs the very same check as in
 * the deterministic mode: it refuses with GRANT or NOCAP and counts the fault, in one
 * place. alloc, free, grant and revoke change the kernel's tables, so they always ask.
 *
 * Revocation takes effect, in the holder, at the point of its ring where the kernel put
 * the `drop`: after everything the revoker did before revoking, which is the ordering a
 * program can observe. A view made before that stays live, as in the deterministic mode.
 */
import type { Region, Rights } from '../memory.ts';
import type { MemoryRef, ServiceMemory } from '../service.ts';
import type { SysCall } from './protocol.ts';

interface HeldGrant {
  addr: number;
  sizeBytes: number;
  rights: Rights;
}

function hasRights(have: Rights, need: Rights): boolean {
  return need === 'rw' ? have === 'rw' : have.includes(need);
}

function within(sizeBytes: number, offsetBytes: number, lengthBytes: number): boolean {
  return (
    Number.isSafeInteger(offsetBytes) &&
    Number.isSafeInteger(lengthBytes) &&
    offsetBytes >= 0 &&
    lengthBytes >= 0 &&
    offsetBytes + lengthBytes <= sizeBytes
  );
}

export class WorkerMemory implements ServiceMemory {
  private readonly regions = new Map<number, Region>();
  private readonly grants = new Map<number, HeldGrant>();
  localHits = 0;
  kernelAsks = 0;

  constructor(
    private readonly physical: SharedArrayBuffer,
    private readonly dma: boolean,
    private readonly sys: (call: SysCall) => unknown,
  ) {}

  /** The kernel lent this service a grant. */
  held(grantId: number, g: HeldGrant): void {
    this.grants.set(grantId, g);
  }

  /** A grant this service held is gone. */
  dropped(grantId: number): void {
    this.grants.delete(grantId);
  }

  private ask(call: SysCall): unknown {
    this.kernelAsks++;
    return this.sys(call);
  }

  private bytes(addr: number, lengthBytes: number): Uint8Array {
    return new Uint8Array(this.physical, addr, lengthBytes);
  }

  alloc(sizeBytes: number): Region {
    const r = this.ask({ op: 'alloc', sizeBytes }) as Region;
    const region: Region = { regionId: r.regionId, addr: r.addr, sizeBytes: r.sizeBytes };
    this.regions.set(region.regionId, region);
    return region;
  }

  free(region: Region): void {
    this.ask({ op: 'free', regionId: region.regionId });
    this.regions.delete(region.regionId);
  }

  view(region: Region, offsetBytes = 0, lengthBytes?: number): Uint8Array {
    const r = this.regions.get(region.regionId);
    if (r) {
      const length = lengthBytes ?? r.sizeBytes - offsetBytes;
      if (within(r.sizeBytes, offsetBytes, length)) {
        this.localHits++;
        return this.bytes(r.addr + offsetBytes, length);
      }
    }
    const v = this.ask({ op: 'view', regionId: region.regionId, offsetBytes, lengthBytes }) as { addr: number; lengthBytes: number };
    return this.bytes(v.addr, v.lengthBytes);
  }

  grant(region: Region, endpoint: string, rights: Rights, offsetBytes?: number, lengthBytes?: number): number {
    return this.ask({ op: 'grant', regionId: region.regionId, endpoint, rights, offsetBytes, lengthBytes }) as number;
  }

  revoke(grantId: number): void {
    this.ask({ op: 'revoke', grantId });
  }

  grantSize(grantId: number): number {
    const g = this.grants.get(grantId);
    if (g) return g.sizeBytes;
    return this.ask({ op: 'grantSize', grantId }) as number;
  }

  grantView(grantId: number, need: Rights, offsetBytes = 0, lengthBytes?: number): Uint8Array {
    const g = this.grants.get(grantId);
    if (g && hasRights(g.rights, need)) {
      const length = lengthBytes ?? g.sizeBytes - offsetBytes;
      if (within(g.sizeBytes, offsetBytes, length)) {
        this.localHits++;
        return this.bytes(g.addr + offsetBytes, length);
      }
    }
    const v = this.ask({ op: 'grantView', grantId, need, offsetBytes, lengthBytes }) as { addr: number; lengthBytes: number };
    return this.bytes(v.addr, v.lengthBytes);
  }

  physAddr(ref: MemoryRef, offsetBytes: number, lengthBytes: number, need: Rights): number {
    if (this.dma) {
      if ('regionId' in ref) {
        const r = this.regions.get(ref.regionId);
        if (r && within(r.sizeBytes, offsetBytes, lengthBytes)) {
          this.localHits++;
          return r.addr + offsetBytes;
        }
      } else {
        const g = this.grants.get(ref.grantId);
        if (g && hasRights(g.rights, need) && within(g.sizeBytes, offsetBytes, lengthBytes)) {
          this.localHits++;
          return g.addr + offsetBytes;
        }
      }
    }
    return this.ask({ op: 'physAddr', ref, offsetBytes, lengthBytes, need }) as number;
  }
}
