// Crash harness for the journal: record a workload of group-committed transactions on the
// faulty disk (acknowledgements marked in its log), then rebuild the durable image at
// chosen crash points and modes, mount it, and check all-or-nothing, prefix, and
// acknowledged-means-present. Shared by journal.test.ts and crash.slow.test.ts.
import { expect } from 'vitest';
import { imageAt, type CrashMode } from '../../kernel/machine/disk/faulty.ts';
import { backendDevice, type BlockDevice } from '../../services/block/device.ts';
import { Journal } from '../../services/block/journal.ts';
import type { Layout } from '../../services/block/format/index.ts';
import { B, SEED, blockAt, formattedFaulty, isTagged, memoryDevice, tagged } from './helpers.ts';

export interface Tx {
  tag: number;
  blocks: number[];
}

/** Transactions over disjoint data blocks so each one's presence is unambiguous. */
export function planTransactions(layout: Layout, sizes: number[]): Tx[] {
  let next = layout.data.blockIndex;
  return sizes.map((n, i) => {
    const blocks = [...Array(n).keys()].map((k) => next + k);
    next += n;
    return { tag: 1000 + i, blocks };
  });
}

export function presence(image: Uint8Array, tx: Tx): 'all' | 'none' | 'partial' {
  const hits = tx.blocks.filter((b, k) => isTagged(blockAt(image, b), tx.tag, k)).length;
  return hits === tx.blocks.length ? 'all' : hits === 0 ? 'none' : 'partial';
}

/**
 * Runs `groups` of concurrent commits (each group awaited before the next) on a faulty disk,
 * marking every acknowledgement in the disk's log. Returns the log and the plan.
 */
export async function recordWorkload(sizeGroups: number[][], splitWrites = false) {
  const { disk, layout } = formattedFaulty();
  const dev = splitWrites ? blockByBlock(backendDevice(disk)) : backendDevice(disk);
  const { journal } = await Journal.open(dev, layout, SEED);
  disk.resetLog();
  const plan = planTransactions(layout, sizeGroups.flat());
  let i = 0;
  for (const group of sizeGroups) {
    const txs = group.map(() => plan[i++]);
    await Promise.all(
      txs.map(async (tx) => {
        await journal.commit(tx.blocks.map((b, k) => ({ blockIndex: b, data: tagged(tx.tag, k) })));
        disk.mark(`ack:${tx.tag}`);
      }),
    );
  }
  return { disk, layout, plan, base: disk.logBase(), log: disk.log };
}

/** Mounts a crash image and checks: every transaction all-or-nothing, a prefix, and every acknowledged one present. */
async function checkCrashImage(image: Uint8Array, layout: Layout, plan: Tx[], acked: Set<number>, what: string) {
  const { disk, dev } = memoryDevice(image);
  await Journal.open(dev, layout, SEED);
  const states = plan.map((tx) => presence(disk.bytes, tx));
  states.forEach((s, i) => expect(s, `${what}: tx ${plan[i].tag}`).not.toBe('partial'));
  const firstMissing = states.indexOf('none');
  if (firstMissing >= 0) expect(states.slice(firstMissing).every((s) => s === 'none'), `${what}: a prefix of transactions`).toBe(true);
  for (const tx of plan) if (acked.has(tx.tag)) expect(presence(disk.bytes, tx), `${what}: acknowledged tx ${tx.tag}`).toBe('all');
  return disk.bytes;
}

/** A device that writes each block of a request separately: the cache of a disk that may persist them in any order. */
function blockByBlock(dev: BlockDevice): BlockDevice {
  return {
    blockCount: dev.blockCount,
    readBlocks: (b, n) => dev.readBlocks(b, n),
    flush: () => dev.flush(),
    async writeBlocks(blockIndex, data) {
      for (let i = 0; i < data.length / B; i++) await dev.writeBlocks(blockIndex + i, data.subarray(i * B, (i + 1) * B));
    },
  };
}

export async function sweep(sizeGroups: number[][], modes: (k: number) => CrashMode[], options: { stride?: number; splitWrites?: boolean } = {}) {
  const stride = options.stride ?? 1;
  const { layout, plan, base, log } = await recordWorkload(sizeGroups, options.splitWrites);
  let images = 0;
  // Every stride-th point, plus every point just before a FLUSH (where the most unflushed writes are at stake).
  const points = new Set<number>();
  for (let k = 0; k <= log.length; k += stride) points.add(k);
  log.forEach((e, i) => e.kind === 'flush' && points.add(i));
  points.add(log.length);
  for (const k of [...points].sort((a, b) => a - b)) {
    const acked = new Set(log.slice(0, k).flatMap((e) => (e.kind === 'mark' && e.label.startsWith('ack:') ? [Number(e.label.slice(4))] : [])));
    for (const mode of modes(k)) {
      await checkCrashImage(imageAt(base, log, { entryCount: k, mode }), layout, plan, acked, `crash after ${k}/${log.length} entries, ${JSON.stringify(mode)}`);
      images++;
    }
  }
  return { images, entries: log.length };
}

