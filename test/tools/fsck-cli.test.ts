// strata fsck on image files: exit codes 0 / 4 / 1 / 0 across a damage, a check, a repair
// and a second check; --json is the report; a missing image or a file that is not a
// Strata image is exit 8 with one line on stderr, never a stack trace.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createImage } from '../../tools/cli/mkimage.ts';
import { fsckCommand, fsckHelp } from '../../tools/cli/fsck.ts';
import { UsageError } from '../../tools/cli/args.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-fsck-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let out: string[] = [];
let err: string[] = [];
beforeEach(() => {
  out = [];
  err = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
});
afterEach(() => vi.restoreAllMocks());

describe('strata fsck (command)', () => {
  it('checks, reports a damaged spare, repairs it, and is clean after', async () => {
    const image = path.join(dir, 'a.img');
    await createImage(image, 16 * 1024 * 1024);
    expect(await fsckCommand([image])).toBe(0);
    expect(out.join('\n')).toMatch(/0 problem\(s\): clean \(exit 0\)/);
    const fd = fs.openSync(image, 'r+');
    fs.writeSync(fd, Buffer.from([0xaa]), 0, 1, 16 * 1024 * 1024 - 4096 + 60);
    fs.closeSync(fd);
    const before = fs.readFileSync(image);
    out = [];
    expect(await fsckCommand([image, '--json'])).toBe(4);
    const report = JSON.parse(out.join('\n')) as { problems: { area: string; kind: string; repaired: boolean }[]; exitCode: number };
    expect(report.problems.map((p) => `${p.area}/${p.kind}`)).toEqual(['superblock/spare-stale']);
    expect(report.exitCode).toBe(4);
    expect(fs.readFileSync(image).equals(before)).toBe(true); // a check writes nothing
    out = [];
    expect(await fsckCommand([image, '--repair'])).toBe(1);
    expect(out.join('\n')).toMatch(/REPAIRED/);
    expect(out.join('\n')).toMatch(/repair: spare superblock rewritten from the primary/);
    expect(await fsckCommand([image])).toBe(0);
  });

  it('is exit 8 with one line for a missing image and for a file that is not a Strata image', async () => {
    expect(await fsckCommand([path.join(dir, 'missing.img')])).toBe(8);
    expect(err).toEqual([expect.stringMatching(/missing\.img: no such image$/)]);
    const junk = path.join(dir, 'junk.img');
    fs.writeFileSync(junk, Buffer.alloc(16 * 1024 * 1024, 0x41));
    err = [];
    expect(await fsckCommand([junk])).toBe(8);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/not a Strata image/);
    expect(err[0]).not.toMatch(/\n\s+at /);
  });

  it('has help and refuses a wrong usage', async () => {
    expect(await fsckCommand(['--help'])).toBe(0);
    expect(out[0]).toBe(fsckHelp);
    expect(fsckHelp).toMatch(/0 clean, 1 errors corrected, 4 errors left uncorrected/);
    await expect(fsckCommand([])).rejects.toThrow(UsageError);
    await expect(fsckCommand(['a', 'b'])).rejects.toThrow(UsageError);
    await expect(fsckCommand(['a', '--fix'])).rejects.toThrow(/unknown option --fix/);
  });
});
