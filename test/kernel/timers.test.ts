// The timer heap against a sorted-list model: order by (deadline, id), cancellation, owners.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TimerHeap } from '../../kernel/timers.ts';

describe('TimerHeap', () => {
  it('fires live timers in (deadline, id) order, whatever is cancelled', () => {
    const action = fc.oneof(
      fc.record({ kind: fc.constant('push' as const), deadlineMs: fc.nat(1000), owner: fc.constantFrom('a', 'b') }),
      fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('cancelOwner' as const), owner: fc.constantFrom('a', 'b') }),
      fc.record({ kind: fc.constant('pop' as const), nowMs: fc.nat(1000) }),
    );
    fc.assert(
      fc.property(fc.array(action, { maxLength: 300 }), (actions) => {
        const heap = new TimerHeap();
        let model: { timerId: number; deadlineMs: number; owner: string }[] = [];
        let nextId = 0;
        for (const a of actions) {
          if (a.kind === 'push') {
            const e = { timerId: ++nextId, deadlineMs: a.deadlineMs, owner: a.owner, fire: () => {} };
            heap.push(e);
            model.push(e);
          } else if (a.kind === 'cancel') {
            if (nextId === 0) continue;
            const id = (a.pick % nextId) + 1;
            heap.cancel(id);
            model = model.filter((e) => e.timerId !== id);
          } else if (a.kind === 'cancelOwner') {
            heap.cancelOwner(a.owner);
            model = model.filter((e) => e.owner !== a.owner);
          } else {
            model.sort((x, y) => x.deadlineMs - y.deadlineMs || x.timerId - y.timerId);
            const due = model.filter((e) => e.deadlineMs <= a.nowMs).map((e) => e.timerId);
            const got: number[] = [];
            for (let t = heap.popDue(a.nowMs); t; t = heap.popDue(a.nowMs)) got.push(t.timerId);
            expect(got).toEqual(due);
            model = model.filter((e) => e.deadlineMs > a.nowMs);
          }
          expect(heap.size).toBe(model.length);
        }
      }),
      { numRuns: 300 },
    );
  });
});
