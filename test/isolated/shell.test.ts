// The shell in the isolated mode: `ps` names every service with its thread, restarts and
// heartbeat; `kill SERVICE` ends one mid-work and shows it back. Two shells on one host
// (two terminals on one machine): one puts a 24 MiB host file while the other kills
// virtio-blk; the put completes and `get` returns the file byte for byte. `crash` (a
// power cut) abandons the old workers and recovers. And `strata run --isolated` itself.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { IsolatedKernel } from '../../kernel/isolated/isolated-kernel.ts';
import { FileBackend } from '../../kernel/machine/disk/file.ts';
import { createImage } from '../../tools/cli/mkimage.ts';
import { isolatedShellBoot } from '../../tools/cli/boot.ts';
import { ShellHost } from '../../tools/shell/host.ts';
import { Shell } from '../../tools/shell/shell.ts';
import { Capture } from '../shell/harness.ts';
import { MiB, patterned } from '../helpers/stack.ts';
import { until } from './helpers.ts';

const ROOT = path.join(path.dirname(new URL(import.meta.url).pathname), '../..');
let dir = '';

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-isolated-shell-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
afterEach(() => IsolatedKernel.shutdownAll());

async function openHost(name: string): Promise<ShellHost> {
  const image = path.join(dir, name);
  await createImage(image, 256 * MiB);
  return ShellHost.start({ disk: FileBackend.open(image), imagePath: image, boot: isolatedShellBoot(1) });
}

function row(text: string, service: string): string[] {
  const line = text.split('\n').reverse().find((l) => l.startsWith(`${service} `));
  return line ? line.trim().split(/\s+/) : [];
}

describe('the shell in the isolated mode', () => {
  it('kill virtio-blk during a large put from another shell: the put completes, get is byte-exact, ps counts the restart', async () => {
    const host = await openHost('kill.img');
    const input = path.join(dir, 'input.bin');
    const data = patterned(24 * MiB + 123, 8);
    fs.writeFileSync(input, data);
    const outA = new Capture();
    const outB = new Capture();
    const a = new Shell(host, { output: outA, hostCwd: dir });
    const b = new Shell(host, { output: outB, hostCwd: dir });
    expect(await b.runLine('ps')).toBe(0);
    for (const service of ['virtio-blk', 'block', 'axiom', 'content', 'fs']) expect(row(outB.text, service).slice(0, 2)).toEqual([service, 'running']);
    expect(outB.text).toMatch(/THREAD\s+HEARTBEAT/);

    const driverHandled = () => host.system.ps!().find((s) => s.name === 'virtio-blk')!.handled;
    const before = driverHandled();
    let putDone = false;
    const put = a.runLine('put input.bin /big').then((status) => ((putDone = true), status));
    await until(() => driverHandled() >= before + 10 || putDone, 60_000, 'the put to reach the driver');
    expect(putDone).toBe(false); // the kill lands while the put is writing
    expect(await b.runLine('kill virtio-blk')).toBe(0);
    expect(outB.text).toMatch(/^kill: virtio-blk killed and restarted in \d+ ms/m);
    expect(await put).toBe(0);
    expect(outA.text).toContain('put /big: 24 MiB');

    outB.text = '';
    expect(await b.runLine('ps')).toBe(0);
    expect(row(outB.text, 'virtio-blk')[7]).toBe('1'); // RESTARTS
    expect(row(outB.text, 'block')[7]).toBe('0');
    expect(await a.runLine('get /big output.bin')).toBe(0);
    expect(Buffer.compare(fs.readFileSync(path.join(dir, 'output.bin')), data)).toBe(0);
    await a.shutdown();
  });

  it('kill of an unknown service is a clear error; crash abandons the old workers and recovers', async () => {
    const host = await openHost('crash.img');
    const out = new Capture();
    const shell = new Shell(host, { output: out });
    expect(await shell.runLine('kill nosuch')).toBe(1);
    expect(out.text).toMatch(/no service 'nosuch' \(services: virtio-blk, block, axiom, content, fs\)/);
    expect(await shell.runScript('write /kept hello\nsync\ncrash --lose-unflushed\ncat /kept', 'crash.strata')).toBe(0);
    expect(out.text).toContain('recovery: axiom at seq');
    expect(out.text).toMatch(/hello\n$/);
    expect(IsolatedKernel.live.size).toBe(1); // the crashed system's workers are gone
    await shell.shutdown();
    expect(IsolatedKernel.live.size).toBe(0);
  });

  it('strata run --isolated: kill and ps from the command line; the deterministic run says kill needs --isolated', () => {
    const image = path.join(dir, 'cli.img');
    const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'tools/strata.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(cli('mkimage', image, '--size', '64M').status).toBe(0);
    const r = cli('run', '--isolated', image, '-c', 'write /f abc; kill block; ps; cat /f');
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^kill: block killed and restarted in \d+ ms/m);
    expect(r.stdout).toMatch(/^block\s+running\s.*\s1\s+0\s+\d+\s+ok$/m);
    expect(r.stdout).toMatch(/abc\n$/);
    const d = cli('run', image, '-c', 'kill block');
    expect(d.status).toBe(3);
    expect(d.stdout + d.stderr).toContain('not available yet (needs the isolated mode');
  });
});
