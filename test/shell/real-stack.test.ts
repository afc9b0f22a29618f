// The shell on the whole stack (driver, block, Axiom, content, fs from tools/system.ts):
// the crash demo end to end, dedup figures, the journal and cache commands, and the
// command line: `strata run` and `strata shell --script` on an image file, where a second
// boot finds everything the first one wrote.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImage } from '../../tools/cli/mkimage.ts';
import { openSession, runSession } from './harness.ts';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const ROOT = path.join(HERE, '../..');

describe('the shell on the whole stack', () => {
  it('crash.strata: synced data survives the power cut, Axiom recovers, fsck is clean', async () => {
    const { output, status } = await runSession(fs.readFileSync(path.join(ROOT, 'demos/crash.strata'), 'utf8'), { stack: 'real', name: 'crash.strata' });
    expect(status, output).toBe(0);
    const after = output.slice(output.indexOf('== after recovery'));
    expect(after).toContain('written, then synced\n');
    expect(after).toContain('written after the last sync\n');
    expect(output).toMatch(/recovery: block journal replayed \d+ transactions? \(\d+ blocks?\)/);
    expect(output).toMatch(/recovery: axiom at seq \d+ from checkpoint \d+: \d+ transactions? replayed, 0 uncommitted records discarded/);
    expect(after).toMatch(/^\s+\d+\s+\d+\s+FsWrite\s+[0-9a-f]{12}\s+ino=\d+/m);
    expect(after).toContain('fsck: clean');
  });

  it('the same bytes under two names are stored once (figures read after a reboot)', async () => {
    // The content store's running stats lag behind the fs's references until it remounts
    // (reported to services/content); after a reboot they are exact.
    const s = await openSession({ stack: 'real' });
    try {
      expect(await s.script('mkfile 4M /a.bin --seed 5\ncp /a.bin /b.bin\nreboot')).toBe(0);
      s.out.text = '';
      expect(await s.shell.runLine('df --json')).toBe(0);
      const df = JSON.parse(s.out.text);
      expect(df.dedup.logicalBytes).toBe(8 * 1024 * 1024);
      expect(df.dedup.storedBytes).toBe(4 * 1024 * 1024);
      expect(df.dedup.ratio).toBe(2);
    } finally {
      await s.close();
    }
  });

  it('journal, cache, log, ps and ipc describe the running layers', async () => {
    const s = await openSession({ stack: 'real' });
    try {
      expect(await s.script('write /x hello\nsync\njournal\ncache\nlog 3\nps\nipc')).toBe(0);
      const out = s.output();
      expect(out).toMatch(/^journal: \d+ of [\d,]+ blocks in use \([\d.]+%\), \d+ transactions? not yet checkpointed$/m);
      expect(out).toMatch(/^last mount: replayed 0 transactions \(0 blocks\), replay stopped at: .+; superblock: primary$/m);
      expect(out).toMatch(/^hits [\d,]+, misses [\d,]+: hit rate [\d.]+%/m);
      expect(out).toMatch(/^\s+\d+\s+\d+\s+Commit\s+[0-9a-f]{12}\s+recordCount=\d+$/m);
      for (const service of ['virtio-blk', 'block', 'axiom', 'content', 'fs']) expect(out).toMatch(new RegExp(`^${service}\\s+running\\s`, 'm'));
      expect(out).toMatch(/^fs\s+[\d,]+\s+[\d.]+ \w?i?B\s+\d+\s+0$/m); // errors: each create looked its name up first (ENOENT)
    } finally {
      await s.close();
    }
  });
});

describe('strata run and strata shell --script on an image file', () => {
  let dir: string;
  let image: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-cli-'));
    image = path.join(dir, 'test.img');
    await createImage(image, 64 * 1024 * 1024);
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const strata = (...args: string[]) => {
    // cwd is the project, where node resolves `--import tsx`; every path given is absolute
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(HERE, 'fixtures/cli.ts'), ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, STRATA_HISTORY: '' } });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it('a second boot of the image finds what the first one wrote; statuses follow the first failure', () => {
    const first = strata('run', image, '-c', 'mkdir /keep; write /keep/note.txt "still here"; ls /keep');
    expect(first).toMatchObject({ status: 0, stdout: 'note.txt\n' });

    fs.writeFileSync(path.join(dir, 'check.strata'), 'cat /keep/note.txt\ncat /missing\necho never\n');
    const second = strata('shell', image, '--script', path.join(dir, 'check.strata'));
    expect(second.status).toBe(1);
    expect(second.stdout).toContain('kernel: service fs up');
    expect(second.stdout).toContain('still here\n');
    expect(second.stdout).not.toContain('never');
    expect(second.stdout + second.stderr).toContain('check.strata:2: cat: /missing: No such file or directory (ENOENT)');
    expect(second.stdout).toContain('shutdown: filesystem synced, services stopped, disk flushed and closed');
  });

  it('usage errors: no commands, both forms, an unknown command (127)', () => {
    expect(strata('run', image).status).toBe(2);
    expect(strata('run', image, '-c', 'ls', '--script', 'x').status).toBe(2);
    const unknown = strata('run', image, '-c', 'frobnicate');
    expect(unknown.status).toBe(127);
    expect(unknown.stdout + unknown.stderr).toContain('-c:1: frobnicate: unknown command');
  });
});
