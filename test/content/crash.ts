// The crash harness for the content store on the real stack: a workload of puts (new,
// duplicate, and the same new chunk from several clients at once), refs and unrefs, and
// a gc, run until the disk loses power after its k-th write or flush; then the disk
// crashes (unflushed writes lost, kept in a seeded subset, or torn), the stack reboots,
// and the recovered store is checked against what was acknowledged:
//  - the mount succeeds with no anomalies, and no block is leaked or shared;
//  - every chunk with a reference that must have committed is there and reads back
//    exactly (gc never loses a referenced chunk; bytes verified against the hash);
//  - every refcount lies between what the acknowledged and the issued operations allow.
import { expect } from 'vitest';
import { FaultyBackend, type CrashMode } from '../../kernel/machine/disk/faulty.ts';
import { hashChunk } from '../../services/content/hash.ts';
import { hexOf } from '../../services/content/errors.ts';
import { patterned } from '../helpers/stack.ts';
import { bootContent, formattedMemory, type ContentStack } from './stack.ts';

const KiB = 1024;
export const CONTENTS = Array.from({ length: 16 }, (_, i) => patterned([5000, 4096, 70 * KiB, 1, 12_000, 300 * KiB, 8192, 9001][i % 8] + (i >> 3), 900 + i));
const H = CONTENTS.map((c) => hashChunk(c));

interface Counts {
  ackedUp: number;
  issuedUp: number;
  ackedDown: number;
  issuedDown: number;
}

export class Tracker {
  readonly counts = CONTENTS.map((): Counts => ({ ackedUp: 0, issuedUp: 0, ackedDown: 0, issuedDown: 0 }));
  phase = 'setup';
  async up(i: number, op: Promise<unknown>, n = 1): Promise<void> {
    this.counts[i].issuedUp += n;
    await op;
    this.counts[i].ackedUp += n;
  }
  async down(i: number, op: Promise<unknown>, n = 1): Promise<void> {
    this.counts[i].issuedDown += n;
    await op;
    this.counts[i].ackedDown += n;
  }
}

/** The workload; each phase waits for the one before (its operations run concurrently inside). */
export async function workload(s: ContentStack, t: Tracker, phaseAt: (name: string) => void): Promise<void> {
  const c = s.content;
  const all = (ps: Promise<unknown>[]) => Promise.allSettled(ps).then((r) => r.find((x) => x.status === 'rejected') && Promise.reject((r.find((x) => x.status === 'rejected') as PromiseRejectedResult).reason));
  phaseAt('put');
  t.phase = 'put';
  await all([0, 1, 2, 3, 4, 5].map((i) => t.up(i, c.put(CONTENTS[i]))));
  await all([6, 6, 7, 7, 7, 2, 8].map((i) => t.up(i, c.put(CONTENTS[i])))); // in-flight dedup of 6 and 7
  await t.up(9, c.putMany([CONTENTS[9], CONTENTS[9]]), 2);
  phaseAt('refs');
  t.phase = 'refs';
  await all([t.up(0, c.ref([H[0]])), t.down(1, c.unref([H[1]])), t.down(2, c.unref([H[2]])), t.down(6, c.unref([H[6]])), t.up(3, c.ref([H[3]]))]);
  await all([t.down(2, c.unref([H[2]])), t.down(4, c.unref([H[4]])), t.down(9, c.unref([H[9], H[9]]), 2)]);
  phaseAt('gc');
  t.phase = 'gc';
  await c.gc([H[4]]);
  await t.up(1, c.put(CONTENTS[1])); // swept just now: stored afresh
  await c.gc([]);
  phaseAt('checkpoint');
  t.phase = 'checkpoint';
  await all([c.checkpoint({ note: 'crash test' }), t.up(10, c.put(CONTENTS[10])), t.up(3, c.ref([H[3]]))]);
  await t.down(0, c.unref([H[0]]));
  await c.checkpoint({});
  await t.up(11, c.put(CONTENTS[11]));
  t.phase = 'done';
}

/** Boots, runs the workload until power is lost after device operation `k`; returns the tracker and op counts per phase. */
export async function runUntil(disk: FaultyBackend, k: number, seed: number): Promise<{ t: Tracker; ops: number; phaseStarts: Record<string, number> }> {
  let ops = 0;
  let armed = false;
  const phaseStarts: Record<string, number> = {};
  const write = disk.write.bind(disk), flush = disk.flush.bind(disk);
  const tick = () => {
    if (armed && ++ops === k) disk.close(); // power lost: nothing from now on reaches the disk
  };
  disk.write = (o, src) => (write(o, src), tick());
  disk.flush = () => (flush(), tick());
  const s = await bootContent(disk, { seed });
  const t = new Tracker();
  try {
    await s.content.info(); // mount before counting
    armed = true;
    await workload(s, t, (name) => (phaseStarts[name] = ops)).catch(() => undefined);
  } finally {
    await s.sys.kernel.shutdown().catch(() => undefined);
    disk.write = write;
    disk.flush = flush;
  }
  return { t, ops, phaseStarts };
}

/** Checks a recovered stack against the tracker (the crash contract, as far as the content store holds it). */
export async function checkRecovered(s: ContentStack, t: Tracker, where: string): Promise<void> {
  const stats = await s.content.stats();
  expect(stats.anomalies, where).toBe(0);
  expect(stats.failed, where).toBeNull();
  const block = await s.block.stats();
  expect((block.dataBlocks - block.freeBlocks) * 4096, `${where}: no leaked or unfreed data blocks`).toBe(stats.allocatedBytes + (stats.poolBlocks + stats.imageBlocks) * 4096);
  const present = await s.content.has(H);
  for (const [i, c] of t.counts.entries()) {
    const lower = c.ackedUp - c.issuedDown;
    const upper = c.issuedUp - c.ackedDown;
    if (lower > 0) expect(present[i], `${where}: chunk ${i} holds ${lower} committed references`).toBe(true);
    if (!present[i]) continue;
    const st = await s.content.stat(H[i]);
    expect(st.refcount, `${where}: refcount of chunk ${i}`).toBeGreaterThanOrEqual(Math.max(0, lower));
    expect(st.refcount, `${where}: refcount of chunk ${i}`).toBeLessThanOrEqual(Math.max(0, upper));
    const back = await s.content.get(H[i]); // verified against the hash by the store; checked here too
    expect(hexOf(hashChunk(back)), `${where}: bytes of chunk ${i}`).toBe(hexOf(H[i]));
    expect(Buffer.from(back).equals(Buffer.from(CONTENTS[i])), `${where}: bytes of chunk ${i}`).toBe(true);
  }
}

export async function crashAndCheck(k: number, mode: CrashMode, seed: number): Promise<string> {
  const disk = new FaultyBackend(formattedMemory().bytes);
  const { t } = await runUntil(disk, k, seed);
  disk.crash(mode);
  const s = await bootContent(disk, { seed: seed + 1000 });
  try {
    await checkRecovered(s, t, `power lost after device op ${k} (${t.phase}), crash ${JSON.stringify(mode)}, seed ${seed}`);
  } finally {
    await s.sys.kernel.shutdown().catch(() => undefined);
  }
  return t.phase;
}
