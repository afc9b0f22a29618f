// LinkedSet against a plain array model: insertion order, O(1) delete anywhere, first().
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LinkedSet } from '../../services/block/linked-set.ts';

describe('LinkedSet', () => {
  it('agrees with an array model under random adds and deletes', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ add: fc.boolean(), key: fc.nat(30) }), { maxLength: 300 }), (ops) => {
        const set = new LinkedSet();
        let model: number[] = [];
        for (const op of ops) {
          if (op.add) {
            expect(set.add(op.key)).toBe(!model.includes(op.key));
            if (!model.includes(op.key)) model.push(op.key);
          } else {
            expect(set.delete(op.key)).toBe(model.includes(op.key));
            model = model.filter((k) => k !== op.key);
          }
          expect(set.size).toBe(model.length);
          expect(set.first()).toBe(model[0]);
        }
        expect([...set]).toEqual(model);
        for (const k of model) expect(set.has(k)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('lets the member just visited be deleted while iterating', () => {
    const set = new LinkedSet();
    for (let k = 0; k < 10; k++) set.add(k);
    const seen: number[] = [];
    for (const k of set) {
      seen.push(k);
      if (k % 2 === 0) set.delete(k);
    }
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...set]).toEqual([1, 3, 5, 7, 9]);
  });
});
