/**
 * Just enough of an ELF reader to assemble the guest's initramfs without host tools:
 * the `.modinfo` strings of a kernel module (its `depends=` and `softdep=`, which
 * `depmod` would otherwise turn into modules.dep) and the DT_NEEDED libraries of a
 * dynamically linked program (so the initramfs carries every shared library it needs).
 *
 * Both ELF classes are read (32- and 64-bit, little endian; Debian i386 is ELFCLASS32).
 * The input is a file we extracted from a Debian package, not guest data, but every
 * offset is still checked against the buffer: a truncated or odd file is an Error
 * naming the file, never a read past the end.
 */

export interface ElfSection {
  name: string;
  type: number;
  offsetBytes: number;
  sizeBytes: number;
  link: number;
}

const SHT_DYNAMIC = 6;
const DT_NULL = 0;
const DT_NEEDED = 1;
const SECTIONS_MAX = 4096;

class ElfReader {
  private readonly view: DataView;
  readonly is64: boolean;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < 52 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) this.fail('not an ELF file');
    if (bytes[5] !== 1) this.fail('not little-endian');
    if (bytes[4] !== 1 && bytes[4] !== 2) this.fail(`unknown ELF class ${bytes[4]}`);
    this.is64 = bytes[4] === 2;
  }

  fail(why: string): never {
    throw new Error(`${this.what}: ${why}`);
  }

  private check(offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || length < 0 || offset + length > this.bytes.length) this.fail(`offset ${offset}+${length} is outside the file`);
  }

  u16(offset: number): number {
    this.check(offset, 2);
    return this.view.getUint16(offset, true);
  }
  u32(offset: number): number {
    this.check(offset, 4);
    return this.view.getUint32(offset, true);
  }
  /** A 64-bit field that must fit a safe integer (file offsets and sizes). */
  u64(offset: number): number {
    this.check(offset, 8);
    const v = this.view.getBigUint64(offset, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`field at ${offset} is too large`);
    return Number(v);
  }
  word(offset: number): number {
    return this.is64 ? this.u64(offset) : this.u32(offset);
  }
  slice(offset: number, length: number): Uint8Array {
    this.check(offset, length);
    return this.bytes.subarray(offset, offset + length);
  }

  sections(): ElfSection[] {
    const shoff = this.is64 ? this.u64(0x28) : this.u32(0x20);
    const shentsize = this.u16(this.is64 ? 0x3a : 0x2e);
    const shnum = this.u16(this.is64 ? 0x3c : 0x30);
    const shstrndx = this.u16(this.is64 ? 0x3e : 0x32);
    if (shnum > SECTIONS_MAX) this.fail(`${shnum} sections`);
    if (shnum && shentsize < (this.is64 ? 64 : 40)) this.fail(`section header size ${shentsize}`);
    const raw = [];
    for (let i = 0; i < shnum; i++) {
      const at = shoff + i * shentsize;
      raw.push(
        this.is64
          ? { nameIndex: this.u32(at), type: this.u32(at + 4), offsetBytes: this.u64(at + 0x18), sizeBytes: this.u64(at + 0x20), link: this.u32(at + 0x28) }
          : { nameIndex: this.u32(at), type: this.u32(at + 4), offsetBytes: this.u32(at + 0x10), sizeBytes: this.u32(at + 0x14), link: this.u32(at + 0x18) },
      );
    }
    const strtab = raw[shstrndx];
    if (!strtab) this.fail('no section name table');
    const names = this.slice(strtab.offsetBytes, strtab.sizeBytes);
    return raw.map((s) => ({ name: cString(names, s.nameIndex), type: s.type, offsetBytes: s.offsetBytes, sizeBytes: s.sizeBytes, link: s.link }));
  }
}

/** The NUL-terminated string at `at` (empty when `at` is out of range). */
function cString(bytes: Uint8Array, at: number): string {
  if (at >= bytes.length) return '';
  let end = bytes.indexOf(0, at);
  if (end < 0) end = bytes.length;
  return new TextDecoder().decode(bytes.subarray(at, end));
}

/** The key=value strings of a kernel module's .modinfo section; repeated keys keep every value. */
export function readModinfo(bytes: Uint8Array, what: string): Map<string, string[]> {
  const elf: ElfReader = new ElfReader(bytes, what);
  const section = elf.sections().find((s) => s.name === '.modinfo');
  if (!section) elf.fail('no .modinfo section (not a kernel module?)');
  const out = new Map<string, string[]>();
  const text = new TextDecoder().decode(elf.slice(section.offsetBytes, section.sizeBytes));
  for (const entry of text.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const key = entry.slice(0, eq);
    out.set(key, [...(out.get(key) ?? []), entry.slice(eq + 1)]);
  }
  return out;
}

/** The sonames a dynamically linked program or library needs (empty for a static one). */
export function readNeeded(bytes: Uint8Array, what: string): string[] {
  const elf: ElfReader = new ElfReader(bytes, what);
  const sections = elf.sections();
  const dynamic = sections.find((s) => s.type === SHT_DYNAMIC);
  if (!dynamic) return [];
  const dynstr = sections[dynamic.link];
  if (!dynstr) elf.fail('.dynamic names no string table');
  const strings = elf.slice(dynstr.offsetBytes, dynstr.sizeBytes);
  const entryBytes = elf.is64 ? 16 : 8;
  const needed: string[] = [];
  for (let at = dynamic.offsetBytes; at + entryBytes <= dynamic.offsetBytes + dynamic.sizeBytes; at += entryBytes) {
    const tag = elf.word(at);
    if (tag === DT_NULL) break;
    if (tag === DT_NEEDED) needed.push(cString(strings, elf.word(at + entryBytes / 2)));
  }
  return needed;
}
