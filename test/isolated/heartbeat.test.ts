// A service spinning in a loop beside the whole isolated stack: its heartbeat stops, the
// kernel reports the miss (supervision event, kernel log, the shell's ps and dmesg), and
// the filesystem keeps serving writes and reads meanwhile, each service in its own
// thread. When the loop ends the heartbeat is back and ps says so.
import { afterEach, describe, expect, it } from 'vitest';
import { IsolatedKernel } from '../../kernel/isolated/isolated-kernel.ts';
import { MemoryBackend } from '../../kernel/machine/disk/memory.ts';
import { ROOT_INO } from '../../services/fs/protocol.ts';
import { bootIsolatedSystem, type IsolatedStackSystem } from '../../tools/system-isolated.ts';
import { SHELL_ENDPOINTS } from '../../tools/shell/backends.ts';
import { ShellHost } from '../../tools/shell/host.ts';
import { Shell } from '../../tools/shell/shell.ts';
import { Capture } from '../shell/harness.ts';
import { formatTestDisk, MiB, patterned, TEST_EPOCH_MS } from '../helpers/stack.ts';
import { fixture, until } from './helpers.ts';

afterEach(() => IsolatedKernel.shutdownAll());

describe('heartbeats in the isolated stack', () => {
  it('a spinning service is reported (event, dmesg, ps) while the filesystem keeps working', async () => {
    const disk = await formatTestDisk(new MemoryBackend(64 * MiB));
    let sys: IsolatedStackSystem | undefined;
    const host = await ShellHost.start({
      disk,
      boot: async (d, log) => {
        sys = await bootIsolatedSystem({ disk: d, memorySizeBytes: 128 * MiB, epochMs: TEST_EPOCH_MS, log, userCalls: SHELL_ENDPOINTS, hangRestartMs: 0 });
        await sys.isolated.spawn(fixture('echoService', 'spinner'));
        return sys;
      },
    });
    const out = new Capture();
    const shell = new Shell(host, { output: out });
    const app = sys!.isolated.attach({ name: 'app', calls: ['spinner'] });
    const missed = sys!.isolated.nextEvent('heartbeat-missed', 'spinner');
    let spinDone = false;
    const spin = app.call('spinner', 'spin', { ms: 5_000 }).then((r) => ((spinDone = true), r));

    // While it spins, the filesystem writes, commits and reads file after file.
    const fs = sys!.fs!;
    let files = 0;
    while (!spinDone && files < 200) {
      const data = patterned(64 * 1024 + files, files);
      const { handle } = await fs.create(ROOT_INO, `f${files}`, 0o644);
      await fs.write(handle, 0, data);
      await fs.close(handle);
      const { ino } = await fs.lookup(ROOT_INO, `f${files}`);
      const r = await fs.open(ino, { read: true });
      expect(Buffer.compare(await fs.read(r.handle, 0, data.length), data)).toBe(0);
      await fs.close(r.handle);
      files++;
      if (sys!.ps().find((s) => s.name === 'spinner')!.heartbeat === 'missed') break;
    }
    expect(spinDone).toBe(false);
    expect((await missed).detail).toMatch(/no heartbeat for \d+ ms/);
    expect(files).toBeGreaterThan(0);

    expect(await shell.runLine('ps')).toBe(0);
    expect(out.text).toMatch(/^spinner\s+running\s.*\smissed$/m);
    expect(out.text).toMatch(/^fs\s+running\s.*\sok$/m);
    expect(await shell.runLine('dmesg 50')).toBe(0);
    expect(out.text).toMatch(/kernel: supervisor: spinner heartbeat-missed: no heartbeat for \d+ ms/);

    expect(await spin).toBe('spun');
    await until(() => sys!.ps().find((s) => s.name === 'spinner')!.heartbeat === 'ok', 30_000, 'the heartbeat to come back');
    expect(sys!.ps().find((s) => s.name === 'spinner')!.restarts).toBe(0); // reported, not restarted (hangRestartMs 0)
    await shell.shutdown();
  });
});
