/**
 * Scatter-gather lists over physical memory: a run of guest buffers seen as one byte
 * stream, and sector transfers between that stream and a disk backend.
 *
 * Why: the device must not assume how the driver split its buffers (virtio 1.x §2.7.4.1
 * "The device MUST NOT make assumptions about the particular arrangement of
 * descriptors"), yet backends move whole sectors. `diskToMemory` / `memoryToDisk` hand
 * the backend live views of guest memory (no copy) for every whole-sector run inside
 * one buffer, and bounce only the sectors that straddle two buffers through 512 bytes.
 *
 * Invariants: a list's segments were bounds-checked when built (PhysicalMemory.slice
 * checks again); transfers cover the whole stream, which must be whole sectors.
 */

import { SECTOR_SIZE_BYTES } from '../limits.ts';
import type { DiskBackend } from './disk/backend.ts';
import type { PhysicalMemory } from './physical-memory.ts';

export interface SgSegment {
  readonly addr: number;
  readonly lengthBytes: number;
}

export class SgList {
  readonly totalBytes: number;

  constructor(
    private readonly memory: PhysicalMemory,
    readonly segments: readonly SgSegment[],
  ) {
    let totalBytes = 0;
    for (const segment of segments) {
      memory.check(segment.addr, segment.lengthBytes);
      totalBytes += segment.lengthBytes;
    }
    this.totalBytes = totalBytes;
  }

  /** The sub-stream [startBytes, startBytes + lengthBytes) as its own list. */
  sub(startBytes: number, lengthBytes: number): SgList {
    this.checkRange(startBytes, lengthBytes, 'sub');
    const out: SgSegment[] = [];
    let skip = startBytes;
    let want = lengthBytes;
    for (const segment of this.segments) {
      if (want === 0) break;
      if (skip >= segment.lengthBytes) {
        skip -= segment.lengthBytes;
        continue;
      }
      const take = Math.min(segment.lengthBytes - skip, want);
      out.push({ addr: segment.addr + skip, lengthBytes: take });
      want -= take;
      skip = 0;
    }
    return new SgList(this.memory, out);
  }

  /** Copies stream bytes [startBytes, startBytes + dst.length) into dst. */
  gather(startBytes: number, dst: Uint8Array): void {
    this.walk(startBytes, dst.length, (view, at) => dst.set(view, at));
  }

  /** Copies src into stream bytes [startBytes, startBytes + src.length). */
  scatter(startBytes: number, src: Uint8Array): void {
    this.walk(startBytes, src.length, (view, at) => view.set(src.subarray(at, at + view.length)));
  }

  /** Sets every byte of the stream to `value`. */
  fill(value: number): void {
    this.walk(0, this.totalBytes, (view) => view.fill(value));
  }

  /** Calls fn with live views covering [startBytes, +lengthBytes) and each view's offset in that range. */
  private walk(startBytes: number, lengthBytes: number, fn: (view: Uint8Array, atBytes: number) => void): void {
    const list = this.sub(startBytes, lengthBytes);
    let atBytes = 0;
    for (const segment of list.segments) {
      fn(this.memory.slice(segment.addr, segment.lengthBytes), atBytes);
      atBytes += segment.lengthBytes;
    }
  }

  private checkRange(startBytes: number, lengthBytes: number, who: string): void {
    if (!Number.isSafeInteger(startBytes) || !Number.isSafeInteger(lengthBytes) || startBytes < 0 || lengthBytes < 0 || startBytes + lengthBytes > this.totalBytes) {
      throw new RangeError(`SgList.${who}: [${startBytes}, +${lengthBytes}) is outside a ${this.totalBytes}-byte list`);
    }
  }
}

/** Calls `direct` for whole-sector runs inside one segment and `bounce` for straddling sectors, in stream order. */
function forEachSectorRun(
  list: SgList,
  memory: PhysicalMemory,
  direct: (streamOffsetBytes: number, view: Uint8Array) => void,
  bounce: (streamOffsetBytes: number) => void,
): void {
  if (list.totalBytes % SECTOR_SIZE_BYTES !== 0) throw new RangeError(`sector transfer of ${list.totalBytes} bytes is not whole sectors`);
  let streamOffsetBytes = 0;
  let segmentIndex = 0;
  let segmentPosBytes = 0;
  while (streamOffsetBytes < list.totalBytes) {
    const segment = list.segments[segmentIndex];
    const leftBytes = segment.lengthBytes - segmentPosBytes;
    if (leftBytes >= SECTOR_SIZE_BYTES) {
      const runBytes = leftBytes - (leftBytes % SECTOR_SIZE_BYTES);
      direct(streamOffsetBytes, memory.slice(segment.addr + segmentPosBytes, runBytes));
      streamOffsetBytes += runBytes;
      segmentPosBytes += runBytes;
    } else if (leftBytes > 0) {
      bounce(streamOffsetBytes);
      // Skip the 512 bytes the bounce covered, across as many segments as they span.
      let skipBytes = SECTOR_SIZE_BYTES;
      while (skipBytes > 0) {
        const take = Math.min(skipBytes, list.segments[segmentIndex].lengthBytes - segmentPosBytes);
        skipBytes -= take;
        segmentPosBytes += take;
        if (segmentPosBytes === list.segments[segmentIndex].lengthBytes && skipBytes > 0) {
          segmentIndex++;
          segmentPosBytes = 0;
        }
      }
      streamOffsetBytes += SECTOR_SIZE_BYTES;
    }
    if (segmentIndex < list.segments.length && segmentPosBytes === list.segments[segmentIndex].lengthBytes) {
      segmentIndex++;
      segmentPosBytes = 0;
    }
  }
}

/** Reads list.totalBytes from the disk at diskOffsetBytes into the list's buffers. */
export function diskToMemory(backend: DiskBackend, diskOffsetBytes: number, list: SgList, memory: PhysicalMemory): void {
  const sector = new Uint8Array(SECTOR_SIZE_BYTES);
  forEachSectorRun(
    list,
    memory,
    (at, view) => backend.read(diskOffsetBytes + at, view),
    (at) => {
      backend.read(diskOffsetBytes + at, sector);
      list.scatter(at, sector);
    },
  );
}

/** Writes the list's buffers to the disk at diskOffsetBytes. */
export function memoryToDisk(backend: DiskBackend, diskOffsetBytes: number, list: SgList, memory: PhysicalMemory): void {
  const sector = new Uint8Array(SECTOR_SIZE_BYTES);
  forEachSectorRun(
    list,
    memory,
    (at, view) => backend.write(diskOffsetBytes + at, view),
    (at) => {
      list.gather(at, sector);
      backend.write(diskOffsetBytes + at, sector);
    },
  );
}
