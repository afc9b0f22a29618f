/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), slicing-by-8, written here so
 * the format module has no dependency beyond the language.
 *
 * Why CRC32C and not truncated BLAKE3: metadata checksums guard against torn writes,
 * lost writes and bit rot, not against an adversary. CRC32C detects every burst error up
 * to 32 bits and every odd number of bit errors, is what ext4 (metadata_csum), btrfs and
 * iSCSI use for the same job, and in this runtime runs about 25x faster than the pure-JS
 * BLAKE3 (measured ~1.2 GB/s vs ~45 MB/s), which matters because the journal checksums
 * every block image it logs. BLAKE3 stays where identity matters (Axiom, content store).
 *
 * Chaining: crc32c(b, crc32c(a)) === crc32c(a ++ b), so a checksum can skip a field by
 * checksumming the pieces around it.
 */

const TABLE = new Uint32Array(8 * 256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  TABLE[n] = c >>> 0;
}
for (let n = 0; n < 256; n++) {
  for (let k = 1; k < 8; k++) {
    const prev = TABLE[(k - 1) * 256 + n];
    TABLE[k * 256 + n] = (prev >>> 8) ^ TABLE[prev & 0xff];
  }
}

/** CRC32C of `bytes`, continuing from `previous` (the CRC of what came before, 0 for none). */
export function crc32c(bytes: Uint8Array, previous = 0): number {
  let c = ~previous >>> 0;
  let i = 0;
  const n = bytes.length;
  for (; i + 8 <= n; i += 8) {
    c ^= bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    c =
      TABLE[1792 + (c & 0xff)] ^
      TABLE[1536 + ((c >>> 8) & 0xff)] ^
      TABLE[1280 + ((c >>> 16) & 0xff)] ^
      TABLE[1024 + (c >>> 24)] ^
      TABLE[768 + bytes[i + 4]] ^
      TABLE[512 + bytes[i + 5]] ^
      TABLE[256 + bytes[i + 6]] ^
      TABLE[bytes[i + 7]];
  }
  for (; i < n; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
