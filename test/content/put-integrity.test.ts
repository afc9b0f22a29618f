// What is written is what was hashed (services/content/writer.ts): bytes an in-process
// caller may still change are hashed again as they are staged, so a change between put
// and write is refused (BADMSG) and nothing is committed; bytes handed over as `owned`
// (the service's private copy) are hashed once, and read back verified like any other.
import { describe, expect, it } from 'vitest';
import { mountStore } from '../../services/content/gc.ts';
import { MemoryBlockPort, MemoryLog } from './memory-ports.ts';
import { codeOf, patterned } from '../helpers/stack.ts';

const KiB = 1024;

/** A store whose block pool refill (the first await of a put of new bytes) runs `meanwhile` first. */
async function storeWithHook(meanwhile: () => void) {
  const blocks = new MemoryBlockPort(4096);
  const log = new MemoryLog();
  const { store } = await mountStore(blocks, log);
  const allocate = blocks.allocate.bind(blocks);
  blocks.allocate = async (blockCount, contiguous) => {
    meanwhile();
    return allocate(blockCount, contiguous);
  };
  return { blocks, log, store };
}

describe('content put integrity', () => {
  it('an array changed by its in-process caller between put and write is refused, and nothing is committed', async () => {
    const data = patterned(40 * KiB, 3);
    const { log, store } = await storeWithHook(() => (data[100] ^= 0xff));
    expect(await codeOf(store.put(data))).toBe('BADMSG');
    expect(log.records().filter((r) => r.type === 'ChunkPut')).toHaveLength(0);
  });

  it('owned bytes are hashed once, stored, and read back verified', async () => {
    let hooked = 0;
    const { store } = await storeWithHook(() => hooked++);
    const data = patterned(200 * KiB, 5);
    const hashes = (await store.putMany([data.subarray(0, 70 * KiB), data.subarray(70 * KiB)], { owned: true })).hashes;
    expect(hooked).toBeGreaterThan(0);
    expect(Buffer.compare(await store.get(hashes[0]), data.subarray(0, 70 * KiB))).toBe(0);
    expect(Buffer.compare(await store.get(hashes[1]), data.subarray(70 * KiB))).toBe(0);
  });
});
