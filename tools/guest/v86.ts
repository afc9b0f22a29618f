/**
 * A small typed facade over npm `v86` (0.5.462), whose own typings are incomplete: the
 * options we use, the JS disk object its IDE controller calls, the 9P handler hook, the
 * events we listen to, and the emulator methods we call. Nothing else in Strata touches
 * libv86.mjs; when v86 changes, this file is where it shows.
 *
 * Facts this relies on (checked against build/libv86-debug.mjs of that version):
 *  - `filesystem: { handle9p(reqbuf, reply) }` hands over one whole T-message per call;
 *    `reply(bytes)` may come later, replies are matched to requests by tag.
 *  - A disk object with get/set/load is used as is (no copy); the IDE code also calls
 *    `get_and_cache(0, 512, cb)` at start and `get_from_cache(0, 512)` for the geometry,
 *    and save_state calls `get_state()` on it.
 *  - `emulator-started` precedes any serial traffic; `serial0-output-byte` carries one
 *    byte; `serial0_send(string)` types into the first UART.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The JS disk object v86's IDE controller accepts as `hda`. */
export interface V86Disk {
  readonly byteLength: number;
  onload?: (event: object) => void;
  onprogress?: (event: object) => void;
  load(): void;
  get(startBytes: number, lengthBytes: number, done: (data: Uint8Array) => void): void;
  /** `data` is only valid during the call: copy it. `done` may be called later. */
  set(startBytes: number, data: Uint8Array, done: () => void): void;
  get_and_cache(startBytes: number, lengthBytes: number, done: (data: Uint8Array) => void): void;
  /** Synchronous: answers only from what is cached, else undefined. */
  get_from_cache(startBytes: number, lengthBytes: number): Uint8Array | undefined;
  get_state(): unknown[];
  set_state(state: unknown[]): void;
}

export type Handle9p = (request: Uint8Array, reply: (response: Uint8Array) => void) => void;

export interface V86BufferImage {
  buffer: ArrayBuffer;
}

export interface V86Options {
  wasm_path: string;
  memory_size: number;
  vga_memory_size?: number;
  bios: V86BufferImage;
  vga_bios: V86BufferImage;
  bzimage?: V86BufferImage;
  initrd?: V86BufferImage;
  cmdline?: string;
  hda?: V86Disk;
  initial_state?: V86BufferImage;
  /** `{}` gives v86's own in-memory 9P filesystem; `{handle9p}` plugs our server. */
  filesystem?: Record<string, never> | { handle9p: Handle9p };
  autostart: boolean;
  disable_keyboard?: boolean;
  disable_mouse?: boolean;
  disable_speaker?: boolean;
  disable_jit?: boolean;
  acpi?: boolean;
}

export interface V86Events {
  'emulator-loaded': void;
  'emulator-ready': void;
  'emulator-started': void;
  'emulator-stopped': void;
  'serial0-output-byte': number;
}

export interface V86Emulator {
  add_listener<K extends keyof V86Events>(event: K, listener: (value: V86Events[K]) => void): void;
  remove_listener<K extends keyof V86Events>(event: K, listener: (value: V86Events[K]) => void): void;
  serial0_send(text: string): void;
  serial_send_bytes(port: number, data: Uint8Array): void;
  run(): Promise<void>;
  stop(): Promise<void>;
  destroy(): Promise<void>;
  is_running(): boolean;
  save_state(): Promise<ArrayBuffer>;
  /** Built-in filesystem only: puts a file into it (the parent directory must exist). */
  create_file(path: string, data: Uint8Array): Promise<void>;
  restore_state(state: ArrayBuffer): Promise<void>;
}

type V86Constructor = new (options: V86Options) => V86Emulator;

/** Folder of libv86.mjs and v86.wasm inside node_modules. */
export function v86BuildDir(): string {
  return path.dirname(fileURLToPath(import.meta.resolve('v86')));
}

let ctorPromise: Promise<V86Constructor> | undefined;

async function loadV86(): Promise<V86Constructor> {
  const mod = (await import('v86')) as unknown as { V86?: V86Constructor; default?: V86Constructor };
  const ctor = mod.V86 ?? mod.default;
  if (typeof ctor !== 'function') throw new Error('the v86 package does not export V86 (version changed?)');
  return ctor;
}

/** Creates an emulator and resolves once it has loaded every image (`emulator-loaded`). */
export async function createEmulator(options: Omit<V86Options, 'wasm_path'> & { wasm_path?: string }): Promise<V86Emulator> {
  ctorPromise ??= loadV86();
  const V86 = await ctorPromise;
  const emulator = new V86({
    wasm_path: options.wasm_path ?? path.join(v86BuildDir(), 'v86.wasm'),
    disable_keyboard: true,
    disable_mouse: true,
    disable_speaker: true,
    ...options,
  });
  await new Promise<void>((resolve) => {
    const loaded = () => {
      emulator.remove_listener('emulator-loaded', loaded);
      resolve();
    };
    emulator.add_listener('emulator-loaded', loaded);
  });
  return emulator;
}

/** An ArrayBuffer holding exactly `bytes` (Node Buffers may share a larger pool). */
export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const out = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(out).set(bytes);
  return out;
}
