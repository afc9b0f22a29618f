/**
 * Little-endian field access and the format's error type.
 *
 * Every integer on disk is little-endian. u64 fields are read as JavaScript numbers and
 * must be at most 2^53 - 1; a larger value is reported as a corrupt field, never rounded.
 * FormatError names the structure and the field that failed, so `strata fsck`, the
 * service's INTEGRITY errors and the tests can all say exactly what was wrong.
 */

export type FormatStructure = 'superblock' | 'layout' | 'bitmap' | 'journal-header' | 'descriptor' | 'commit' | 'journal';

export class FormatError extends Error {
  constructor(
    readonly structure: FormatStructure,
    readonly field: string,
    detail: string,
    /** Absolute block index of the structure, when known. */
    readonly blockIndex?: number,
  ) {
    super(`${structure}${blockIndex === undefined ? '' : ` (block ${blockIndex})`}: ${field}: ${detail}`);
    this.name = 'FormatError';
  }
}

export function view(block: Uint8Array): DataView {
  return new DataView(block.buffer, block.byteOffset, block.byteLength);
}

export function getU64(dv: DataView, offsetBytes: number, structure: FormatStructure, field: string, blockIndex?: number): number {
  const lo = dv.getUint32(offsetBytes, true);
  const hi = dv.getUint32(offsetBytes + 4, true);
  if (hi >= 0x20_0000) throw new FormatError(structure, field, `u64 ${hi}:${lo} exceeds 2^53 - 1`, blockIndex);
  return hi * 0x1_0000_0000 + lo;
}

export function setU64(dv: DataView, offsetBytes: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`u64 field: ${value} is not a safe non-negative integer`);
  dv.setUint32(offsetBytes, value % 0x1_0000_0000, true);
  dv.setUint32(offsetBytes + 4, Math.floor(value / 0x1_0000_0000), true);
}

/** Four ASCII characters as bytes, the way magics are stored (readable in a hexdump). */
export function magicBytes(text: string): Uint8Array {
  if (text.length !== 4 && text.length !== 8) throw new RangeError(`magic '${text}' must be 4 or 8 characters`);
  return Uint8Array.from(text, (ch) => ch.charCodeAt(0));
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function isZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Parses a uuid string (8-4-4-4-12 hex) or 32 hex digits into 16 bytes. */
export function parseUuid(text: string): Uint8Array {
  const digits = text.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(digits)) throw new RangeError(`uuid '${text}' is not 32 hex digits`);
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function formatUuid(uuid: Uint8Array): string {
  const h = hex(uuid);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
