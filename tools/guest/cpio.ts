/**
 * A writer for the "newc" cpio format (SVR4, no CRC: magic 070701), the format the Linux
 * kernel unpacks as an initramfs (Documentation/driver-api/early-userspace/
 * buffer-format.rst). Written here so the guest builds without a host `cpio` and without
 * root: device nodes such as /dev/console are just headers.
 *
 * Each entry: a 110-byte ASCII header (magic + 13 eight-digit hex fields), the NUL-
 * terminated name padded to a multiple of 4 bytes (counting the header), then the data
 * padded to 4. The archive ends with an entry named TRAILER!!!. Entries are written in
 * the order given; a directory must come before what is in it. Names are relative
 * ("bin/sh", no leading slash). Every field is checked to fit its 32 bits.
 */

export type CpioEntry =
  | { kind: 'dir'; name: string; mode?: number }
  | { kind: 'file'; name: string; data: Uint8Array; mode?: number }
  | { kind: 'symlink'; name: string; target: string }
  | { kind: 'char'; name: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const HEADER_BYTES = 110;
const FIELD_MAX = 0xffffffff;
const NAME_BYTES_MAX = 4096;

function hex8(value: number, field: string): string {
  if (!Number.isSafeInteger(value) || value < 0 || value > FIELD_MAX) throw new RangeError(`cpio: ${field} ${value} does not fit 32 bits`);
  return value.toString(16).padStart(8, '0');
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

/** Builds a whole newc archive (with its trailer) from entries in order. */
export function writeCpio(entries: CpioEntry[], mtimeSeconds = 0): Uint8Array {
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const push = (b: Uint8Array) => {
    chunks.push(b);
    total += b.length;
  };
  const seen = new Set<string>();
  let ino = 1;
  const emit = (name: string, mode: number, data: Uint8Array, rdevMajor = 0, rdevMinor = 0, nlink = 1) => {
    if (name !== 'TRAILER!!!') {
      if (!name || name.startsWith('/') || name.split('/').some((p) => p === '' || p === '.' || p === '..')) throw new Error(`cpio: bad entry name '${name}'`);
      if (seen.has(name)) throw new Error(`cpio: '${name}' twice`);
      const parent = name.includes('/') ? name.slice(0, name.lastIndexOf('/')) : '';
      if (parent && !seen.has(parent)) throw new Error(`cpio: '${name}' comes before its directory '${parent}'`);
      seen.add(name);
    }
    const nameBytes = enc.encode(name + '\0');
    if (nameBytes.length > NAME_BYTES_MAX) throw new Error(`cpio: name '${name.slice(0, 40)}...' is too long`);
    const fields = [
      ino++, mode, 0 /* uid */, 0 /* gid */, nlink, mtimeSeconds, data.length,
      0, 0 /* dev major, minor */, rdevMajor, rdevMinor, nameBytes.length, 0 /* check */,
    ];
    const names = ['ino', 'mode', 'uid', 'gid', 'nlink', 'mtime', 'filesize', 'devmajor', 'devminor', 'rdevmajor', 'rdevminor', 'namesize', 'check'];
    const header = '070701' + fields.map((v, i) => hex8(v, names[i])).join('');
    push(enc.encode(header));
    push(nameBytes);
    push(new Uint8Array(pad4(HEADER_BYTES + nameBytes.length)));
    if (data.length) {
      push(data);
      push(new Uint8Array(pad4(data.length)));
    }
  };
  for (const e of entries) {
    switch (e.kind) {
      case 'dir':
        emit(e.name, S_IFDIR | (e.mode ?? 0o755), new Uint8Array(0), 0, 0, 2);
        break;
      case 'file':
        emit(e.name, S_IFREG | (e.mode ?? 0o644), e.data);
        break;
      case 'symlink':
        emit(e.name, S_IFLNK | 0o777, enc.encode(e.target));
        break;
      case 'char':
        emit(e.name, S_IFCHR | (e.mode ?? 0o600), new Uint8Array(0), e.major, e.minor);
        break;
    }
  }
  emit('TRAILER!!!', 0, new Uint8Array(0));
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
