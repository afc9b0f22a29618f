// `strata guest` end to end: a script runs in the guest on a fresh image and its exit status
// is the command's; files it wrote are there on the next run (the image is the whole
// Strata stack); --snapshot-state boots once, saves, and later runs restore.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { guestCommand } from '../../tools/cli/guest.ts';
import { guestArtefacts } from './stack.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-guest-cli-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  const err = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void (stderr += a.join(' ') + '\n'));
  try {
    return { status: await guestCommand(args), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('strata guest', () => {
  it('runs a script in the guest, keeps its files on the image, and restores a saved state', async () => {
    await guestArtefacts();
    const image = path.join(dir, 'g.img');
    const script = (name: string, text: string) => {
      const p = path.join(dir, name);
      fs.writeFileSync(p, text);
      return p;
    };
    const first = await run([image, '--create', '--size', '256M', '--snapshot-state', '--disk', '16M', '--script', script('a.sh', 'cd /mnt/strata\nfor i in 1 2 3; do\n  echo "line $i" >> notes\ndone\nmkdir -p x/y && ln -s ../notes x/link\nexit 3\n')]);
    expect(first.stderr).toMatch(/Linux (booted, state saved|restored)/);
    expect(first.status).toBe(3);
    const second = await run([image, '--snapshot-state', '--disk', '16M', '--script', script('b.sh', 'cat /mnt/strata/notes\nreadlink /mnt/strata/x/link\ntest -b /dev/sda && echo disk\n')]);
    expect(second.stderr).toContain('Linux restored');
    expect(second.status).toBe(0);
    expect(second.stdout).toBe('line 1\nline 2\nline 3\n../notes\ndisk\n');
    const bad = await run([image, '--script', path.join(dir, 'missing.sh')]).catch((e: Error) => e.message);
    expect(bad).toMatch(/does not exist/);
  });
});
