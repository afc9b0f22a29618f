/**
 * Moving bytes across the machine's edge, and making big files:
 *   put HOSTFILE [PATH]   host -> Strata, TRANSFER_CHUNK_BYTES per fs write message
 *   get PATH [HOSTFILE]   Strata -> host (refuses to replace a host file without -f)
 *   mkfile SIZE PATH      a file of seeded pseudo-random bytes (or zeros), made in Strata
 * Large transfers show a progress bar on a terminal. Host paths are relative to the host
 * working directory; in scripts, $TMP is a scratch directory removed at shutdown.
 * A transfer stops at Ctrl-C between chunks, leaving what was written so far.
 */
import nodeFs from 'node:fs';
import nodePath from 'node:path';
import { Random } from '../../../kernel/random.ts';
import type { CommandSpec } from '../command.ts';
import { parseCount, parseSizeBytes } from '../command.ts';
import { CommandError, ShellUsageError } from '../errors.ts';
import { count, humanBytes } from '../format.ts';
import { openForWrite, readChunks, stat, statOrNull, writeAll } from '../fsops.ts';
import { basename, join } from '../paths.ts';
import { MKFILE_SIZE_BYTES_MAX, TRANSFER_CHUNK_BYTES } from '../limits.ts';

function hostError(e: unknown, path: string): CommandError {
  const err = e as NodeJS.ErrnoException;
  const code = typeof err?.code === 'string' ? err.code : 'EIO';
  const words: Record<string, string> = { ENOENT: 'No such file or directory', EISDIR: 'Is a directory', EACCES: 'Permission denied', EEXIST: 'File exists (use -f to replace it)', ENOTDIR: 'Not a directory', ENOSPC: 'No space left on device' };
  return new CommandError(`host ${path}: ${words[code] ?? err?.message ?? String(e)} (${code})`, 1, code);
}

const put: CommandSpec = {
  name: 'put',
  group: 'files',
  usage: 'HOSTFILE [PATH]',
  summary: 'copy a file from the host into Strata (into PATH if it is a directory)',
  operands: [1, 2],
  complete: ['host', 'path'],
  async run(ctx, p) {
    const fs = ctx.fs();
    const hostFile = ctx.shell.hostPath(p.args[0]);
    let fd: number;
    let sizeBytes: number;
    try {
      fd = nodeFs.openSync(hostFile, 'r');
      const st = nodeFs.fstatSync(fd);
      if (st.isDirectory()) {
        nodeFs.closeSync(fd);
        throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      }
      sizeBytes = st.size;
    } catch (e) {
      throw hostError(e, p.args[0]);
    }
    try {
      let to = ctx.path(p.args[1] ?? basename(hostFile));
      const existing = await statOrNull(fs, to);
      if (existing?.type === 'dir') to = join(to, basename(hostFile));
      const t = await openForWrite(fs, to, { truncate: true });
      const bar = ctx.progress(`put ${to}`, sizeBytes);
      const buffer = new Uint8Array(TRANSFER_CHUNK_BYTES);
      let doneBytes = 0;
      try {
        for (;;) {
          await ctx.checkInterrupted();
          let n: number;
          try {
            n = nodeFs.readSync(fd, buffer, 0, buffer.length, doneBytes);
          } catch (e) {
            throw hostError(e, p.args[0]);
          }
          if (n === 0) break;
          doneBytes = await writeAll(fs, to, t.handle, doneBytes, buffer.subarray(0, n));
          bar.update(doneBytes);
        }
      } finally {
        bar.finish();
        await fs.close(t.handle).catch(() => {});
      }
      ctx.print(`put ${to}: ${humanBytes(doneBytes)} (${count(doneBytes)} bytes)`);
    } finally {
      nodeFs.closeSync(fd);
    }
  },
};

const get: CommandSpec = {
  name: 'get',
  group: 'files',
  usage: '[-f] PATH [HOSTFILE]',
  summary: 'copy a file out of Strata to the host',
  flags: { force: { short: 'f', help: 'replace HOSTFILE if it exists' } },
  operands: [1, 2],
  complete: ['path', 'host'],
  async run(ctx, p) {
    const fs = ctx.fs();
    const from = ctx.path(p.args[0]);
    const attr = await stat(fs, from);
    let hostFile = ctx.shell.hostPath(p.args[1] ?? basename(from));
    try {
      if (nodeFs.statSync(hostFile, { throwIfNoEntry: false })?.isDirectory()) hostFile = nodePath.join(hostFile, basename(from));
    } catch (e) {
      throw hostError(e, hostFile);
    }
    let fd: number;
    try {
      fd = nodeFs.openSync(hostFile, p.has('force') ? 'w' : 'wx');
    } catch (e) {
      throw hostError(e, hostFile);
    }
    const bar = ctx.progress(`get ${from}`, attr.sizeBytes);
    let doneBytes = 0;
    try {
      doneBytes = await readChunks(fs, from, attr, async (data, done) => {
        await ctx.checkInterrupted();
        try {
          nodeFs.writeSync(fd, data, 0, data.length, done - data.length);
        } catch (e) {
          throw hostError(e, hostFile);
        }
        bar.update(done);
      });
    } finally {
      bar.finish();
      nodeFs.closeSync(fd);
    }
    ctx.print(`get ${from}: ${humanBytes(doneBytes)} (${count(doneBytes)} bytes)`);
  },
};

const mkfile: CommandSpec = {
  name: 'mkfile',
  group: 'files',
  usage: '[--seed N] [--zero] SIZE PATH',
  summary: 'make a file of SIZE seeded pseudo-random bytes (the same seed, the same bytes)',
  details: ['SIZE: 4096, 64K, 1.5M, 2G. Two files made with one seed are identical: a dedup test.'],
  flags: { seed: { value: 'N', help: 'seed of the bytes (default 1)' }, zero: { help: 'zeros instead of random bytes' } },
  operands: [2, 2],
  complete: ['none', 'path'],
  async run(ctx, p) {
    const sizeBytes = parseSizeBytes(p.args[0]);
    if (sizeBytes > MKFILE_SIZE_BYTES_MAX) throw new ShellUsageError(`size must be at most ${humanBytes(MKFILE_SIZE_BYTES_MAX)}`);
    const seed = parseCount(p.value('seed') ?? '1', 'seed', 2 ** 32 - 1);
    const fs = ctx.fs();
    const to = ctx.path(p.args[1]);
    const t = await openForWrite(fs, to, { truncate: true });
    const random = new Random(seed);
    const chunk = new Uint8Array(TRANSFER_CHUNK_BYTES);
    const bar = ctx.progress(`mkfile ${to}`, sizeBytes);
    let doneBytes = 0;
    try {
      while (doneBytes < sizeBytes) {
        await ctx.checkInterrupted();
        const piece = chunk.subarray(0, Math.min(chunk.length, sizeBytes - doneBytes));
        if (!p.has('zero')) random.fill(piece);
        doneBytes = await writeAll(fs, to, t.handle, doneBytes, piece);
        bar.update(doneBytes);
      }
    } finally {
      bar.finish();
      await fs.close(t.handle).catch(() => {});
    }
    ctx.print(`mkfile ${to}: ${humanBytes(sizeBytes)} (${count(sizeBytes)} bytes${p.has('zero') ? ', zeros' : `, seed ${seed}`})`);
  },
};

export const fileHostCommands: CommandSpec[] = [put, get, mkfile];
