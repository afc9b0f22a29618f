// The isolation benchmark's whole-stack rows (tools/bench/isolation.ts) on a small file:
// one row per mode for write + fsync and for read, each beside the raw node:fs figure of
// the same run, the isolated row noting its ratio to the deterministic one. Shape only:
// tests never judge speed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IsolatedKernel } from '../../kernel/isolated/isolated-kernel.ts';
import { benchIsolationFiles } from '../../tools/bench/isolation.ts';

afterEach(() => IsolatedKernel.shutdownAll());

describe('isolation bench: file rows', () => {
  it('gives write + fsync and read rows for both modes against the raw baseline, and cleans up', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-isolation-bench-'));
    try {
      const rows = await benchIsolationFiles({ dir, quick: true, sizeMiB: 8 });
      expect(rows.map((r) => r.name)).toEqual([
        'file seq write 8 MiB + fsync, deterministic',
        'file seq write 8 MiB + fsync, isolated',
        'file seq read 8 MiB, deterministic',
        'file seq read 8 MiB, isolated',
      ]);
      for (const r of rows) {
        expect(r.group).toBe('isolation');
        expect(r.unit).toBe('MB/s');
        expect(r.value).toBeGreaterThan(0);
        expect(r.baseline!.value).toBeGreaterThan(0);
      }
      expect(rows[0].baseline).toEqual(rows[1].baseline); // one raw figure for both modes
      expect(rows[1].note).toMatch(/^\d+\.\d\dx the deterministic kernel$/);
      expect(fs.readdirSync(dir)).toEqual([]);
      await expect(benchIsolationFiles({ dir, quick: true, sizeMiB: 0 })).rejects.toThrow(/sizeMiB/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
