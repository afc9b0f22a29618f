// The benchmark runs end to end on tiny sizes and returns well-formed rows (no timing
// assertions: benchmarks measure, tests check behaviour), and calls the baseline hook
// with the same work as each file-backed commit row.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decode } from '../../kernel/codec.ts';
import { benchAxiom, formatBenchTable, type BaselineWork } from '../../axiom/bench.ts';

describe('benchAxiom', () => {
  it('produces commit and recovery rows, with the baseline hook attached', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'axiom-bench-'));
    const seen: BaselineWork[] = [];
    const rows = await benchAxiom({
      quick: true,
      dir,
      sizes: { commitTransactions: 300, recoveryRecords: 5_000 },
      baseline: async (work) => {
        seen.push(work);
        return { name: 'sqlite (stub)', value: 1 };
      },
    });
    expect(rows.map((r) => r.unit)).toEqual(['txn/s', 'txn/s', 'txn/s', 'txn/s', 'txn/s', 'txn/s', 'ms', 'ms']);
    for (const r of rows) expect(Number.isFinite(r.value) && r.value >= 0).toBe(true);
    expect(rows.filter((r) => r.baseline).length).toBe(3);
    expect(seen.map((w) => w.proposers)).toEqual([1, 16, 256]);
    expect(decode(seen[0].payloadFor(3))).toMatchObject({ ino: 1003 });
    expect(formatBenchTable(rows).split('\n')).toHaveLength(8);
    expect(fs.readdirSync(dir)).toEqual([]); // images removed
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
