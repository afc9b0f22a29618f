// Output details: the progress bar (a terminal only, large transfers only), trace on|off,
// help generated from the table (golden), and runShell's handling of a signal during a
// script (the command stops, the script stops with 130, the system still shuts down
// cleanly and says so).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runShell } from '../../tools/shell/index.ts';
import { Capture, expectGolden, openSession } from './harness.ts';
import { startTestHost } from './system.ts';

describe('shell output', () => {
  it('put and mkfile draw a progress bar on a terminal for large files, and nothing otherwise', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-io-'));
    const hostFile = path.join(dir, 'big.bin');
    fs.writeFileSync(hostFile, Buffer.alloc(6 * 1024 * 1024, 7));
    const s = await openSession({ hostCwd: dir });
    try {
      s.out.isTTY = true;
      expect(await s.shell.runLine('put big.bin /big.bin')).toBe(0);
      const drawn = s.out.text;
      expect(drawn).toMatch(/\rput \/big\.bin \[#{5}\.{25}\] {2}16% 1\.0 MiB \/ 6\.0 MiB/);
      expect(drawn).toMatch(/\rput \/big\.bin \[#{30}\] 100% 6\.0 MiB \/ 6\.0 MiB/);
      expect(drawn).toMatch(/\r\x1b\[Kput \/big\.bin: 6\.0 MiB \(6,291,456 bytes\)\n$/);
      s.out.text = '';
      expect(await s.shell.runLine('mkfile 64K /small.bin')).toBe(0);
      expect(s.out.text).toBe('mkfile /small.bin: 64 KiB (65,536 bytes, seed 1)\n');
      s.out.isTTY = false;
      s.out.text = '';
      expect(await s.shell.runLine('get /big.bin copy.bin')).toBe(0);
      expect(s.out.text).toBe('get /big.bin: 6.0 MiB (6,291,456 bytes)\n');
      expect(Buffer.compare(fs.readFileSync(path.join(dir, 'copy.bin')), fs.readFileSync(hostFile))).toBe(0);
      expect(await s.shell.runLine('get /big.bin copy.bin')).toBe(1); // no silent overwrite
      expect(s.out.text).toContain('(use -f to replace it)');
      expect(await s.shell.runLine('get -f /big.bin copy.bin')).toBe(0);
    } finally {
      await s.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('trace on prints each message as it happens; trace off stops it', async () => {
    const s = await openSession({ axiom: false });
    try {
      expect(await s.script('trace on\nwrite /a x\ntrace off\nwrite /b y\ntrace')).toBe(0);
      const lines = s.output().split('\n');
      const traced = lines.filter((l) => l.startsWith('trace '));
      expect(traced.length).toBeGreaterThan(0);
      expect(traced.some((l) => /call\s+user -> fs create#\d+/.test(l))).toBe(true);
      expect(traced.some((l) => /reply\s+fs-model -> user write#\d+/.test(l))).toBe(true);
      // /a's create is traced, /b's (after trace off) is not
      expect(traced.filter((l) => /call\s+user -> fs create#/.test(l))).toHaveLength(1);
      expect(lines.at(-2)).toBe('trace is off');
      expect(s.shell.host.system.kernel.trace.enabled).toBe(false);
    } finally {
      await s.close();
    }
  });

  it('help and help CMD come from the command table', async () => {
    const s = await openSession();
    try {
      expect(await s.script('help\nhelp ls\nhelp snap\nhelp snap diff\nhelp crash')).toBe(0);
      expectGolden('help.out', s.output());
    } finally {
      await s.close();
    }
  });

  it('a signal during a script stops the command and the script (130); the shutdown is still clean', async () => {
    const { host } = await startTestHost();
    const out = new Capture();
    const running = runShell(host, { script: 'mkfile 256M /huge.bin\necho never', output: out as unknown as NodeJS.WritableStream & Capture, signals: true });
    // wait until mkfile has made the file (it is then writing chunks), then "press Ctrl-C"
    for (let i = 0; i < 100_000 && (await host.backends.fs!.resolve('/huge.bin').then(() => false, () => true)); i++) await new Promise((r) => setImmediate(r));
    process.emit('SIGINT');
    expect(await running).toBe(130);
    expect(out.text).toBe('script:1: mkfile: interrupted\nshutdown: filesystem synced, services stopped, disk flushed and closed\n');
    expect(host.running).toBe(false);
    expect(process.listenerCount('SIGINT')).toBe(0);
  });
});
