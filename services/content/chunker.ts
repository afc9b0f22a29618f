/**
 * Chunking: fixed-size and FastCDC with normalised chunking (Xia et al., "FastCDC: a
 * Fast and Efficient Content-Defined Chunking Approach for Data Deduplication", USENIX
 * ATC'16, Algorithm 1 with section 3.3's normalisation).
 *
 * Streaming: `createChunker(config)` returns a Chunker; `push(bytes)` returns the chunks
 * those bytes completed and `finish()` the last one, so a file of many GiB is chunked
 * with at most one max-size chunk buffered. A chunk that lies inside one pushed buffer is
 * returned as a view of it (the caller must not change that buffer until it has used
 * the chunk); one that spans pushes is copied together.
 *
 * FastCDC, per chunk: skip the first `min` bytes (cut-point skipping: no boundary can be
 * there), then roll the Gear hash (gear.ts) and cut where `(fp & maskS) == 0` until the
 * chunk reaches `avg` bytes, then where `(fp & maskL) == 0`, and at `max` bytes at the
 * latest. maskS has log2(avg) + level bits (harder), maskL log2(avg) - level (easier),
 * which pulls chunk sizes towards avg (normalisation level 2 by default). fp starts at
 * zero at each chunk.
 *
 * Invariants: boundaries depend only on the bytes and the config, never on how the
 * stream was split into pushes; every chunk is 1..max bytes and every chunk but the last
 * at least min; the chunks concatenate to exactly the input.
 */
import {
  CDC_AVG_SIZE_BYTES_DEFAULT,
  CDC_AVG_SIZE_BYTES_MIN,
  CDC_MAX_SIZE_BYTES_DEFAULT,
  CDC_MIN_SIZE_BYTES_DEFAULT,
  CDC_NORMALIZATION_LEVEL,
  CHUNK_SIZE_BYTES_MAX,
  FIXED_CHUNK_SIZE_BYTES_DEFAULT,
} from './limits.ts';
import { assert } from './errors.ts';
import { badMessage } from '../../kernel/errors.ts';
import { GEAR, spreadMask } from './gear.ts';

export type ChunkingConfig =
  | { kind: 'fixed'; sizeBytes: number }
  | { kind: 'fastcdc'; minSizeBytes: number; avgSizeBytes: number; maxSizeBytes: number; normalizationLevel: number };

export const DEFAULT_FASTCDC: ChunkingConfig = {
  kind: 'fastcdc',
  minSizeBytes: CDC_MIN_SIZE_BYTES_DEFAULT,
  avgSizeBytes: CDC_AVG_SIZE_BYTES_DEFAULT,
  maxSizeBytes: CDC_MAX_SIZE_BYTES_DEFAULT,
  normalizationLevel: CDC_NORMALIZATION_LEVEL,
};

export const DEFAULT_FIXED: ChunkingConfig = { kind: 'fixed', sizeBytes: FIXED_CHUNK_SIZE_BYTES_DEFAULT };

/** A FastCDC config from avg alone: min = avg / 4, max = avg * 4 (the defaults' shape). */
export function fastcdc(avgSizeBytes: number, overrides: Partial<{ minSizeBytes: number; maxSizeBytes: number; normalizationLevel: number }> = {}): ChunkingConfig {
  return checkChunking({
    kind: 'fastcdc',
    minSizeBytes: overrides.minSizeBytes ?? avgSizeBytes / 4,
    avgSizeBytes,
    maxSizeBytes: overrides.maxSizeBytes ?? avgSizeBytes * 4,
    normalizationLevel: overrides.normalizationLevel ?? CDC_NORMALIZATION_LEVEL,
  });
}

/** Checks a config (from a message or a manifest); throws BADMSG naming the field. */
export function checkChunking(value: unknown): ChunkingConfig {
  const c = value as Record<string, unknown>;
  if (!c || typeof c !== 'object') badMessage('chunking must be a map');
  const int = (k: string, min: number, max: number) => {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) badMessage(`chunking.${k} must be an integer in [${min}, ${max}], got ${String(v)}`);
    return v;
  };
  if (c.kind === 'fixed') return { kind: 'fixed', sizeBytes: int('sizeBytes', 1, CHUNK_SIZE_BYTES_MAX) };
  if (c.kind !== 'fastcdc') badMessage(`chunking.kind must be 'fixed' or 'fastcdc', got ${String(c.kind)}`);
  const avgSizeBytes = int('avgSizeBytes', CDC_AVG_SIZE_BYTES_MIN, CHUNK_SIZE_BYTES_MAX);
  if ((avgSizeBytes & (avgSizeBytes - 1)) !== 0) badMessage(`chunking.avgSizeBytes ${avgSizeBytes} is not a power of two`);
  const minSizeBytes = int('minSizeBytes', 64, avgSizeBytes - 1);
  const maxSizeBytes = int('maxSizeBytes', avgSizeBytes + 1, CHUNK_SIZE_BYTES_MAX);
  const bits = Math.log2(avgSizeBytes);
  const normalizationLevel = c.normalizationLevel === undefined ? CDC_NORMALIZATION_LEVEL : int('normalizationLevel', 0, Math.min(bits - 1, 32 - bits));
  return { kind: 'fastcdc', minSizeBytes, avgSizeBytes, maxSizeBytes, normalizationLevel };
}

export interface Chunker {
  readonly config: ChunkingConfig;
  push(data: Uint8Array): Uint8Array[];
  finish(): Uint8Array[];
}

/** A cut finder: scans data[from, to) continuing the current chunk; returns the cut (exclusive end) or -1. */
interface CutFinder {
  /** Bytes of the current chunk seen so far. */
  chunkLen: number;
  find(data: Uint8Array, from: number, to: number): number;
  reset(): void;
}

function fixedFinder(sizeBytes: number): CutFinder {
  return {
    chunkLen: 0,
    find(_data, from, to) {
      const need = sizeBytes - this.chunkLen;
      if (to - from >= need) return from + need;
      this.chunkLen += to - from;
      return -1;
    },
    reset() {
      this.chunkLen = 0;
    },
  };
}

function fastcdcFinder(c: Extract<ChunkingConfig, { kind: 'fastcdc' }>): CutFinder {
  const bits = Math.log2(c.avgSizeBytes);
  const maskS = spreadMask(bits + c.normalizationLevel) | 0;
  const maskL = spreadMask(bits - c.normalizationLevel) | 0;
  const min = c.minSizeBytes, avg = c.avgSizeBytes, max = c.maxSizeBytes;
  const gear = GEAR;
  let fp = 0;
  return {
    chunkLen: 0,
    find(data, from, to) {
      // Bytes of the chunk consumed so far are always this.chunkLen + (i - from).
      const base = this.chunkLen - from;
      let i = from;
      if (base + i < min) {
        i = Math.min(to, min - base);
        if (base + i < min) {
          this.chunkLen = base + i;
          return -1;
        }
      }
      let h = fp;
      if (base + i < avg) {
        // Phase 1: [min, avg) with the harder mask.
        const end = Math.min(to, avg - base);
        while (i < end) {
          h = ((h << 1) + gear[data[i++]]) | 0;
          if ((h & maskS) === 0) return i;
        }
      }
      if (base + i >= avg) {
        // Phase 2: [avg, max) with the easier mask.
        const end = Math.min(to, max - base);
        while (i < end) {
          h = ((h << 1) + gear[data[i++]]) | 0;
          if ((h & maskL) === 0) return i;
        }
        if (base + i >= max) return i;
      }
      fp = h;
      this.chunkLen = base + i;
      return -1;
    },
    reset() {
      this.chunkLen = 0;
      fp = 0;
    },
  };
}

export function createChunker(config: ChunkingConfig): Chunker {
  const cfg = checkChunking(config);
  const finder = cfg.kind === 'fixed' ? fixedFinder(cfg.sizeBytes) : fastcdcFinder(cfg);
  const maxSizeBytes = cfg.kind === 'fixed' ? cfg.sizeBytes : cfg.maxSizeBytes;
  let parts: Uint8Array[] = [];
  let partsBytes = 0;

  const joinWith = (tail: Uint8Array): Uint8Array => {
    if (parts.length === 0) return tail;
    const out = new Uint8Array(partsBytes + tail.length);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    out.set(tail, at);
    parts = [];
    partsBytes = 0;
    return out;
  };

  return {
    config: cfg,
    push(data) {
      const out: Uint8Array[] = [];
      let start = 0;
      while (start < data.length) {
        const cut = finder.find(data, start, data.length);
        if (cut < 0) {
          // No boundary in the rest: keep it (copied: the caller may reuse its buffer).
          parts.push(data.slice(start));
          partsBytes += data.length - start;
          break;
        }
        const chunk = joinWith(data.subarray(start, cut));
        assert(chunk.length >= 1 && chunk.length <= maxSizeBytes, `chunk of ${chunk.length} bytes within [1, ${maxSizeBytes}]`);
        out.push(chunk);
        finder.reset();
        start = cut;
      }
      return out;
    },
    finish() {
      if (partsBytes === 0) return [];
      const last = joinWith(new Uint8Array(0));
      finder.reset();
      return [last];
    },
  };
}

/** Every chunk of a whole buffer. */
export function chunkAll(config: ChunkingConfig, data: Uint8Array): Uint8Array[] {
  const c = createChunker(config);
  return [...c.push(data), ...c.finish()];
}

/** Chunk lengths of a whole buffer (boundaries without the bytes). */
export function chunkLengths(config: ChunkingConfig, data: Uint8Array): number[] {
  return chunkAll(config, data).map((c) => c.length);
}
