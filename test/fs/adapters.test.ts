// AxiomMetaLog's split of a transaction with more chunk references than Axiom takes in one:
// increments first, the records, decrements last, each proposal within the limit, in order.
import { describe, expect, it } from 'vitest';
import { AxiomMetaLog } from '../../services/fs/adapters.ts';
import type { AxiomClient, RecordInput } from '../../axiom/protocol.ts';
import type { BlockClient } from '../../services/block/protocol.ts';
import type { ContentClient } from '../../services/content/protocol.ts';

function hash(i: number): Uint8Array {
  const h = new Uint8Array(32);
  new DataView(h.buffer).setUint32(0, i);
  return h;
}

describe('AxiomMetaLog', () => {
  it('splits a transaction of 5,000 references: ups, then the records, then downs', async () => {
    const proposals: RecordInput[][] = [];
    let nextSeq = 1;
    const axiom = {
      propose: async (input: RecordInput[]) => {
        proposals.push(input);
        const firstSeq = nextSeq;
        nextSeq += input.length + 1; // the records, then their Commit
        return { txid: firstSeq, firstSeq, commitSeq: nextSeq - 1 };
      },
    } as unknown as AxiomClient;
    const log = new AxiomMetaLog(axiom, {} as BlockClient, {} as ContentClient);
    const deltas = [...Array.from({ length: 3000 }, (_, i) => ({ hash: hash(i), delta: -1 })), ...Array.from({ length: 2000 }, (_, i) => ({ hash: hash(10_000 + i), delta: +1 }))];
    const seq = await log.commit([{ type: 'FsRestore', payload: { name: 's', t: [1, 0] } }], deltas);
    expect(proposals.map((p) => p.length)).toEqual([2000, 1, 2048, 952]);
    expect(seq).toBe(2002); // the records' proposal, after the 2,000 increments and their Commit
    expect(proposals[1][0].type).toBe('FsRestore');
    expect(proposals[0].every((r) => (r.payload as { delta: number }).delta === 1)).toBe(true);
    expect(proposals.slice(2).flat().every((r) => (r.payload as { delta: number }).delta === -1)).toBe(true);
    proposals.length = 0;
    const seq2 = await log.commit([{ type: 'FsFree', payload: { ino: 5 } }], deltas.slice(0, 10));
    expect(proposals.map((p) => p.length)).toEqual([11]); // small ones stay one transaction
    expect(seq2).toBe(nextSeq - 12);
  });
});
