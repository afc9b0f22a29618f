/**
 * What the kernel (main thread) and a service's worker say to each other: the envelope
 * of every record in their rings, and the synchronous calls a worker may make.
 *
 * Every envelope is one msgpackr map (kernel/codec.ts), so what crosses is bytes and
 * no object is shared, exactly as between services in the deterministic kernel. The
 * worker never routes anything itself: calls, sends and replies go to the kernel, which
 * routes them through the same Kernel code as the deterministic mode (capabilities,
 * counters, trace, STOPPED, TIMEOUT); this file only names the pieces.
 *
 * Synchronous calls (`sys`) exist because parts of ServiceContext are synchronous by
 * contract: MMIO reads return a value, memory.alloc returns a Region, onInterrupt and
 * mmio() throw NOCAP at once. A worker posts a `sys` envelope in its ring (so it is
 * ordered after everything it sent before, e.g. posted MMIO writes) and blocks until
 * the kernel writes the answer into the worker's reply area (worker-control.ts).
 */
import type { Rights } from '../memory.ts';
import type { MemoryRef } from '../service.ts';

export type Width = 1 | 2 | 4;

/** kernel -> worker */
export type ToWorker =
  | { k: 'call'; id: number; from: string; endpoint: string; op: string; body: unknown }
  | { k: 'send'; from: string; endpoint: string; op: string; body: unknown }
  | { k: 'reply'; cid: number; ok: true; value: unknown }
  | { k: 'reply'; cid: number; ok: false; code: string; message: string }
  | { k: 'irq'; line: number }
  /** A grant this service now holds (pushed before any message that could name it). */
  | { k: 'grant'; grantId: number; addr: number; sizeBytes: number; rights: Rights }
  /** A grant it held is gone (revoked, or its region freed). */
  | { k: 'drop'; grantId: number }
  | { k: 'stop' };

/** worker -> kernel */
export type ToKernel =
  | { k: 'started' }
  | { k: 'startFailed'; message: string }
  | { k: 'reply'; id: number; ok: true; value: unknown }
  /** `internal`: the handler threw something that is not a ServiceError (the kernel counts it). */
  | { k: 'reply'; id: number; ok: false; code: string; message: string; internal: boolean }
  | { k: 'call'; cid: number; endpoint: string; op: string; body: unknown; timeoutMs?: number }
  | { k: 'send'; endpoint: string; op: string; body: unknown }
  /** A posted MMIO write: ordered with every other record, never waited for (like PCI). */
  | { k: 'mmioW'; handle: number; offset: number; width: Width; value: number }
  | { k: 'sys'; call: SysCall }
  | { k: 'log'; message: string }
  /** A guarded handler (interrupt, one-way message, timer) threw: counted, the service goes on. */
  | { k: 'fault'; message: string }
  | { k: 'stopped' };

/** The synchronous calls; each answers a SysResult in the worker's reply area. */
export type SysCall =
  | { op: 'alloc'; sizeBytes: number }
  | { op: 'free'; regionId: number }
  | { op: 'view'; regionId: number; offsetBytes?: number; lengthBytes?: number }
  | { op: 'grant'; regionId: number; endpoint: string; rights: Rights; offsetBytes?: number; lengthBytes?: number }
  | { op: 'revoke'; grantId: number }
  | { op: 'grantSize'; grantId: number }
  | { op: 'grantView'; grantId: number; need: Rights; offsetBytes?: number; lengthBytes?: number }
  | { op: 'physAddr'; ref: MemoryRef; offsetBytes: number; lengthBytes: number; need: Rights }
  | { op: 'mmioMap'; base: number }
  | { op: 'mmioR'; handle: number; offset: number; width: Width }
  | { op: 'irq'; line: number };

export type SysResult = { ok: true; value: unknown } | { ok: false; code: string; message: string };

/** What a worker is started with (workerData). */
export interface WorkerBoot {
  name: string;
  calls: string[];
  dma: boolean;
  entry: { module: string; export: string };
  config: unknown;
  /** Seed of the service's own Random stream (derived by the kernel from its seed). */
  randomSeed: number;
  /** The kernel clock's zero as an absolute time (performance.timeOrigin + now). */
  epochAbsMs: number;
  /** Physical memory of the machine. */
  physical: SharedArrayBuffer;
  /** Rings: kernel -> worker, worker -> kernel. */
  toWorker: SharedArrayBuffer;
  toKernel: SharedArrayBuffer;
  /** The worker's control words (doorbell, sync reply, heartbeat) and reply area. */
  control: SharedArrayBuffer;
  /** The kernel's shared words (its doorbell, the core gate). */
  kernelControl: SharedArrayBuffer;
}
