/**
 * System commands: ps, kill (isolated mode), ipc, dmesg, trace (the kernel's view, always there), log (Axiom's
 * tail), journal and cache (services/block), sync, gc, fsck, and crash and reboot (the
 * host's power, see host.ts). Each layer's command says "not available yet" until that
 * layer runs; the kernel's never do.
 */
import type { CrashMode } from '../power.ts';
import type { BootReport } from '../host.ts';
import type { CommandContext, CommandSpec } from '../command.ts';
import { parseCount } from '../command.ts';
import { need } from '../backends.ts';
import { CommandError, explain, NotAvailableError, ShellUsageError, STATUS_FAILED, STATUS_OK } from '../errors.ts';
import { count, countOf, formatTable, humanBytes, percent } from '../format.ts';
import { LOG_TAIL_DEFAULT, LOG_TAIL_MAX } from '../limits.ts';
import { logCommand } from './log.ts';

/** e2fsck's exit status for "errors left uncorrected". */
export const FSCK_STATUS_ERRORS_LEFT = 4;

/** Runs a backend call; its error is explained about `subject` (none: the command is the subject). */
async function call<T>(subject: string | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw explain(e, subject);
  }
}

const ps: CommandSpec = {
  name: 'ps',
  group: 'system',
  usage: '',
  summary: 'services: state, endpoints, messages handled, waiting calls, restarts',
  async run(ctx) {
    const system = ctx.shell.host.system;
    const isolated = system.ps !== undefined;
    const rows = [['SERVICE', 'STATE', 'PROVIDES', 'CALLS', 'HANDLED', 'WAITING', 'QUEUED', 'RESTARTS', 'ERRORS', ...(isolated ? ['THREAD', 'HEARTBEAT'] : [])]];
    for (const s of system.ps?.() ?? system.kernel.serviceStats()) {
      const row = [s.name, s.state, s.provides.join(',') || '-', [...new Set(s.calls)].join(',') || '-', count(s.handled), String(s.pendingCalls), String(s.mailboxDepth), s.restarts === undefined ? '-' : String(s.restarts), String(s.internalErrors)];
      if (isolated) row.push(s.threadId ? String(s.threadId) : 'main', s.heartbeat ?? '-');
      rows.push(row);
    }
    const align: ('left' | 'right')[] = ['left', 'left', 'left', 'left', 'right', 'right', 'right', 'right', 'right', ...(isolated ? (['right', 'left'] as const) : [])];
    for (const line of formatTable(rows, align)) ctx.print(line);
  },
};

const kill: CommandSpec = {
  name: 'kill',
  group: 'system',
  usage: 'SERVICE',
  summary: 'end a service at once (isolated mode): the kernel restarts it from its manifest',
  details: [
    'The service\'s worker thread is terminated mid-work, as a crash would end it. The',
    'supervisor resets the devices it drove, fails its callers\' requests in flight with',
    'STOPPED (the block service re-issues its requests to virtio-blk), and starts it again.',
    "`ps` names the services and counts restarts. Needs 'strata boot --isolated'.",
  ],
  operands: [1, 1],
  complete: ['none'],
  async run(ctx, p) {
    const system = ctx.shell.host.system;
    if (!system.kill) throw new NotAvailableError("the isolated mode: 'strata boot --isolated'");
    const name = p.args[0];
    const names = (system.ps?.() ?? system.kernel.serviceStats()).filter((s) => s.threadId !== 0).map((s) => s.name);
    if (!names.includes(name)) throw new CommandError(`kill: no service '${name}' (services: ${names.join(', ')})`);
    const t0 = performance.now();
    const r = await system.kill(name);
    const ms = Math.round(performance.now() - t0);
    ctx.print(`kill: ${name} ${r.kind === 'restarted' ? `killed and restarted in ${ms} ms` : r.kind}${r.detail ? ` (${r.detail})` : ''}`);
    return r.kind === 'restarted' || r.kind === 'killed' ? STATUS_OK : STATUS_FAILED;
  },
};

const ipc: CommandSpec = {
  name: 'ipc',
  group: 'system',
  usage: '',
  summary: 'message statistics per endpoint since boot',
  async run(ctx) {
    const counters = [...ctx.shell.host.system.kernel.endpointCounters()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const rows = [['ENDPOINT', 'MESSAGES', 'BYTES', 'ERRORS', 'REFUSED']];
    for (const [endpoint, c] of counters) rows.push([endpoint, count(c.messages), humanBytes(c.bytes), count(c.errors), count(c.refused)]);
    for (const line of formatTable(rows, ['left', 'right', 'right', 'right', 'right'])) ctx.print(line);
  },
};

const dmesg: CommandSpec = {
  name: 'dmesg',
  group: 'system',
  usage: '[N]',
  summary: `the kernel's log since boot: service messages and notices (last N, default ${LOG_TAIL_DEFAULT})`,
  operands: [0, 1],
  complete: ['none'],
  async run(ctx, p) {
    const n = p.args[0] === undefined ? LOG_TAIL_DEFAULT : parseCount(p.args[0], 'N', LOG_TAIL_MAX);
    const lines = ctx.shell.host.system.kernel.logLines;
    for (const line of n === 0 ? [] : lines.slice(-n)) ctx.print(line);
  },
};

const trace: CommandSpec = {
  name: 'trace',
  group: 'system',
  usage: 'on|off',
  summary: 'print every message and interrupt as it happens (virtual time, sequence numbers)',
  operands: [0, 1],
  complete: [{ words: ['on', 'off'] }],
  async run(ctx, p) {
    const arg = p.args[0];
    if (arg === undefined) return void ctx.print(`trace is ${ctx.shell.tracing ? 'on' : 'off'}`);
    if (arg !== 'on' && arg !== 'off') throw new ShellUsageError(`expected on or off, got '${arg}'`);
    ctx.shell.setTracing(arg === 'on');
  },
};

const journal: CommandSpec = {
  name: 'journal',
  group: 'system',
  usage: '',
  summary: "the block journal: space, transactions, group commits, checkpoints, last replay",
  async run(ctx) {
    const block = need(ctx.backends, 'block');
    const [s, info] = await Promise.all([call('block', () => block.stats()), call('block', () => block.info())]);
    const j = s.journal;
    ctx.print(`journal: ${count(j.usedBlocks)} of ${count(j.capacityBlocks)} blocks in use (${percent(j.usedBlocks, j.capacityBlocks)}), ${countOf(j.liveTransactions, 'transactions')} not yet checkpointed`);
    ctx.print(`commits: ${count(j.commits)} in ${countOf(j.batches, 'group commits')} (${j.batches ? (j.commits / j.batches).toFixed(1) : '-'} per flush), ${countOf(j.checkpoints, 'checkpoints')}, next sequence ${count(j.nextSequence)}`);
    const m = info.mount;
    ctx.print(`last mount: replayed ${countOf(m.replayedTransactions, 'transactions')} (${countOf(m.replayedBlocks, 'blocks')}), replay stopped at: ${m.replayStop}; superblock: ${m.superblockSource}`);
    for (const problem of m.problems) ctx.print(`  mount problem: ${problem}`);
    if (s.failed) ctx.print(`FAILED: ${s.failed}`);
  },
};

const cache: CommandSpec = {
  name: 'cache',
  group: 'system',
  usage: '',
  summary: 'the block cache: residency, hit rate, evictions, write-backs',
  async run(ctx) {
    const s = await call('block', () => need(ctx.backends, 'block').stats());
    const c = s.cache;
    ctx.print(`cache: ${humanBytes(c.residentBytes)} of ${humanBytes(c.capacityBytes)} resident, ${countOf(c.dirtyBlocks, 'dirty blocks')}`);
    ctx.print(`hits ${count(c.hits)}, misses ${count(c.misses)}: hit rate ${percent(c.hits, c.hits + c.misses)}; coalesced reads ${count(c.coalesced)}, ghost hits ${count(c.ghostHits)}`);
    ctx.print(`evictions ${count(c.evictions)}, write-backs ${count(c.writeBacks)}`);
  },
};

const sync: CommandSpec = {
  name: 'sync',
  group: 'system',
  usage: '',
  summary: 'make everything written so far durable',
  async run(ctx) {
    await call(undefined, () => ctx.fs().sync());
  },
};

const gc: CommandSpec = {
  name: 'gc',
  group: 'system',
  usage: '',
  summary: 'collect chunks no root reaches (the live tree and every snapshot)',
  async run(ctx) {
    const r = await call(undefined, () => need(ctx.backends, 'gc').gc());
    const roots = r.rootCount === undefined ? '' : ` from ${count(r.rootCount)} root${r.rootCount === 1 ? '' : 's'}`;
    ctx.print(`gc: ${countOf(r.liveChunks, 'chunks')} live${roots}; swept ${countOf(r.sweptChunks, 'chunks')} (${humanBytes(r.sweptBytes)}), ${countOf(r.freedBlocks, 'blocks')} freed`);
  },
};

const fsck: CommandSpec = {
  name: 'fsck',
  group: 'system',
  usage: '[--json]',
  summary: 'check the running filesystem (read only); status 4 if problems are found',
  flags: { json: { help: 'JSON: problems and what was checked' } },
  async run(ctx, p) {
    const r = await call(undefined, () => need(ctx.backends, 'fsck').check());
    if (p.has('json')) ctx.json({ clean: r.problems.length === 0, ...r });
    else {
      const checked = Object.entries(r.checked).map(([what, n]) => countOf(n, what)).join(', ');
      ctx.print(`fsck: checked ${checked || 'nothing'}`);
      for (const problem of r.problems) ctx.print(`  ${problem.area}: ${problem.message}${problem.repaired ? ' (repaired)' : ''}`);
      ctx.print(r.problems.length === 0 ? 'fsck: clean' : `fsck: ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}`);
    }
    return r.problems.length === 0 ? STATUS_OK : FSCK_STATUS_ERRORS_LEFT;
  },
};

/** Prints a boot report and what recovery did, layer by layer, as far as the layers tell. */
async function showBoot(ctx: CommandContext, report: BootReport): Promise<void> {
  for (const line of report.bootLog) ctx.print(line);
  ctx.shell.setTracing(ctx.shell.tracing);
  const { axiom, block } = ctx.backends;
  if (block) {
    const m = (await call('block', () => block.info())).mount;
    ctx.print(`recovery: block journal replayed ${countOf(m.replayedTransactions, 'transactions')} (${countOf(m.replayedBlocks, 'blocks')}), stopped at: ${m.replayStop}`);
  }
  if (axiom) {
    const r = (await call('axiom', () => axiom.info())).recovery;
    ctx.print(`recovery: axiom at seq ${count(r.committedSeq)} from checkpoint ${count(r.checkpointSeq)}: ${countOf(r.transactionsFound, 'transactions')} replayed, ${countOf(r.discardedRecords, 'uncommitted records')} discarded, end: ${r.stop.reason}`);
  }
  if (!block && !axiom) ctx.print('recovery: no journal or log running yet (needs services/block, axiom)');
}

const crash: CommandSpec = {
  name: 'crash',
  group: 'system',
  usage: '[--lose-unflushed | --torn]',
  summary: 'cut the power at once, then boot again and show what recovery did',
  details: [
    'The disk keeps what was flushed. Of the writes still in its volatile cache:',
    '  (default)         a seeded random subset survives',
    '  --lose-unflushed  none survives',
    '  --torn            a seeded prefix survives, the next write is torn at a sector boundary',
  ],
  flags: { 'lose-unflushed': { help: 'every unflushed write is lost' }, torn: { help: 'tear a write at a 512-byte sector boundary' } },
  async run(ctx, p) {
    const host = ctx.shell.host;
    const seed = (host.system.kernel.seed * 31 + host.bootCount) >>> 0;
    if (p.has('lose-unflushed') && p.has('torn')) throw new ShellUsageError('choose one of --lose-unflushed and --torn');
    const mode: CrashMode = p.has('lose-unflushed') ? 'lose-all' : p.has('torn') ? { torn: seed } : { subset: seed };
    const report = await host.crash(mode);
    const cut = report.powerCut!;
    const name = p.has('lose-unflushed') ? 'lose-unflushed' : p.has('torn') ? 'torn' : 'random subset';
    const torn = cut.tornSectors === null ? '' : `, 1 torn after ${cut.tornSectors} sector${cut.tornSectors === 1 ? '' : 's'}`;
    ctx.print(`crash: power cut (${name}): ${countOf(cut.unflushedCount, 'unflushed writes')} in the disk cache: ${count(cut.keptCount)} kept${torn}, ${count(cut.lostCount)} lost`);
    ctx.print('crash: booting again');
    await showBoot(ctx, report);
  },
};

const reboot: CommandSpec = {
  name: 'reboot',
  group: 'system',
  usage: '',
  summary: 'shut down cleanly (sync, flush, checkpoint) and boot again',
  async run(ctx) {
    const report = await ctx.shell.host.reboot();
    if (report.syncError !== undefined) ctx.warn(`the sync before the stop failed: ${report.syncError}; services were still stopped and flushed`);
    ctx.print('reboot: clean shutdown done; booting again');
    await showBoot(ctx, report);
  },
};

export const systemCommands: CommandSpec[] = [ps, kill, ipc, logCommand, dmesg, journal, cache, sync, gc, fsck, crash, reboot, trace];
