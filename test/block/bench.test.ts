// The benchmark runs end to end in quick mode and reports every figure with its baseline
// (no timing is asserted: only that each row is a finite positive number).
import { describe, expect, it } from 'vitest';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { benchBlock } from '../../services/block/bench.ts';

describe('benchBlock', () => {
  it('reports reads, writes, commits and mount time against node:fs', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-'));
    try {
      const rows = await benchBlock({ imagePath: path.join(dir, 'bench.img'), quick: true });
      const names = rows.map((r) => r.name).join('\n');
      for (const what of [/rand read 4 KiB, 90% cache hits/, /seq write 1 MiB/, /commit 1-block/, /commit 8-block/, /commit 64-block/, /mount with a full journal/]) expect(names).toMatch(what);
      for (const r of rows) {
        expect(Number.isFinite(r.value) && r.value > 0, r.name).toBe(true);
        expect(r.baseline && Number.isFinite(r.baseline.value), r.name).toBe(true);
      }
      expect(rows.find((r) => r.name.includes('QD1') && r.name.includes('rand read'))!.note).toMatch(/hit rate (8\d|9\d)\./);
      expect(fs.existsSync(path.join(dir, 'bench.img'))).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
