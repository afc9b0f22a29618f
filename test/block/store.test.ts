// The mounted store over a faulty disk (no kernel): allocation against a reference model
// across power cuts at every device write, superblock/bitmap corruption at mount,
// direct writes after journaled ones (replay must not resurrect the older image).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FaultyBackend, imageAt, type CrashMode } from '../../kernel/machine/disk/faulty.ts';
import { backendDevice } from '../../services/block/device.ts';
import { BlockStore } from '../../services/block/store.ts';
import { ServiceError } from '../../kernel/errors.ts';
import type { Extent } from '../../services/block/format/index.ts';
import { B, MiB, blockAt, formattedFaulty, isTagged, memoryDevice, tagged } from './helpers.ts';

const CACHE = 1 * MiB;
const mount = (disk: { sizeBytes: number; read(o: number, d: Uint8Array): void; write(o: number, s: Uint8Array): void; flush(): void }) => BlockStore.mount(backendDevice(disk), { cacheSizeBytes: CACHE });

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof ServiceError) return e.code;
    throw e;
  }
}

describe('BlockStore', () => {
  it('keeps acknowledged allocations and frees across power cuts at every device write', async () => {
    const { disk, layout } = formattedFaulty();
    const store = await mount(disk);
    disk.resetLog();
    const held: Extent[] = [];
    // A workload of allocations and frees, some concurrent; acknowledgements marked in the disk log.
    const ops: (() => Promise<void>)[] = [];
    for (let i = 0; i < 12; i++) {
      ops.push(async () => {
        const ex = await store.allocate(1 + ((i * 37) % 300), { contiguous: i % 3 === 0 });
        held.push(...ex);
        disk.mark(`alloc:${JSON.stringify(ex)}`);
      });
      if (i % 4 === 3) {
        ops.push(async () => {
          const e = held.shift()!;
          disk.mark(`free:${JSON.stringify([e])}`); // from here on the free may be durable
          await store.free([e]);
        });
      }
    }
    for (let i = 0; i < ops.length; i += 2) await Promise.all(ops.slice(i, i + 2).map((op) => op()));
    await store.journal.checkpoint();
    const base = disk.logBase();
    const log = disk.log;
    let mounts = 0;
    for (let k = 0; k <= log.length; k++) {
      // Acknowledged allocations whose free had not started before k must be allocated after the crash.
      const mustHave = new Map<string, Extent>();
      for (const e of log.slice(0, k)) {
        if (e.kind !== 'mark') continue;
        const [kind, json] = [e.label.slice(0, e.label.indexOf(':')), e.label.slice(e.label.indexOf(':') + 1)];
        for (const x of JSON.parse(json) as Extent[]) {
          if (kind === 'alloc') mustHave.set(`${x.blockIndex}+${x.blockCount}`, x);
          else mustHave.delete(`${x.blockIndex}+${x.blockCount}`);
        }
      }
      const modes: CrashMode[] = ['lose-all', { torn: k + 1 }, { subset: k + 1 }];
      for (const mode of modes) {
        const { disk: after } = memoryDevice(imageAt(base, log, { entryCount: k, mode }));
        const again = await mount(after); // mount itself checks superblock free count == bitmap
        mounts++;
        for (const x of mustHave.values()) {
          for (let b = x.blockIndex; b < x.blockIndex + x.blockCount; b++) expect(again.allocator.isAllocated(b), `crash at ${k} ${JSON.stringify(mode)}: block ${b}`).toBe(true);
        }
        again.allocator.checkConsistency();
      }
    }
    expect(mounts).toBeGreaterThan(30);
    expect(layout.data.blockCount).toBeGreaterThan(0);
  });

  it('agrees with a Set model across random remounts (clean and after power cuts)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.record({ op: fc.constant('alloc' as const), n: fc.integer({ min: 1, max: 400 }) }), fc.record({ op: fc.constant('free' as const), pick: fc.nat() }), fc.record({ op: fc.constantFrom('reboot' as const, 'crash' as const) })), { maxLength: 30 }),
        async (ops) => {
          const { disk } = formattedFaulty();
          let store = await mount(disk);
          const model = new Set<number>();
          const owned: Extent[] = [];
          for (const o of ops) {
            if (o.op === 'alloc') {
              const r = await codeOf(
                store.allocate(o.n).then((ex) => {
                  for (const e of ex) for (let b = e.blockIndex; b < e.blockIndex + e.blockCount; b++) {
                    expect(model.has(b)).toBe(false);
                    model.add(b);
                  }
                  owned.push(...ex);
                }),
              );
              expect(['ok', 'NOSPC']).toContain(r);
            } else if (o.op === 'free') {
              if (!owned.length) continue;
              const [e] = owned.splice(o.pick % owned.length, 1);
              await store.free([e]);
              for (let b = e.blockIndex; b < e.blockIndex + e.blockCount; b++) model.delete(b);
            } else if (o.op === 'reboot') {
              await store.unmount();
              store = await mount(disk);
            } else {
              disk.crash({ torn: model.size + 1 });
              store = await mount(disk);
            }
            expect(store.allocator.freeBlockCount).toBe(store.layout.data.blockCount - model.size);
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it('never lets replay overwrite a direct write with an older journaled image', async () => {
    const { disk } = formattedFaulty();
    const store = await mount(disk);
    const [e] = await store.allocate(1);
    await store.commit([{ blockIndex: e.blockIndex, data: tagged(1, 0) }]); // logged, not checkpointed
    expect(store.journal.hasLive(e.blockIndex)).toBe(true);
    await store.write(e.blockIndex, tagged(2, 0)); // forces the checkpoint first
    await store.flush();
    disk.crash('lose-all');
    const again = await mount(disk);
    expect(isTagged(await again.read(e.blockIndex, 1), 2, 0)).toBe(true);
  });

  it('reads a journaled block back before and after checkpoint, through cache misses', async () => {
    const { disk } = formattedFaulty();
    const store = await mount(disk);
    const [e] = await store.allocate(400, { contiguous: true });
    await store.commit([{ blockIndex: e.blockIndex, data: tagged(9, 0) }]);
    for (let i = 1; i < 400; i++) await store.read(e.blockIndex + i, 1); // push it out of the 256-block cache
    expect(isTagged(await store.read(e.blockIndex, 1), 9, 0)).toBe(true);
    await store.journal.checkpoint();
    expect(isTagged(await store.read(e.blockIndex, 1), 9, 0)).toBe(true);
  });

  it('fails mount with INTEGRITY on a corrupt bitmap block or a free count that disagrees', async () => {
    const { disk, layout } = formattedFaulty();
    const image = disk.snapshotDurable();
    const badBitmap = image.slice();
    badBitmap[layout.bitmap.blockIndex * B + 500] ^= 1;
    const e1 = await mount(memoryDevice(badBitmap).disk).catch((e: unknown) => e);
    expect((e1 as ServiceError).code).toBe('INTEGRITY');
    expect((e1 as Error).message).toMatch(/bitmap.*checksum/);
    // Bit flips on read are caught the same way (the stored bytes are fine).
    const flipping = new FaultyBackend(image);
    flipping.flipBitOnRead(layout.bitmap.blockIndex * 8 + 1, 3);
    expect(await codeOf(mount(flipping))).toBe('INTEGRITY');
  });

  it('mounts with the journal header slot that survived when the other is torn', async () => {
    const { disk, layout } = formattedFaulty();
    const store = await mount(disk);
    const [e] = await store.allocate(3);
    await store.commit([{ blockIndex: e.blockIndex, data: tagged(4, 0) }]);
    disk.crash('lose-all');
    const image = disk.snapshotDurable();
    // Tear whichever header slot is newest: mount falls back to the other, replays from an older tail, still consistent.
    for (const slot of [0, 1]) {
      const copy = image.slice();
      copy[(layout.journal.blockIndex + slot) * B + 20] ^= 0xff;
      const again = await mount(memoryDevice(copy).disk);
      expect(again.allocator.isAllocated(e.blockIndex)).toBe(true);
      expect(isTagged(await again.read(e.blockIndex, 1), 4, 0)).toBe(true);
    }
    const both = image.slice();
    both[layout.journal.blockIndex * B + 20] ^= 0xff;
    both[(layout.journal.blockIndex + 1) * B + 20] ^= 0xff;
    const err = await mount(memoryDevice(both).disk).catch((x: unknown) => x);
    expect((err as ServiceError).code).toBe('INTEGRITY');
    expect((err as Error).message).toMatch(/neither header slot/);
    expect(blockAt(image, 0).length).toBe(B);
  });
});
