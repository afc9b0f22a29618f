/**
 * The hash chain: record n's hash is BLAKE3(hash(n-1) || its bytes [36, frameLength)), so
 * changing any byte of any record breaks every link from that record on, and the first
 * broken link names it.
 *
 * `Hasher` is the one seam for the hash function: the engine, recovery and tools take a
 * Hasher, never a hash library, so a faster BLAKE3 (WASM or native, another issue) plugs in
 * without touching the format. `nobleBlake3` is the portable implementation
 * (@noble/hashes, audited, pure JS). Any Hasher must produce BLAKE3's exact output; the
 * known-answer vectors in test/axiom/vectors.json hold every implementation to that.
 *
 * The chain starts at the genesis hash (FORMAT.md) and is carried across checkpoints by
 * the anchor's startPrevHash, so verification from any checkpoint needs nothing older.
 */

import { blake3 } from '@noble/hashes/blake3.js';
import { assert } from './errors.ts';
import { checkFrame, type FrameFailure } from './frame.ts';
import { HASH_SIZE_BYTES, LOG_ID_SIZE_BYTES } from './limits.ts';

export interface Hasher {
  readonly name: string;
  /** BLAKE3 (32 bytes) of the concatenation of `parts`. */
  hash(parts: readonly Uint8Array[]): Uint8Array;
}

let scratch = new Uint8Array(4096);

export const nobleBlake3: Hasher = {
  name: 'blake3 (@noble/hashes)',
  hash(parts) {
    if (parts.length === 1) return blake3(parts[0]);
    // One-shot over a reused buffer: measurably cheaper than create/update/digest for the
    // short inputs a chain link hashes (32-byte predecessor + a small frame).
    let sizeBytes = 0;
    for (const part of parts) sizeBytes += part.length;
    if (sizeBytes > scratch.length) scratch = new Uint8Array(Math.max(sizeBytes, scratch.length * 2));
    let offset = 0;
    for (const part of parts) {
      scratch.set(part, offset);
      offset += part.length;
    }
    return blake3(scratch.subarray(0, sizeBytes));
  },
};

const GENESIS_LABEL = new TextEncoder().encode('strata/axiom/genesis/v1');

/** The hash that record 1 chains from: BLAKE3("strata/axiom/genesis/v1" || logId). */
export function genesisHash(logId: Uint8Array, hasher: Hasher): Uint8Array {
  assert(logId.length === LOG_ID_SIZE_BYTES, `logId is ${LOG_ID_SIZE_BYTES} bytes`);
  const h = hasher.hash([GENESIS_LABEL, logId]);
  assert(h.length === HASH_SIZE_BYTES, 'hasher returns 32 bytes');
  return h;
}

export type ChainVerdict =
  | { ok: true; lastHash: Uint8Array; lastSeq: number }
  | { ok: false; seq: number; index: number; reason: FrameFailure; detail: string };

/**
 * Verifies consecutive frames (each exactly one frame's bytes) as records firstSeq,
 * firstSeq+1, ... chained from `prevHash`. On failure names the record by the seq it
 * should carry (a damaged seq field cannot be trusted to name itself).
 */
export function verifyChain(frames: readonly Uint8Array[], firstSeq: number, prevHash: Uint8Array, hasher: Hasher): ChainVerdict {
  let hash = prevHash;
  for (let i = 0; i < frames.length; i++) {
    const seq = firstSeq + i;
    const check = checkFrame(frames[i], seq, hash, hasher);
    if (!check.ok) return { ok: false, seq, index: i, reason: check.reason, detail: check.detail };
    hash = check.frame.hash;
  }
  return { ok: true, lastHash: Uint8Array.from(hash), lastSeq: firstSeq + frames.length - 1 };
}
