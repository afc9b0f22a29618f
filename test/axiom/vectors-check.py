#!/usr/bin/env python3
"""Independent check of test/axiom/vectors.json (run once by hand: python3 vectors-check.py).

Rebuilds every frame from its fields with `struct` per axiom/FORMAT.md, with BLAKE3
(single-chunk inputs, from the BLAKE3 specification) and CRC32C written here from
scratch, so the TypeScript code and these vectors cannot share a mistake. The msgpack
payload bytes are taken from the file (msgpack is kernel/codec.ts's business).
"""
import json, struct, sys, pathlib

IV = [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19]
PERM = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8]
M32 = 0xFFFFFFFF

def rotr(x, n): return ((x >> n) | (x << (32 - n))) & M32

def g(s, a, b, c, d, x, y):
    s[a] = (s[a] + s[b] + x) & M32; s[d] = rotr(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & M32;     s[b] = rotr(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b] + y) & M32; s[d] = rotr(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & M32;     s[b] = rotr(s[b] ^ s[c], 7)

def compress(cv, m, counter, block_len, flags):
    s = list(cv) + IV[:4] + [counter & M32, counter >> 32, block_len, flags]
    m = list(m)
    for r in range(7):
        g(s, 0, 4, 8, 12, m[0], m[1]); g(s, 1, 5, 9, 13, m[2], m[3])
        g(s, 2, 6, 10, 14, m[4], m[5]); g(s, 3, 7, 11, 15, m[6], m[7])
        g(s, 0, 5, 10, 15, m[8], m[9]); g(s, 1, 6, 11, 12, m[10], m[11])
        g(s, 2, 7, 8, 13, m[12], m[13]); g(s, 3, 4, 9, 14, m[14], m[15])
        if r < 6: m = [m[i] for i in PERM]
    return [s[i] ^ s[i + 8] for i in range(8)]

def blake3(data: bytes) -> bytes:
    assert len(data) <= 1024, 'single-chunk inputs only'
    blocks = [data[i:i + 64] for i in range(0, len(data), 64)] or [b'']
    cv = IV
    for i, block in enumerate(blocks):
        flags = (1 if i == 0 else 0) | (2 | 8 if i == len(blocks) - 1 else 0)
        words = struct.unpack('<16I', block.ljust(64, b'\0'))
        cv = compress(cv, words, 0, len(block), flags)[:8]
    return struct.pack('<8I', *cv)

def crc32c(data: bytes) -> int:
    c = 0xFFFFFFFF
    for b in data:
        c ^= b
        for _ in range(8): c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    return c ^ 0xFFFFFFFF

assert blake3(b'').hex() == 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262'
assert crc32c(b'123456789') == 0xE3069283

v = json.loads(pathlib.Path(__file__).with_name('vectors.json').read_text())
log_id = bytes.fromhex(v['logIdHex'])
prev = blake3(b'strata/axiom/genesis/v1' + log_id)
assert prev.hex() == v['genesisHex'], 'genesis'
for r in v['records']:
    payload = bytes.fromhex(r['payloadHex'])
    length = 64 + len(payload)
    body = struct.pack('<IQQIHH', length, r['seq'], r['txid'], r['epoch'], r['typeCode'], 0) + payload
    h = blake3(prev + body)
    frame = struct.pack('<I', crc32c(h + body)) + h + body
    assert h.hex() == r['hashHex'], f"hash of seq {r['seq']}"
    assert frame.hex() == r['frameHex'], f"frame of seq {r['seq']}"
    prev = h
print(f"ok: genesis and {len(v['records'])} frames match an independent BLAKE3/CRC32C/layout")
