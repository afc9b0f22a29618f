/**
 * What a service is and what it sees: the manifest it is spawned from, the context the
 * kernel hands it, and the handlers it gives back.
 *
 * A service reaches the world only through its ServiceContext: calls to the endpoints
 * its manifest names, its own clock, randomness and timers, memory it owns or holds by
 * grant, and (for drivers) MMIO windows and interrupt lines its manifest names. Nothing
 * here reads Date.now, Math.random or setTimeout, so the same seed replays the same run.
 */
import type { Region, Rights } from './memory.ts';

export interface Manifest<Config = unknown> {
  /** Unique service name; also the owner name for memory and the `from` of its messages. */
  name: string;
  /** Endpoints this service serves. */
  provides: string[];
  /** Endpoints this service may call or send to; anything else is refused with NOCAP. */
  calls: string[];
  /** Interrupt lines it may register for. */
  irqs?: number[];
  /** Base addresses of MMIO windows it may map. */
  mmio?: number[];
  /** May translate its memory and grants to physical addresses for device DMA. */
  dma?: boolean;
  config?: Config;
  service: ServiceDefinition<Config>;
  /**
   * The same service named by module, for the isolated kernel (a worker thread per
   * service cannot be handed `service`, a function): `module` is a file URL and
   * `export` the name of its exported ServiceDefinition. The deterministic kernel uses
   * `service`; a manifest spawned in isolated mode must have `entry`.
   */
  entry?: { module: string; export: string };
}

export interface ServiceDefinition<Config = unknown> {
  start(ctx: ServiceContext, config: Config): ServiceHandlers | Promise<ServiceHandlers>;
}

export interface IncomingRequest {
  from: string;
  endpoint: string;
  op: string;
  body: unknown;
  /** Correlation id of this call (for logs). */
  id: number;
}

export interface IncomingMessage {
  from: string;
  endpoint: string;
  op: string;
  body: unknown;
}

export interface ServiceHandlers {
  /** Answers a call: the resolved value is the reply; a thrown ServiceError is an error reply. */
  handle?(req: IncomingRequest): unknown | Promise<unknown>;
  /** Receives one-way sends. */
  onMessage?(msg: IncomingMessage): void;
  /** Called on shutdown; flush what must be flushed. */
  stop?(): void | Promise<void>;
}

export interface CallOptions {
  timeoutMs?: number;
  /**
   * A call that may wait a long time by design (a long poll for new log commits). On the
   * virtual clock it does not count as someone waiting, so it cannot keep time moving on
   * an otherwise idle system; its timeout still fires when time moves for other reasons.
   */
  background?: boolean;
}

export interface Clock {
  /** Milliseconds since boot: virtual in the deterministic kernel, real otherwise. */
  nowMs(): number;
}

export interface Timers {
  setTimeout(fn: () => void, delayMs: number): number;
  clearTimeout(timerId: number): void;
}

export interface RandomSource {
  u32(): number;
  float(): number;
  below(bound: number): number;
  fill(bytes: Uint8Array): Uint8Array;
}

export type MemoryRef = { regionId: number } | { grantId: number };

export interface ServiceMemory {
  alloc(sizeBytes: number): Region;
  free(region: Region): void;
  /** A live view of memory this service owns. */
  view(region: Region, offsetBytes?: number, lengthBytes?: number): Uint8Array;
  /** Lends part of a region to the service providing `endpoint`. */
  grant(region: Region, endpoint: string, rights: Rights, offsetBytes?: number, lengthBytes?: number): number;
  revoke(grantId: number): void;
  grantSize(grantId: number): number;
  /** A live view of memory held by grant, if the grant has the rights asked for. */
  grantView(grantId: number, need: Rights, offsetBytes?: number, lengthBytes?: number): Uint8Array;
  /** Physical address for device DMA (needs `dma` in the manifest). */
  physAddr(ref: MemoryRef, offsetBytes: number, lengthBytes: number, need: Rights): number;
}

export interface MmioWindow {
  read(offset: number, width: 1 | 2 | 4): number;
  write(offset: number, width: 1 | 2 | 4, value: number): void;
}

export interface ServiceContext {
  readonly name: string;
  call<T = unknown>(endpoint: string, op: string, body?: unknown, options?: CallOptions): Promise<T>;
  send(endpoint: string, op: string, body?: unknown): void;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: RandomSource;
  readonly memory: ServiceMemory;
  /** Maps an MMIO window named in the manifest. */
  mmio(base: number): MmioWindow;
  /** Registers for an interrupt line named in the manifest; the handler runs as a scheduler step. */
  onInterrupt(line: number, handler: () => void): void;
  /** A line for the boot log / kernel log. */
  log(message: string): void;
}
