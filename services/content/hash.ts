/**
 * BLAKE3 behind one small interface: `hash(bytes)` (32 bytes), a streaming
 * `createHasher()`, and a `name`. Three implementations produce the same bytes:
 *
 *  - native: @c4312/blake3-native, the C implementation with SIMD (about 7-8 GB/s on
 *    large inputs here), called through its raw binding (the package's wrapper builds a
 *    stream.Transform per hash). It costs ~10 us per call whatever the size.
 *  - wasm:   hash-wasm's createBLAKE3, one instance reused (about 0.8-0.95 GB/s, ~0.3 us
 *    per call).
 *  - noble:  @noble/hashes, pure JS and audited (about 55 MB/s): the reference the
 *    others are checked against.
 *
 * Choice, made once at module load: native where the addon loads, wasm otherwise,
 * noble if neither does. With native chosen, inputs below HASH_NATIVE_MIN_BYTES (8 KiB)
 * go to wasm: measured here, wasm hashes 4 KiB in 4.3 us against native's 11 us, and
 * 16 KiB in 20 us against 10 us, so the crossover is near 9 KiB. `blake3Implementation()`
 * says what was chosen, for the boot log.
 *
 * The native addon must never see a view of a SharedArrayBuffer (the machine's physical
 * memory, where grants and staging live): it crashes the process. Such inputs go to wasm
 * (or are copied, when streaming).
 *
 * Invariant: every digest is exactly HASH_SIZE_BYTES and a fresh Uint8Array the caller
 * may keep (never a view into a reused buffer).
 */
import { createRequire } from 'node:module';
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js';
import { createBLAKE3 } from 'hash-wasm';
import { HASH_NATIVE_MIN_BYTES, HASH_SIZE_BYTES } from './limits.ts';
import { assert } from './errors.ts';

export interface StreamHasher {
  update(bytes: Uint8Array): StreamHasher;
  /** The 32-byte digest; the hasher may not be used afterwards. */
  digest(): Uint8Array;
}

export interface Blake3 {
  readonly name: string;
  hash(bytes: Uint8Array): Uint8Array;
  createHasher(): StreamHasher;
}

// ---- noble (reference) ----------------------------------------------------------------

export const nobleBlake3Impl: Blake3 = {
  name: 'noble',
  hash: (bytes) => nobleBlake3(bytes),
  createHasher() {
    const h = nobleBlake3.create();
    const s: StreamHasher = {
      update: (b) => (h.update(b), s),
      digest: () => h.digest(),
    };
    return s;
  },
};

// ---- wasm -----------------------------------------------------------------------------

type WasmHasher = Awaited<ReturnType<typeof createBLAKE3>>;

async function loadWasm(): Promise<Blake3> {
  const shared: WasmHasher = await createBLAKE3();
  // Streaming hashers get their own instance (an interleaved stream must not share state);
  // hash-wasm builds instances from the already-compiled module, so this stays cheap.
  const spares: WasmHasher[] = [];
  const take = async () => spares.pop() ?? (await createBLAKE3());
  // Keep a few instances ready so createHasher() can stay synchronous.
  for (let i = 0; i < 8; i++) spares.push(await take());
  return {
    name: 'wasm',
    hash(bytes) {
      shared.init();
      shared.update(bytes);
      return shared.digest('binary');
    },
    createHasher() {
      const h = spares.pop();
      if (h === undefined) return nobleBlake3Impl.createHasher(); // rare: many streams at once
      h.init();
      let done = false;
      const s: StreamHasher = {
        update: (b) => (assert(!done, 'update after digest'), h.update(b), s),
        digest: () => {
          assert(!done, 'digest twice');
          done = true;
          const d = h.digest('binary');
          spares.push(h);
          return d;
        },
      };
      return s;
    },
  };
}

// ---- native ---------------------------------------------------------------------------

interface NativeBinding {
  createHash(): { update(data: Uint8Array): void; digest(length?: number): Uint8Array };
}

function loadNative(): NativeBinding | undefined {
  try {
    const require = createRequire(import.meta.url);
    const binding = require('@c4312/blake3-native/build/Release/blake3.node') as NativeBinding;
    if (typeof binding.createHash !== 'function') return undefined;
    return binding;
  } catch {
    return undefined;
  }
}

/** The addon crashes the process (SIGSEGV) on views of a SharedArrayBuffer (physical memory, grants): those are copied first. */
function unshared(bytes: Uint8Array): Uint8Array {
  return bytes.buffer instanceof SharedArrayBuffer ? bytes.slice() : bytes;
}

function nativeImpl(binding: NativeBinding, small: Blake3 | undefined): Blake3 {
  const whole = (bytes: Uint8Array) => {
    if (small && bytes.buffer instanceof SharedArrayBuffer) return small.hash(bytes); // wasm copies into its own memory anyway
    const h = binding.createHash();
    h.update(unshared(bytes));
    return new Uint8Array(h.digest(HASH_SIZE_BYTES));
  };
  return {
    name: small ? `native (wasm below ${HASH_NATIVE_MIN_BYTES} bytes)` : 'native',
    hash: small ? (bytes) => (bytes.length < HASH_NATIVE_MIN_BYTES ? small.hash(bytes) : whole(bytes)) : whole,
    createHasher() {
      const h = binding.createHash();
      let done = false;
      const s: StreamHasher = {
        update: (b) => (assert(!done, 'update after digest'), h.update(unshared(b)), s),
        digest: () => {
          assert(!done, 'digest twice');
          done = true;
          return new Uint8Array(h.digest(HASH_SIZE_BYTES));
        },
      };
      return s;
    },
  };
}

// ---- choice at load -------------------------------------------------------------------

async function loadAll(): Promise<{ native?: Blake3; wasm?: Blake3; chosen: Blake3 }> {
  const wasm = await loadWasm().catch(() => undefined);
  const binding = loadNative();
  const native = binding ? nativeImpl(binding, undefined) : undefined;
  const chosen = binding ? nativeImpl(binding, wasm) : (wasm ?? nobleBlake3Impl);
  // Check the choice on one known answer before trusting it (BLAKE3 of the empty input).
  const empty = Buffer.from(chosen.hash(new Uint8Array(0))).toString('hex');
  if (empty !== 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262') {
    return { native, wasm, chosen: nobleBlake3Impl };
  }
  return { native, wasm, chosen };
}

const loaded = await loadAll();

/** The implementation the store uses. */
export const blake3: Blake3 = loaded.chosen;

/** Every implementation that loaded here, by name (for tests and the benchmark). */
export const blake3Implementations: Readonly<Record<string, Blake3>> = Object.freeze({
  ...(loaded.native ? { native: loaded.native } : {}),
  ...(loaded.wasm ? { wasm: loaded.wasm } : {}),
  noble: nobleBlake3Impl,
  chosen: loaded.chosen,
});

/** What was chosen at start, e.g. "native (wasm below 8192 bytes)". */
export function blake3Implementation(): string {
  return blake3.name;
}

/** BLAKE3 of `bytes` with the chosen implementation, checked to be 32 bytes. */
export function hashChunk(bytes: Uint8Array): Uint8Array {
  const h = blake3.hash(bytes);
  assert(h.length === HASH_SIZE_BYTES, 'BLAKE3 digest is 32 bytes');
  return h;
}

/** An implementation as the seam Axiom uses (axiom/chain.ts Hasher), so the log can use the fast hash too. */
export function axiomHasherOf(impl: Blake3): { name: string; hash(parts: readonly Uint8Array[]): Uint8Array } {
  return {
    name: `blake3 (${impl.name})`,
    hash(parts: readonly Uint8Array[]): Uint8Array {
      if (parts.length === 1) return impl.hash(parts[0]);
      const h = impl.createHasher();
      for (const p of parts) h.update(p);
      return h.digest();
    },
  };
}

export const axiomHasher = axiomHasherOf(blake3);
