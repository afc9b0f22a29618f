/**
 * The virtio 1.x specification's numbers, and nothing else: shared by the emulated
 * device (kernel/machine) and the driver (drivers/virtio-blk), as xv6 shares virtio.h.
 *
 * Every value below was checked against the OASIS specification text
 * (oasis-tcs/virtio-spec: content.tex, split-ring.tex, transport-mmio.tex,
 * device-types/blk/description.tex). Section numbers are those of virtio 1.2/1.3:
 *   §2.1 Device Status Field, §2.2 Feature Bits, §2.7 Split Virtqueues,
 *   §4.2.2 MMIO Device Register Layout, §5.2 Block Device, §6 Reserved Feature Bits.
 *
 * Invariants: all multi-byte fields are little-endian (§2.5, §4.2.2); feature bits are
 * bit *indices* (0..63) so that they can select a word with DeviceFeaturesSel; use
 * `featureBit()` to turn one into a 64-bit mask.
 */

// ---- §4.2.2 virtio-mmio register offsets (from the device's base address) ----------
export const VIRTIO_MMIO_MAGIC_VALUE = 0x000; // R
export const VIRTIO_MMIO_VERSION = 0x004; // R
export const VIRTIO_MMIO_DEVICE_ID = 0x008; // R
export const VIRTIO_MMIO_VENDOR_ID = 0x00c; // R
export const VIRTIO_MMIO_DEVICE_FEATURES = 0x010; // R
export const VIRTIO_MMIO_DEVICE_FEATURES_SEL = 0x014; // W
export const VIRTIO_MMIO_DRIVER_FEATURES = 0x020; // W
export const VIRTIO_MMIO_DRIVER_FEATURES_SEL = 0x024; // W
export const VIRTIO_MMIO_QUEUE_SEL = 0x030; // W
export const VIRTIO_MMIO_QUEUE_NUM_MAX = 0x034; // R ("QueueSizeMax" in 1.3)
export const VIRTIO_MMIO_QUEUE_NUM = 0x038; // W ("QueueSize" in 1.3)
export const VIRTIO_MMIO_QUEUE_READY = 0x044; // RW
export const VIRTIO_MMIO_QUEUE_NOTIFY = 0x050; // W
export const VIRTIO_MMIO_INTERRUPT_STATUS = 0x060; // R
export const VIRTIO_MMIO_INTERRUPT_ACK = 0x064; // W
export const VIRTIO_MMIO_STATUS = 0x070; // RW
export const VIRTIO_MMIO_QUEUE_DESC_LOW = 0x080; // W
export const VIRTIO_MMIO_QUEUE_DESC_HIGH = 0x084; // W
export const VIRTIO_MMIO_QUEUE_DRIVER_LOW = 0x090; // W (available ring)
export const VIRTIO_MMIO_QUEUE_DRIVER_HIGH = 0x094; // W
export const VIRTIO_MMIO_QUEUE_DEVICE_LOW = 0x0a0; // W (used ring)
export const VIRTIO_MMIO_QUEUE_DEVICE_HIGH = 0x0a4; // W
export const VIRTIO_MMIO_CONFIG_GENERATION = 0x0fc; // R
export const VIRTIO_MMIO_CONFIG = 0x100; // RW, device-specific configuration space

/** "virt" read as a little-endian u32 (§4.2.2). */
export const VIRTIO_MMIO_MAGIC = 0x74726976;
/** Non-legacy virtio-mmio (§4.2.2; legacy devices report 1). */
export const VIRTIO_MMIO_VERSION_2 = 2;
/** §5 Device Types: the block device's DeviceID. */
export const VIRTIO_ID_BLOCK = 2;
/** Our VendorID: any value is allowed; this one spells "STRA" little-endian. */
export const STRATA_VIRTIO_VENDOR_ID = 0x41525453;

/** §4.2.2 InterruptStatus / InterruptACK bits. */
export const VIRTIO_MMIO_INT_VRING = 1 << 0; // used buffer notification
export const VIRTIO_MMIO_INT_CONFIG = 1 << 1; // configuration change notification

// ---- §2.1 device status bits -------------------------------------------------------
export const VIRTIO_STATUS_ACKNOWLEDGE = 1;
export const VIRTIO_STATUS_DRIVER = 2;
export const VIRTIO_STATUS_DRIVER_OK = 4;
export const VIRTIO_STATUS_FEATURES_OK = 8;
export const VIRTIO_STATUS_DEVICE_NEEDS_RESET = 64;
export const VIRTIO_STATUS_FAILED = 128;

// ---- feature bit indices (§6 reserved bits, §5.2.3 block device bits) --------------
export const VIRTIO_F_INDIRECT_DESC = 28;
export const VIRTIO_F_EVENT_IDX = 29;
export const VIRTIO_F_VERSION_1 = 32;
export const VIRTIO_F_ACCESS_PLATFORM = 33;
export const VIRTIO_F_RING_PACKED = 34;

export const VIRTIO_BLK_F_SIZE_MAX = 1;
export const VIRTIO_BLK_F_SEG_MAX = 2;
export const VIRTIO_BLK_F_GEOMETRY = 4;
export const VIRTIO_BLK_F_RO = 5;
export const VIRTIO_BLK_F_BLK_SIZE = 6;
export const VIRTIO_BLK_F_FLUSH = 9;
export const VIRTIO_BLK_F_TOPOLOGY = 10;
export const VIRTIO_BLK_F_CONFIG_WCE = 11;
export const VIRTIO_BLK_F_MQ = 12;
export const VIRTIO_BLK_F_DISCARD = 13;
export const VIRTIO_BLK_F_WRITE_ZEROES = 14;

/** Device features are 64 bits: DeviceFeaturesSel 0 and 1 select the two words (§4.2.2). */
export const VIRTIO_FEATURE_BITS = 64;

/** The 64-bit mask of one feature bit index. */
export function featureBit(bitIndex: number): bigint {
  if (!Number.isInteger(bitIndex) || bitIndex < 0 || bitIndex >= VIRTIO_FEATURE_BITS) {
    throw new RangeError(`featureBit: bitIndex must be an integer in [0, 64), got ${bitIndex}`);
  }
  return 1n << BigInt(bitIndex);
}

/** True if `features` has bit `bitIndex` set. */
export function hasFeature(features: bigint, bitIndex: number): boolean {
  return (features & featureBit(bitIndex)) !== 0n;
}

// ---- §2.7 split virtqueue layout ---------------------------------------------------
/** struct virtq_desc { le64 addr; le32 len; le16 flags; le16 next; } */
export const VIRTQ_DESC_SIZE_BYTES = 16;
export const VIRTQ_DESC_ADDR_OFFSET = 0;
export const VIRTQ_DESC_LEN_OFFSET = 8;
export const VIRTQ_DESC_FLAGS_OFFSET = 12;
export const VIRTQ_DESC_NEXT_OFFSET = 14;

/** §2.7 "The Virtqueue Descriptor Table": descriptor flags. */
export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;

/** struct virtq_avail { le16 flags; le16 idx; le16 ring[n]; le16 used_event; } */
export const VIRTQ_AVAIL_FLAGS_OFFSET = 0;
export const VIRTQ_AVAIL_IDX_OFFSET = 2;
export const VIRTQ_AVAIL_RING_OFFSET = 4;
export const VIRTQ_AVAIL_ELEM_SIZE_BYTES = 2;
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;

/** struct virtq_used { le16 flags; le16 idx; struct { le32 id; le32 len; } ring[n]; le16 avail_event; } */
export const VIRTQ_USED_FLAGS_OFFSET = 0;
export const VIRTQ_USED_IDX_OFFSET = 2;
export const VIRTQ_USED_RING_OFFSET = 4;
export const VIRTQ_USED_ELEM_SIZE_BYTES = 8;
export const VIRTQ_USED_ELEM_ID_OFFSET = 0;
export const VIRTQ_USED_ELEM_LEN_OFFSET = 4;
export const VIRTQ_USED_F_NO_NOTIFY = 1;

/** §2.7 table: minimum alignment of each part, in bytes. */
export const VIRTQ_DESC_ALIGN_BYTES = 16;
export const VIRTQ_AVAIL_ALIGN_BYTES = 2;
export const VIRTQ_USED_ALIGN_BYTES = 4;
/** §2.7: queue size is a power of two, at most 32768. */
export const VIRTQ_SIZE_LIMIT = 32768;

/** §2.7 table: Descriptor Table size = 16 * n. */
export function virtqDescTableSizeBytes(queueSize: number): number {
  return VIRTQ_DESC_SIZE_BYTES * queueSize;
}
/** §2.7 table: Available Ring size = 6 + 2 * n (flags, idx, ring[n], used_event). */
export function virtqAvailSizeBytes(queueSize: number): number {
  return 6 + VIRTQ_AVAIL_ELEM_SIZE_BYTES * queueSize;
}
/** §2.7 table: Used Ring size = 6 + 8 * n (flags, idx, ring[n], avail_event). */
export function virtqUsedSizeBytes(queueSize: number): number {
  return 6 + VIRTQ_USED_ELEM_SIZE_BYTES * queueSize;
}
export function isValidQueueSize(queueSize: number): boolean {
  return Number.isInteger(queueSize) && queueSize > 0 && queueSize <= VIRTQ_SIZE_LIMIT && (queueSize & (queueSize - 1)) === 0;
}

// ---- §5.2.6 virtio-blk requests ----------------------------------------------------
export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_T_GET_LIFETIME = 10;
export const VIRTIO_BLK_T_DISCARD = 11;
export const VIRTIO_BLK_T_WRITE_ZEROES = 13;
export const VIRTIO_BLK_T_SECURE_ERASE = 14;

export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

/** struct virtio_blk_req header: { le32 type; le32 reserved; le64 sector; } then data[], then u8 status. */
export const VIRTIO_BLK_REQ_HEADER_SIZE_BYTES = 16;
export const VIRTIO_BLK_REQ_TYPE_OFFSET = 0;
export const VIRTIO_BLK_REQ_RESERVED_OFFSET = 4;
export const VIRTIO_BLK_REQ_SECTOR_OFFSET = 8;
export const VIRTIO_BLK_REQ_STATUS_SIZE_BYTES = 1;
/** Protocol sectors are always 512 bytes, whatever blk_size says (§5.2.5). */
export const VIRTIO_BLK_SECTOR_SIZE_BYTES = 512;
/** GET_ID: a NUL-padded ASCII string of up to 20 bytes, no NUL when it is 20 long. */
export const VIRTIO_BLK_ID_BYTES = 20;

/** struct virtio_blk_discard_write_zeroes { le64 sector; le32 num_sectors; le32 flags; } */
export const VIRTIO_BLK_DWZ_SEGMENT_SIZE_BYTES = 16;
export const VIRTIO_BLK_DWZ_SECTOR_OFFSET = 0;
export const VIRTIO_BLK_DWZ_NUM_SECTORS_OFFSET = 8;
export const VIRTIO_BLK_DWZ_FLAGS_OFFSET = 12;
export const VIRTIO_BLK_DWZ_F_UNMAP = 1;

// ---- §5.2.4 struct virtio_blk_config field offsets ---------------------------------
export const VIRTIO_BLK_CFG_CAPACITY = 0; // le64, 512-byte sectors, always present
export const VIRTIO_BLK_CFG_SIZE_MAX = 8; // le32 (SIZE_MAX)
export const VIRTIO_BLK_CFG_SEG_MAX = 12; // le32 (SEG_MAX)
export const VIRTIO_BLK_CFG_GEOMETRY_CYLINDERS = 16; // le16 (GEOMETRY)
export const VIRTIO_BLK_CFG_GEOMETRY_HEADS = 18; // u8
export const VIRTIO_BLK_CFG_GEOMETRY_SECTORS = 19; // u8
export const VIRTIO_BLK_CFG_BLK_SIZE = 20; // le32 (BLK_SIZE)
export const VIRTIO_BLK_CFG_PHYSICAL_BLOCK_EXP = 24; // u8 (TOPOLOGY)
export const VIRTIO_BLK_CFG_ALIGNMENT_OFFSET = 25; // u8
export const VIRTIO_BLK_CFG_MIN_IO_SIZE = 26; // le16
export const VIRTIO_BLK_CFG_OPT_IO_SIZE = 28; // le32
export const VIRTIO_BLK_CFG_WRITEBACK = 32; // u8 (CONFIG_WCE)
export const VIRTIO_BLK_CFG_NUM_QUEUES = 34; // le16 (MQ), after u8 unused0 at 33
export const VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS = 36; // le32 (DISCARD)
export const VIRTIO_BLK_CFG_MAX_DISCARD_SEG = 40; // le32
export const VIRTIO_BLK_CFG_DISCARD_SECTOR_ALIGNMENT = 44; // le32
export const VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS = 48; // le32 (WRITE_ZEROES)
export const VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG = 52; // le32
export const VIRTIO_BLK_CFG_WRITE_ZEROES_MAY_UNMAP = 56; // u8, then u8 unused1[3]
/** Bytes of virtio_blk_config up to and including unused1 (secure erase and zoned fields follow). */
export const VIRTIO_BLK_CONFIG_SIZE_BYTES = 60;

/** One config field: where it is, how wide, and which feature makes it valid (null: always). */
export interface ConfigField {
  readonly name: string;
  readonly offsetBytes: number;
  readonly sizeBytes: 1 | 2 | 4 | 8;
  readonly featureBit: number | null;
}

/** The fields of virtio_blk_config we expose, in layout order (§5.2.4). */
export const VIRTIO_BLK_CONFIG_FIELDS: readonly ConfigField[] = [
  { name: 'capacity', offsetBytes: VIRTIO_BLK_CFG_CAPACITY, sizeBytes: 8, featureBit: null },
  { name: 'size_max', offsetBytes: VIRTIO_BLK_CFG_SIZE_MAX, sizeBytes: 4, featureBit: VIRTIO_BLK_F_SIZE_MAX },
  { name: 'seg_max', offsetBytes: VIRTIO_BLK_CFG_SEG_MAX, sizeBytes: 4, featureBit: VIRTIO_BLK_F_SEG_MAX },
  { name: 'geometry.cylinders', offsetBytes: VIRTIO_BLK_CFG_GEOMETRY_CYLINDERS, sizeBytes: 2, featureBit: VIRTIO_BLK_F_GEOMETRY },
  { name: 'geometry.heads', offsetBytes: VIRTIO_BLK_CFG_GEOMETRY_HEADS, sizeBytes: 1, featureBit: VIRTIO_BLK_F_GEOMETRY },
  { name: 'geometry.sectors', offsetBytes: VIRTIO_BLK_CFG_GEOMETRY_SECTORS, sizeBytes: 1, featureBit: VIRTIO_BLK_F_GEOMETRY },
  { name: 'blk_size', offsetBytes: VIRTIO_BLK_CFG_BLK_SIZE, sizeBytes: 4, featureBit: VIRTIO_BLK_F_BLK_SIZE },
  { name: 'topology.physical_block_exp', offsetBytes: VIRTIO_BLK_CFG_PHYSICAL_BLOCK_EXP, sizeBytes: 1, featureBit: VIRTIO_BLK_F_TOPOLOGY },
  { name: 'topology.alignment_offset', offsetBytes: VIRTIO_BLK_CFG_ALIGNMENT_OFFSET, sizeBytes: 1, featureBit: VIRTIO_BLK_F_TOPOLOGY },
  { name: 'topology.min_io_size', offsetBytes: VIRTIO_BLK_CFG_MIN_IO_SIZE, sizeBytes: 2, featureBit: VIRTIO_BLK_F_TOPOLOGY },
  { name: 'topology.opt_io_size', offsetBytes: VIRTIO_BLK_CFG_OPT_IO_SIZE, sizeBytes: 4, featureBit: VIRTIO_BLK_F_TOPOLOGY },
  { name: 'writeback', offsetBytes: VIRTIO_BLK_CFG_WRITEBACK, sizeBytes: 1, featureBit: VIRTIO_BLK_F_CONFIG_WCE },
  { name: 'num_queues', offsetBytes: VIRTIO_BLK_CFG_NUM_QUEUES, sizeBytes: 2, featureBit: VIRTIO_BLK_F_MQ },
  { name: 'max_discard_sectors', offsetBytes: VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, sizeBytes: 4, featureBit: VIRTIO_BLK_F_DISCARD },
  { name: 'max_discard_seg', offsetBytes: VIRTIO_BLK_CFG_MAX_DISCARD_SEG, sizeBytes: 4, featureBit: VIRTIO_BLK_F_DISCARD },
  { name: 'discard_sector_alignment', offsetBytes: VIRTIO_BLK_CFG_DISCARD_SECTOR_ALIGNMENT, sizeBytes: 4, featureBit: VIRTIO_BLK_F_DISCARD },
  { name: 'max_write_zeroes_sectors', offsetBytes: VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS, sizeBytes: 4, featureBit: VIRTIO_BLK_F_WRITE_ZEROES },
  { name: 'max_write_zeroes_seg', offsetBytes: VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG, sizeBytes: 4, featureBit: VIRTIO_BLK_F_WRITE_ZEROES },
  { name: 'write_zeroes_may_unmap', offsetBytes: VIRTIO_BLK_CFG_WRITE_ZEROES_MAY_UNMAP, sizeBytes: 1, featureBit: VIRTIO_BLK_F_WRITE_ZEROES },
];
