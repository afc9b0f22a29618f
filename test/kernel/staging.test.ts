// Staging slots (kernel/staging.ts): a slot serves one call at a time, callers wait when all
// are busy, a slot comes back however its call ends, idle() waits for every slot, and a
// region too small for its slots is refused.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { StagingSlots } from '../../kernel/staging.ts';

const region = { regionId: 1, addr: 4096, sizeBytes: 4096 };

describe('StagingSlots', () => {
  it('never hands one slot to two calls at once, and every call gets one', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 30 }), async (slotCount, delays) => {
        const slotBytes = 16;
        const view = new Uint8Array(slotBytes * slotCount);
        const slots = new StagingSlots(region, view, 7, slotBytes, slotCount);
        const busy = new Set<number>();
        let most = 0;
        const offsets = await Promise.all(
          delays.map((turns, i) =>
            slots.use(async (at, slot) => {
              expect(busy.has(at)).toBe(false);
              busy.add(at);
              most = Math.max(most, busy.size);
              expect(slot.length).toBe(slotBytes);
              slot.fill(i & 0xff);
              for (let t = 0; t < turns; t++) await Promise.resolve();
              expect(slot.every((b) => b === (i & 0xff))).toBe(true); // nobody else wrote it meanwhile
              busy.delete(at);
              return at;
            }),
          ),
        );
        expect(offsets.every((at) => at % slotBytes === 0 && at < slotBytes * slotCount)).toBe(true);
        expect(most).toBeLessThanOrEqual(slotCount);
        await slots.idle();
      }),
    );
  });

  it('gives the slot back when the call throws, and idle() waits for calls in flight', async () => {
    const slots = new StagingSlots(region, new Uint8Array(8), 1, 8, 1);
    await expect(slots.use(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    let release!: () => void;
    const held = slots.use(() => new Promise<void>((r) => (release = r)));
    let idle = false;
    const waiting = slots.idle().then(() => (idle = true));
    await Promise.resolve();
    await Promise.resolve();
    expect(idle).toBe(false);
    release();
    await held;
    await waiting;
    expect(idle).toBe(true);
  });

  it('refuses a view too small for its slots, and nonsense sizes', () => {
    expect(() => new StagingSlots(region, new Uint8Array(31), 1, 16, 2)).toThrow(RangeError);
    expect(() => new StagingSlots(region, new Uint8Array(32), 1, 0, 2)).toThrow(RangeError);
    expect(() => new StagingSlots(region, new Uint8Array(32), 1, 16, 0)).toThrow(RangeError);
  });
});
