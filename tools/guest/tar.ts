/**
 * A minimal POSIX ustar writer (directories and regular files only), so the guest
 * benchmark can build its archive of many small files on the host instead of in a
 * busybox shell loop under emulation. The output is what `tar -cf` of the same tree
 * gives, as far as busybox `tar -x` can tell: 512-byte headers with octal fields and the
 * ustar magic, file data padded to 512 bytes, two zero blocks at the end.
 *
 * Limits: names up to NAME_BYTES_MAX bytes of ASCII (no prefix field splitting), sizes
 * below 8 GiB (11 octal digits); anything else is a RangeError, never a bad archive.
 */

export const TAR_BLOCK_BYTES = 512;
const NAME_BYTES_MAX = 99;
const SIZE_BYTES_MAX = 8 ** 11 - 1;

export type TarEntry = { type: 'dir'; name: string; mode?: number } | { type: 'file'; name: string; data: Uint8Array; mode?: number };

function octal(header: Uint8Array, offset: number, width: number, value: number): void {
  const digits = value.toString(8).padStart(width - 1, '0');
  if (digits.length > width - 1) throw new RangeError(`tar: ${value} does not fit ${width - 1} octal digits`);
  for (let i = 0; i < digits.length; i++) header[offset + i] = digits.charCodeAt(i);
  header[offset + width - 1] = 0;
}

function ascii(header: Uint8Array, offset: number, text: string): void {
  for (let i = 0; i < text.length; i++) header[offset + i] = text.charCodeAt(i);
}

function headerOf(entry: TarEntry, mtimeSec: number): Uint8Array {
  const name = entry.type === 'dir' && !entry.name.endsWith('/') ? `${entry.name}/` : entry.name;
  if (name.length === 0 || name.length > NAME_BYTES_MAX || !/^[\x21-\x7e]+$/.test(name)) throw new RangeError(`tar: name '${name}' (1 to ${NAME_BYTES_MAX} printable ASCII bytes)`);
  const size = entry.type === 'file' ? entry.data.length : 0;
  if (size > SIZE_BYTES_MAX) throw new RangeError(`tar: ${name} has ${size} bytes (at most ${SIZE_BYTES_MAX})`);
  const h = new Uint8Array(TAR_BLOCK_BYTES);
  ascii(h, 0, name);
  octal(h, 100, 8, entry.mode ?? (entry.type === 'dir' ? 0o755 : 0o644));
  octal(h, 108, 8, 0); // uid
  octal(h, 116, 8, 0); // gid
  octal(h, 124, 12, size);
  octal(h, 136, 12, mtimeSec);
  h[156] = entry.type === 'dir' ? 0x35 : 0x30; // '5' directory, '0' regular file
  ascii(h, 257, 'ustar\u000000');
  ascii(h, 265, 'root');
  ascii(h, 297, 'root');
  // The checksum is taken with its own field read as eight spaces.
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  octal(h, 148, 7, sum);
  h[155] = 0x20;
  return h;
}

/** The archive of `entries`, in order (a directory must come before what it holds). */
export function writeTar(entries: readonly TarEntry[], mtimeSec = 0): Uint8Array {
  let total = 2 * TAR_BLOCK_BYTES;
  for (const e of entries) total += TAR_BLOCK_BYTES + (e.type === 'file' ? Math.ceil(e.data.length / TAR_BLOCK_BYTES) * TAR_BLOCK_BYTES : 0);
  const out = new Uint8Array(total); // zero-filled: data padding and the end blocks
  let at = 0;
  for (const e of entries) {
    out.set(headerOf(e, mtimeSec), at);
    at += TAR_BLOCK_BYTES;
    if (e.type === 'file') {
      out.set(e.data, at);
      at += Math.ceil(e.data.length / TAR_BLOCK_BYTES) * TAR_BLOCK_BYTES;
    }
  }
  if (at + 2 * TAR_BLOCK_BYTES !== total) throw new Error(`tar: wrote ${at} bytes of ${total - 2 * TAR_BLOCK_BYTES}`);
  return out;
}
