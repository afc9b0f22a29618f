// The spec's numbers, checked against the text of virtio 1.x (§2.1, §2.7, §4.2.2, §5.2, §6).
import { describe, expect, it } from 'vitest';
import * as L from '../../kernel/limits.ts';
import * as S from '../../kernel/machine/virtio-spec.ts';

describe('virtio-spec numbers', () => {
  it('virtio-mmio register offsets (§4.2.2 table)', () => {
    expect([
      S.VIRTIO_MMIO_MAGIC_VALUE, S.VIRTIO_MMIO_VERSION, S.VIRTIO_MMIO_DEVICE_ID, S.VIRTIO_MMIO_VENDOR_ID,
      S.VIRTIO_MMIO_DEVICE_FEATURES, S.VIRTIO_MMIO_DEVICE_FEATURES_SEL, S.VIRTIO_MMIO_DRIVER_FEATURES,
      S.VIRTIO_MMIO_DRIVER_FEATURES_SEL, S.VIRTIO_MMIO_QUEUE_SEL, S.VIRTIO_MMIO_QUEUE_NUM_MAX, S.VIRTIO_MMIO_QUEUE_NUM,
      S.VIRTIO_MMIO_QUEUE_READY, S.VIRTIO_MMIO_QUEUE_NOTIFY, S.VIRTIO_MMIO_INTERRUPT_STATUS, S.VIRTIO_MMIO_INTERRUPT_ACK,
      S.VIRTIO_MMIO_STATUS, S.VIRTIO_MMIO_QUEUE_DESC_LOW, S.VIRTIO_MMIO_QUEUE_DESC_HIGH, S.VIRTIO_MMIO_QUEUE_DRIVER_LOW,
      S.VIRTIO_MMIO_QUEUE_DRIVER_HIGH, S.VIRTIO_MMIO_QUEUE_DEVICE_LOW, S.VIRTIO_MMIO_QUEUE_DEVICE_HIGH,
      S.VIRTIO_MMIO_CONFIG_GENERATION, S.VIRTIO_MMIO_CONFIG,
    ]).toEqual([
      0x000, 0x004, 0x008, 0x00c, 0x010, 0x014, 0x020, 0x024, 0x030, 0x034, 0x038, 0x044, 0x050, 0x060, 0x064, 0x070,
      0x080, 0x084, 0x090, 0x094, 0x0a0, 0x0a4, 0x0fc, 0x100,
    ]);
    expect(S.VIRTIO_MMIO_MAGIC).toBe(0x74726976);
    // "virt" in little-endian byte order
    expect(String.fromCharCode(...new Uint8Array(new Uint32Array([S.VIRTIO_MMIO_MAGIC]).buffer))).toBe('virt');
    expect(S.VIRTIO_MMIO_VERSION_2).toBe(2);
    expect(S.VIRTIO_ID_BLOCK).toBe(2);
    expect([S.VIRTIO_MMIO_INT_VRING, S.VIRTIO_MMIO_INT_CONFIG]).toEqual([1, 2]);
  });

  it('device status bits (§2.1) and feature bits (§5.2.3, §6)', () => {
    expect([S.VIRTIO_STATUS_ACKNOWLEDGE, S.VIRTIO_STATUS_DRIVER, S.VIRTIO_STATUS_DRIVER_OK, S.VIRTIO_STATUS_FEATURES_OK,
      S.VIRTIO_STATUS_DEVICE_NEEDS_RESET, S.VIRTIO_STATUS_FAILED]).toEqual([1, 2, 4, 8, 64, 128]);
    expect(S.VIRTIO_F_VERSION_1).toBe(32);
    expect(S.VIRTIO_F_INDIRECT_DESC).toBe(28);
    expect(S.VIRTIO_F_EVENT_IDX).toBe(29);
    expect([S.VIRTIO_BLK_F_SIZE_MAX, S.VIRTIO_BLK_F_SEG_MAX, S.VIRTIO_BLK_F_GEOMETRY, S.VIRTIO_BLK_F_RO, S.VIRTIO_BLK_F_BLK_SIZE,
      S.VIRTIO_BLK_F_FLUSH, S.VIRTIO_BLK_F_TOPOLOGY, S.VIRTIO_BLK_F_CONFIG_WCE, S.VIRTIO_BLK_F_MQ, S.VIRTIO_BLK_F_DISCARD,
      S.VIRTIO_BLK_F_WRITE_ZEROES]).toEqual([1, 2, 4, 5, 6, 9, 10, 11, 12, 13, 14]);
    expect(S.featureBit(S.VIRTIO_F_VERSION_1)).toBe(0x1_0000_0000n);
    expect(S.hasFeature(S.featureBit(9) | S.featureBit(32), 9)).toBe(true);
    expect(S.hasFeature(S.featureBit(32), 9)).toBe(false);
    expect(() => S.featureBit(64)).toThrow(RangeError);
  });

  it('split ring layout: sizes, offsets, flags and alignments (§2.7)', () => {
    expect(S.VIRTQ_DESC_SIZE_BYTES).toBe(16);
    expect([S.VIRTQ_DESC_ADDR_OFFSET, S.VIRTQ_DESC_LEN_OFFSET, S.VIRTQ_DESC_FLAGS_OFFSET, S.VIRTQ_DESC_NEXT_OFFSET]).toEqual([0, 8, 12, 14]);
    expect([S.VIRTQ_DESC_F_NEXT, S.VIRTQ_DESC_F_WRITE, S.VIRTQ_DESC_F_INDIRECT]).toEqual([1, 2, 4]);
    expect([S.VIRTQ_AVAIL_FLAGS_OFFSET, S.VIRTQ_AVAIL_IDX_OFFSET, S.VIRTQ_AVAIL_RING_OFFSET, S.VIRTQ_AVAIL_ELEM_SIZE_BYTES]).toEqual([0, 2, 4, 2]);
    expect([S.VIRTQ_USED_FLAGS_OFFSET, S.VIRTQ_USED_IDX_OFFSET, S.VIRTQ_USED_RING_OFFSET, S.VIRTQ_USED_ELEM_SIZE_BYTES]).toEqual([0, 2, 4, 8]);
    expect([S.VIRTQ_USED_ELEM_ID_OFFSET, S.VIRTQ_USED_ELEM_LEN_OFFSET]).toEqual([0, 4]);
    expect(S.VIRTQ_AVAIL_F_NO_INTERRUPT).toBe(1);
    expect(S.VIRTQ_USED_F_NO_NOTIFY).toBe(1);
    expect([S.VIRTQ_DESC_ALIGN_BYTES, S.VIRTQ_AVAIL_ALIGN_BYTES, S.VIRTQ_USED_ALIGN_BYTES]).toEqual([16, 2, 4]);
    // §2.7 table: 16*n, 6+2*n, 6+8*n
    expect(S.virtqDescTableSizeBytes(256)).toBe(4096);
    expect(S.virtqAvailSizeBytes(256)).toBe(518);
    expect(S.virtqUsedSizeBytes(256)).toBe(2054);
    // used_event sits right after ring[n]; avail_event right after the used ring entries
    expect(S.VIRTQ_AVAIL_RING_OFFSET + 256 * S.VIRTQ_AVAIL_ELEM_SIZE_BYTES + 2).toBe(S.virtqAvailSizeBytes(256));
    expect(S.VIRTQ_USED_RING_OFFSET + 256 * S.VIRTQ_USED_ELEM_SIZE_BYTES + 2).toBe(S.virtqUsedSizeBytes(256));
    expect([1, 2, 256, 32768].every(S.isValidQueueSize)).toBe(true);
    expect([0, 3, 255, 65536, 1.5].some(S.isValidQueueSize)).toBe(false);
    expect(S.isValidQueueSize(L.VIRTQUEUE_SIZE_MAX)).toBe(true);
  });

  it('virtio-blk request types, statuses and structures (§5.2.6)', () => {
    expect([S.VIRTIO_BLK_T_IN, S.VIRTIO_BLK_T_OUT, S.VIRTIO_BLK_T_FLUSH, S.VIRTIO_BLK_T_GET_ID, S.VIRTIO_BLK_T_DISCARD,
      S.VIRTIO_BLK_T_WRITE_ZEROES]).toEqual([0, 1, 4, 8, 11, 13]);
    expect([S.VIRTIO_BLK_S_OK, S.VIRTIO_BLK_S_IOERR, S.VIRTIO_BLK_S_UNSUPP]).toEqual([0, 1, 2]);
    expect(S.VIRTIO_BLK_REQ_HEADER_SIZE_BYTES).toBe(16);
    expect([S.VIRTIO_BLK_REQ_TYPE_OFFSET, S.VIRTIO_BLK_REQ_RESERVED_OFFSET, S.VIRTIO_BLK_REQ_SECTOR_OFFSET]).toEqual([0, 4, 8]);
    expect(S.VIRTIO_BLK_ID_BYTES).toBe(20);
    expect(S.VIRTIO_BLK_DWZ_SEGMENT_SIZE_BYTES).toBe(16);
    expect([S.VIRTIO_BLK_DWZ_SECTOR_OFFSET, S.VIRTIO_BLK_DWZ_NUM_SECTORS_OFFSET, S.VIRTIO_BLK_DWZ_FLAGS_OFFSET]).toEqual([0, 8, 12]);
    expect(S.VIRTIO_BLK_DWZ_F_UNMAP).toBe(1);
    expect(S.VIRTIO_BLK_SECTOR_SIZE_BYTES).toBe(L.SECTOR_SIZE_BYTES);
  });

  it('virtio_blk_config offsets follow the struct layout (§5.2.4)', () => {
    const expected: Record<string, [number, number]> = {
      capacity: [0, 8], size_max: [8, 4], seg_max: [12, 4], 'geometry.cylinders': [16, 2], 'geometry.heads': [18, 1],
      'geometry.sectors': [19, 1], blk_size: [20, 4], 'topology.physical_block_exp': [24, 1], 'topology.alignment_offset': [25, 1],
      'topology.min_io_size': [26, 2], 'topology.opt_io_size': [28, 4], writeback: [32, 1], num_queues: [34, 2],
      max_discard_sectors: [36, 4], max_discard_seg: [40, 4], discard_sector_alignment: [44, 4], max_write_zeroes_sectors: [48, 4],
      max_write_zeroes_seg: [52, 4], write_zeroes_may_unmap: [56, 1],
    };
    const actual = Object.fromEntries(S.VIRTIO_BLK_CONFIG_FIELDS.map((f) => [f.name, [f.offsetBytes, f.sizeBytes]]));
    expect(actual).toEqual(expected);
    // fields never overlap, every multi-byte field is naturally aligned, and they fit the config size
    const sorted = [...S.VIRTIO_BLK_CONFIG_FIELDS].sort((a, b) => a.offsetBytes - b.offsetBytes);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i].offsetBytes).toBeGreaterThanOrEqual(sorted[i - 1].offsetBytes + sorted[i - 1].sizeBytes);
    for (const f of sorted) expect(f.offsetBytes % Math.min(f.sizeBytes, 4)).toBe(0);
    expect(sorted.at(-1)!.offsetBytes + sorted.at(-1)!.sizeBytes + 3).toBe(S.VIRTIO_BLK_CONFIG_SIZE_BYTES); // + unused1[3]
    expect(S.VIRTIO_BLK_CFG_CAPACITY).toBe(0);
    expect(S.VIRTIO_BLK_CFG_WRITE_ZEROES_MAY_UNMAP).toBe(56);
  });
});
