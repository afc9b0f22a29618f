/**
 * Axiom benchmarks (issue 4's figures): committed transactions per second with 1, 16 and
 * 256 concurrent proposers (group commit), over a file with real fdatasync and over
 * memory (engine cost alone); and recovery time (open + replay of every committed
 * transaction) as the log grows to 1,000,000 records, without and with a recent
 * checkpoint (taken on a copy of the log at each length, so the log itself keeps none).
 *
 * A program, not a test: it reads the host clock (performance.now) to time itself, which
 * library and service code never do. `benchAxiom` returns rows; `formatBenchTable` prints
 * them; `npx tsx axiom/bench.ts [--quick] [dir]` runs it and prints a table and JSON.
 *
 * SQLite baseline hook: pass `baseline` (e.g. a better-sqlite3 runner: WAL,
 * synchronous=FULL, one INSERT per transaction of the same payload bytes); it is called
 * with the same work as each commit row and its result is attached as `row.baseline`.
 * Recovery figures are taken with the file in the host page cache (warm).
 */

import fs from 'node:fs';
import path from 'node:path';
import { encode } from '../kernel/codec.ts';
import { FileBackend } from '../kernel/machine/disk/file.ts';
import { MemoryLogDevice, type LogDevice } from './device.ts';
import { DiskLogDevice } from './disk-device.ts';
import { AXIOM_BLOCK_SIZE_BYTES } from './limits.ts';
import { AxiomLog } from './log.ts';
import { rec, type RecordInput } from './records.ts';
import type { Hasher } from './chain.ts';

export interface BenchRow {
  name: string;
  unit: string;
  value: number;
  baseline?: { name: string; value: number };
  /** Where the figure sits on the bench report's chart of recovery time against log length. */
  point?: { chart: string; x: number; series: string };
}

/** The work of one commit row, for a baseline to repeat. */
export interface BaselineWork {
  proposers: number;
  transactions: number;
  /** The msgpack payload of each transaction's one record (what the baseline should insert). */
  payloadFor(i: number): Uint8Array;
  dir: string;
}

export type BaselineHook = (work: BaselineWork) => Promise<{ name: string; value: number } | undefined>;

export interface AxiomBenchOptions {
  quick: boolean;
  dir: string;
  baseline?: BaselineHook;
  /** Progress lines. */
  log?: (line: string) => void;
  /** Overrides for tests (smaller runs); `recoveryRecords` is the one log length measured. */
  sizes?: { commitTransactions?: number; recoveryRecords?: number };
  /** The chain's BLAKE3 (default: @noble/hashes); the system uses the fast one. */
  hasher?: Hasher;
}

function fileCreate(i: number): RecordInput {
  return rec('FileCreate', { parentIno: 1 + (i % 1000), ino: 1000 + i, name: `file-${i.toString().padStart(10, '0')}.dat`, mode: 0o644, timeMs: 1_700_000_000_000 + i });
}

function fileDevice(dir: string, name: string, blockCount: number, copyOf?: string): { device: LogDevice; file: string; close(): void } {
  const file = path.join(dir, name);
  fs.rmSync(file, { force: true });
  if (copyOf) fs.copyFileSync(copyOf, file);
  const backend = copyOf ? FileBackend.open(file) : FileBackend.open(file, { create: true, sizeBytes: blockCount * AXIOM_BLOCK_SIZE_BYTES });
  return {
    file,
    device: new DiskLogDevice(backend, 0, blockCount),
    close: () => {
      backend.close();
      fs.rmSync(file, { force: true });
    },
  };
}

async function fresh(device: LogDevice, hasher?: Hasher): Promise<AxiomLog> {
  await AxiomLog.format(device, { logId: new Uint8Array(16).fill(0xbe), force: true, hasher });
  return AxiomLog.open(device, { hasher });
}

/** Commits `transactions` one-record transactions from `proposers` concurrent loops; returns transactions per second. */
async function commitRate(log: AxiomLog, proposers: number, transactions: number): Promise<number> {
  const perProposer = Math.ceil(transactions / proposers);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: proposers }, async (_, p) => {
      for (let i = 0; i < perProposer; i++) await log.propose([fileCreate(p * perProposer + i)]);
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return (perProposer * proposers) / seconds;
}

async function recoveryMs(device: LogDevice, hasher?: Hasher): Promise<{ ms: number; transactions: number }> {
  const t0 = performance.now();
  const log = await AxiomLog.open(device, { hasher });
  let transactions = 0;
  for await (const _ of log.transactions()) transactions++;
  const ms = performance.now() - t0;
  await log.close();
  return { ms, transactions };
}

export async function benchAxiom(opts: AxiomBenchOptions): Promise<BenchRow[]> {
  const say = opts.log ?? (() => {});
  fs.mkdirSync(opts.dir, { recursive: true });
  const rows: BenchRow[] = [];
  const commitTransactions = opts.sizes?.commitTransactions ?? (opts.quick ? 1_000 : 20_000);

  // ---- commit throughput --------------------------------------------------------------
  for (const where of ['file', 'memory'] as const) {
    for (const proposers of [1, 16, 256]) {
      // One proposer waits a whole flush per transaction; give it fewer so the run stays short.
      const transactions = proposers === 1 && where === 'file' ? Math.max(50, Math.floor(commitTransactions / 10)) : commitTransactions;
      const blockCount = 2 + Math.ceil((transactions * 256) / AXIOM_BLOCK_SIZE_BYTES) + 512;
      const dev = where === 'file' ? fileDevice(opts.dir, 'axiom-bench-commit.img', blockCount) : { device: new MemoryLogDevice(blockCount), close() {} };
      const log = await fresh(dev.device, opts.hasher);
      const value = await commitRate(log, proposers, transactions);
      const { batches, batchTransactionsMax } = log.stats();
      await log.close();
      dev.close();
      const row: BenchRow = { name: `axiom commit, ${proposers} proposer${proposers > 1 ? 's' : ''} (${where === 'file' ? 'file, fdatasync' : 'memory'})`, unit: 'txn/s', value: Math.round(value) };
      if (where === 'file' && opts.baseline) {
        const base = await opts.baseline({ proposers, transactions, dir: opts.dir, payloadFor: (i) => encode(fileCreate(i).payload) });
        if (base) row.baseline = base;
      }
      rows.push(row);
      say(`${row.name}: ${row.value} ${row.unit} (${transactions} transactions in ${batches} batches, up to ${batchTransactionsMax} per batch)`);
    }
  }

  // ---- recovery -----------------------------------------------------------------------
  const lengths = opts.sizes?.recoveryRecords ? [opts.sizes.recoveryRecords] : opts.quick ? [10_000, 50_000] : [10_000, 100_000, 1_000_000];
  const recordsPerTxn = 10;
  const blockCount = 2 + Math.ceil((Math.max(...lengths) * 140) / AXIOM_BLOCK_SIZE_BYTES) + 1024;
  const dev = fileDevice(opts.dir, 'axiom-bench-recovery.img', blockCount);
  try {
    let log = await fresh(dev.device, opts.hasher);
    let base = 0;
    for (const records of lengths) {
      const t0 = performance.now();
      for (; log.committedSeq < records; base += 256 * recordsPerTxn) {
        await Promise.all(Array.from({ length: 256 }, (_, t) => log.propose(Array.from({ length: recordsPerTxn }, (_, r) => fileCreate(base + t * recordsPerTxn + r)))));
      }
      const total = log.committedSeq;
      await log.close();
      say(`built a log of ${total} records (commits included) in ${Math.round(performance.now() - t0)} ms`);
      const full = await recoveryMs(dev.device, opts.hasher);
      rows.push({ name: `axiom recovery (open + replay), ${records.toLocaleString('en')} records, no checkpoint`, unit: 'ms', value: Math.round(full.ms), point: { chart: 'recovery-vs-log', x: records, series: 'no checkpoint' } });
      say(`${rows.at(-1)!.name}: ${rows.at(-1)!.value} ms (${full.transactions} transactions replayed)`);

      // A checkpoint and 100 transactions after it, on a copy: the log keeps growing without one.
      const copy = fileDevice(opts.dir, 'axiom-bench-recovery-copy.img', blockCount, dev.file);
      try {
        const again = await AxiomLog.open(copy.device, { hasher: opts.hasher });
        await again.checkpoint({ note: 'bench', committedSeq: again.committedSeq });
        for (let i = 0; i < 100; i++) await again.propose(Array.from({ length: recordsPerTxn }, (_, r) => fileCreate(10_000_000 + i * recordsPerTxn + r)));
        await again.close();
        const recent = await recoveryMs(copy.device, opts.hasher);
        rows.push({ name: `axiom recovery (open + replay), ${records.toLocaleString('en')} records, recent checkpoint`, unit: 'ms', value: Math.round(recent.ms), point: { chart: 'recovery-vs-log', x: records, series: 'recent checkpoint' } });
        say(`${rows.at(-1)!.name}: ${rows.at(-1)!.value} ms (${recent.transactions} transactions replayed)`);
      } finally {
        copy.close();
      }
      log = await AxiomLog.open(dev.device, { hasher: opts.hasher });
    }
    await log.close();
  } finally {
    dev.close();
  }
  return rows;
}

export function formatBenchTable(rows: readonly BenchRow[]): string {
  const width = Math.max(...rows.map((r) => r.name.length));
  return rows
    .map((r) => {
      const base = r.baseline ? `   ${r.baseline.name}: ${r.baseline.value} (${(r.value / r.baseline.value).toFixed(2)}x)` : '';
      return `${r.name.padEnd(width)}  ${String(r.value).padStart(10)} ${r.unit}${base}`;
    })
    .join('\n');
}

if (process.argv[1] && import.meta.url === new URL(`file://${path.resolve(process.argv[1])}`).href) {
  const quick = process.argv.includes('--quick');
  const dir = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? path.join(process.cwd(), 'images', 'bench');
  const rows = await benchAxiom({ quick, dir, log: (l) => console.error(l) });
  console.log(formatBenchTable(rows));
  console.log(JSON.stringify(rows, null, 2));
}
