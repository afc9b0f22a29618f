/**
 * How the virtio-blk device reads one descriptor chain as a request (virtio 1.x §5.2.6):
 *
 *   device-readable bytes:  header (16: type, reserved, sector) | data for OUT/DISCARD/WRITE_ZEROES
 *   device-writable bytes:  data for IN/GET_ID | status (the very last byte)
 *
 * The chain is seen as two byte streams, not as "one descriptor per part", because the
 * device must not assume any arrangement of descriptors (§2.7.4.1): a header split over
 * two descriptors, or the status byte sharing a buffer with read data, is legal.
 *
 * Framing outcome:
 * - no status byte the device may write (the last buffer is device-readable, or no
 *   device-writable byte at all) -> ChainError('framing'): the device cannot answer,
 *   so the transport sets DEVICE_NEEDS_RESET;
 * - anything else wrong (a device-readable buffer after a device-writable one, §2.7.4.2;
 *   a short header; a buffer over size_max) -> a request with `framingError` set, which
 *   the device answers with VIRTIO_BLK_S_IOERR.
 */

import { BLK_SIZE_MAX_BYTES } from '../limits.ts';
import { SgList } from './sg-list.ts';
import type { PhysicalMemory } from './physical-memory.ts';
import { ChainError } from './virtqueue.ts';
import type { ChainBuffer } from './virtqueue.ts';
import {
  VIRTIO_BLK_REQ_HEADER_SIZE_BYTES,
  VIRTIO_BLK_REQ_SECTOR_OFFSET,
  VIRTIO_BLK_REQ_STATUS_SIZE_BYTES,
  VIRTIO_BLK_REQ_TYPE_OFFSET,
} from './virtio-spec.ts';

export interface BlkRequest {
  readonly head: number;
  /** Header fields; meaningful only if framingError is null. */
  readonly type: number;
  /** 512-byte sector; above 2^53 it is clamped to Infinity (always out of range). */
  readonly sector: number;
  /** Device-readable bytes after the header. */
  readonly dataOut: SgList;
  /** Device-writable bytes before the status byte. */
  readonly dataIn: SgList;
  /** Physical address of the status byte. */
  readonly statusAddr: number;
  /** Bytes of device-writable buffers in the chain: the used length once answered. */
  readonly writableBytes: number;
  /** Why the chain is not a well-formed request, or null. */
  readonly framingError: string | null;
}

export function parseBlkChain(memory: PhysicalMemory, head: number, chain: readonly ChainBuffer[]): BlkRequest {
  const last = chain[chain.length - 1];
  if (last === undefined || !last.writable || last.lengthBytes === 0) {
    throw new ChainError('framing', head, 'the last descriptor must be device-writable and hold the status byte');
  }
  const readable: ChainBuffer[] = [];
  const writable: ChainBuffer[] = [];
  let framingError: string | null = null;
  for (const buffer of chain) {
    if (buffer.writable) writable.push(buffer);
    else if (writable.length > 0) framingError ??= 'a device-readable buffer follows a device-writable one (§2.7.4.2)';
    else readable.push(buffer);
    if (buffer.lengthBytes > BLK_SIZE_MAX_BYTES) framingError ??= `a ${buffer.lengthBytes}-byte buffer exceeds size_max ${BLK_SIZE_MAX_BYTES}`;
  }
  const readList = new SgList(memory, readable);
  const writeList = new SgList(memory, writable);
  const statusAddr = last.addr + last.lengthBytes - VIRTIO_BLK_REQ_STATUS_SIZE_BYTES;
  const dataIn = writeList.sub(0, writeList.totalBytes - VIRTIO_BLK_REQ_STATUS_SIZE_BYTES);
  let type = -1;
  let sector = 0;
  let dataOut = new SgList(memory, []);
  if (readList.totalBytes < VIRTIO_BLK_REQ_HEADER_SIZE_BYTES) {
    framingError ??= `header is ${readList.totalBytes} bytes, not ${VIRTIO_BLK_REQ_HEADER_SIZE_BYTES}`;
  } else {
    const header = new Uint8Array(VIRTIO_BLK_REQ_HEADER_SIZE_BYTES);
    readList.gather(0, header);
    const view = new DataView(header.buffer);
    type = view.getUint32(VIRTIO_BLK_REQ_TYPE_OFFSET, true);
    const sectorLow = view.getUint32(VIRTIO_BLK_REQ_SECTOR_OFFSET, true);
    const sectorHigh = view.getUint32(VIRTIO_BLK_REQ_SECTOR_OFFSET + 4, true);
    sector = sectorHigh > 0x1f_ffff ? Infinity : sectorHigh * 2 ** 32 + sectorLow;
    dataOut = readList.sub(VIRTIO_BLK_REQ_HEADER_SIZE_BYTES, readList.totalBytes - VIRTIO_BLK_REQ_HEADER_SIZE_BYTES);
  }
  return { head, type, sector, dataOut, dataIn, statusAddr, writableBytes: writeList.totalBytes, framingError };
}
