// Pages and grants: ownership, bounds, rights, revocation, DMA capability.
import { describe, expect, it } from 'vitest';
import { Kernel } from '../../kernel/kernel.ts';
import { ServiceError } from '../../kernel/errors.ts';

function grantCode(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return (e as ServiceError).code;
  }
}

describe('kernel memory and grants', () => {
  it('lends bytes by grant with bounds and rights, and counts faults', async () => {
    const k = new Kernel({ memorySizeBytes: 1 << 20 });
    let holderView: ((id: number, need: 'r' | 'w' | 'rw', off?: number, len?: number) => Uint8Array) | undefined;
    await k.spawn({
      name: 'holder',
      provides: ['holder'],
      calls: [],
      service: {
        start: (ctx) => {
          holderView = (id, need, off, len) => ctx.memory.grantView(id, need, off, len);
          return {};
        },
      },
    });
    const owner = k.attach({ name: 'owner', calls: ['holder'] });
    const region = owner.memory.alloc(10_000);
    expect(region.sizeBytes).toBe(12_288);
    expect(region.addr % 4096).toBe(0);
    owner.memory.view(region).fill(0xab);
    const g = owner.memory.grant(region, 'holder', 'r', 4096, 4096);
    expect(holderView!(g, 'r')[0]).toBe(0xab);
    expect(holderView!(g, 'r').length).toBe(4096);
    expect(grantCode(() => holderView!(g, 'w'))).toBe('GRANT');
    expect(grantCode(() => holderView!(g, 'r', 4000, 200))).toBe('GRANT');
    expect(grantCode(() => holderView!(g + 1000, 'r'))).toBe('GRANT');
    expect(k.memory.faultCount).toBe(3);
    owner.memory.revoke(g);
    expect(grantCode(() => holderView!(g, 'r'))).toBe('GRANT');
  });

  it('revokes every grant of a region when it is freed, and reuses its pages', async () => {
    const k = new Kernel({ memorySizeBytes: 1 << 20 });
    let view: ((id: number) => Uint8Array) | undefined;
    await k.spawn({
      name: 'holder',
      provides: ['holder'],
      calls: [],
      service: { start: (ctx) => ((view = (id) => ctx.memory.grantView(id, 'rw')), {}) },
    });
    const owner = k.attach({ name: 'owner', calls: ['holder'] });
    const free0 = k.memory.freePageCount;
    const r = owner.memory.alloc(8192);
    const g = owner.memory.grant(r, 'holder', 'rw');
    view!(g)[0] = 1;
    owner.memory.free(r);
    expect(k.memory.freePageCount).toBe(free0);
    expect(grantCode(() => view!(g))).toBe('GRANT');
    const r2 = owner.memory.alloc(8192);
    expect(owner.memory.view(r2)[0]).toBe(0); // freed pages come back zeroed
  });

  it('refuses grants to endpoints outside the manifest and DMA without the capability', async () => {
    const k = new Kernel({ memorySizeBytes: 1 << 20 });
    const owner = k.attach({ name: 'owner', calls: [] });
    const r = owner.memory.alloc(4096);
    expect(grantCode(() => owner.memory.grant(r, 'holder', 'r'))).toBe('NOCAP');
    expect(grantCode(() => owner.memory.physAddr({ regionId: r.regionId }, 0, 10, 'r'))).toBe('NOCAP');
    const driver = k.attach({ name: 'driver', calls: [], dma: true });
    const d = driver.memory.alloc(4096);
    expect(driver.memory.physAddr({ regionId: d.regionId }, 16, 32, 'w')).toBe(d.addr + 16);
    expect(grantCode(() => driver.memory.physAddr({ regionId: d.regionId }, 4090, 32, 'w'))).toBe('GRANT');
  });

  it('answers NOMEM when no run of pages is large enough', () => {
    const k = new Kernel({ memorySizeBytes: 64 * 1024 });
    const owner = k.attach({ name: 'owner', calls: [] });
    expect(grantCode(() => owner.memory.alloc(1 << 20))).toBe('NOMEM');
  });
});
