/**
 * The contract between the virtio-mmio transport and one device type behind it
 * (virtio-blk today; a console or entropy device would implement the same).
 *
 * The transport owns everything the specification puts in the transport: status,
 * feature selection, queue registers, interrupts, resets. A device says what it offers
 * (id, features, queues, config layout), may veto a feature set, and completes chains
 * when the transport asks it to. It never touches registers or raises interrupts.
 *
 * Invariants a device keeps: `process` completes at most `budget` chains and throws
 * only ChainError or MemoryFault for guest mistakes (anything else is a device bug and
 * stops the machine loudly); config reads never have side effects; `reset` forgets
 * every negotiated state.
 */

import type { ConfigField } from './virtio-spec.ts';
import type { DeviceVirtqueue } from './virtqueue.ts';

/** One virtio device type behind the transport. */
export interface VirtioDevice {
  readonly deviceId: number;
  readonly vendorId: number;
  /** The 64 feature bits the device offers. */
  readonly deviceFeatures: bigint;
  readonly queueCount: number;
  readonly queueSizeMax: number;
  readonly configSizeBytes: number;
  /** The config layout, used to check every driver access. */
  readonly configFields: readonly ConfigField[];
  /** Little-endian read of config bytes [offsetBytes, +width). */
  configRead(offsetBytes: number, width: 1 | 2 | 4): number;
  /** Returns false if the field cannot be written (the transport logs a driver bug). */
  configWrite(offsetBytes: number, width: 1 | 2 | 4, value: number): boolean;
  /** A reason to refuse FEATURES_OK for this accepted set, or null. */
  checkFeatures(accepted: bigint): string | null;
  /** FEATURES_OK was accepted with this set. */
  featuresAccepted(accepted: bigint): void;
  /** Completes up to `budget` available chains; throws ChainError/MemoryFault for guest faults. */
  process(queueIndex: number, queue: DeviceVirtqueue, budget: number): void;
  reset(): void;
}

/** What a transport needs from the machine: its own interrupt line and a work queue. */
export interface TransportHost {
  raiseInterrupt(): void;
  defer(work: () => void): void;
}
