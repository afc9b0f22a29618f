// The guest builder's own formats: the newc cpio writer (read back by an independent
// parser written here from the kernel's buffer-format.rst) and the ELF reader (against
// Node's own executable, a real dynamically linked ELF).
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { writeCpio, type CpioEntry } from '../../tools/guest/cpio.ts';
import { readModinfo, readNeeded } from '../../tools/guest/elf.ts';

interface Parsed {
  name: string;
  mode: number;
  nlink: number;
  rdevMajor: number;
  rdevMinor: number;
  data: Uint8Array;
}

/** A newc reader: 110-byte ASCII header, name padded to 4 from the entry start, data padded to 4. */
function parseNewc(bytes: Uint8Array): Parsed[] {
  const out: Parsed[] = [];
  const text = new TextDecoder('latin1');
  let at = 0;
  for (;;) {
    expect(at % 4).toBe(0);
    const h = text.decode(bytes.subarray(at, at + 110));
    expect(h.slice(0, 6)).toBe('070701');
    const f = (i: number) => parseInt(h.slice(6 + i * 8, 14 + i * 8), 16);
    const nameSize = f(11);
    const fileSize = f(6);
    const name = text.decode(bytes.subarray(at + 110, at + 110 + nameSize - 1));
    expect(bytes[at + 110 + nameSize - 1]).toBe(0);
    let dataAt = at + 110 + nameSize;
    dataAt += (4 - (dataAt % 4)) % 4;
    if (name === 'TRAILER!!!') return out;
    out.push({ name, mode: f(1), nlink: f(4), rdevMajor: f(9), rdevMinor: f(10), data: bytes.subarray(dataAt, dataAt + fileSize) });
    at = dataAt + fileSize;
    at += (4 - (at % 4)) % 4;
  }
}

describe('cpio newc writer', () => {
  it('writes entries that an independent reader gets back, with padding to 4 bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.stringMatching(/^[a-z0-9._-]{1,12}$/).filter((n) => n !== '.' && n !== '..'), fc.uint8Array({ maxLength: 50 })), { maxLength: 10 }), (files) => {
        const unique = [...new Map(files.map(([n, d]) => [n, d])).entries()];
        const entries: CpioEntry[] = [
          { kind: 'dir', name: 'd' },
          ...unique.map(([name, data]) => ({ kind: 'file' as const, name: `d/${name}`, data, mode: 0o640 })),
          { kind: 'symlink', name: 'link', target: 'd/x' },
          { kind: 'char', name: 'console', major: 5, minor: 1 },
        ];
        const parsed = parseNewc(writeCpio(entries));
        expect(parsed.map((p) => p.name)).toEqual(entries.map((e) => e.name));
        expect(parsed[0].mode).toBe(0o040755);
        unique.forEach(([, data], i) => {
          expect(parsed[i + 1].data).toEqual(data);
          expect(parsed[i + 1].mode).toBe(0o100640);
        });
        const link = parsed[parsed.length - 2];
        expect([link.mode, new TextDecoder().decode(link.data)]).toEqual([0o120777, 'd/x']);
        expect(parsed[parsed.length - 1]).toMatchObject({ mode: 0o020600, rdevMajor: 5, rdevMinor: 1 });
      }),
    );
  });

  it('refuses absolute, dotted, duplicate and orphaned names', () => {
    expect(() => writeCpio([{ kind: 'dir', name: '/etc' }])).toThrow(/bad entry name/);
    expect(() => writeCpio([{ kind: 'dir', name: 'a/../b' }])).toThrow(/bad entry name/);
    expect(() => writeCpio([{ kind: 'dir', name: 'a' }, { kind: 'dir', name: 'a' }])).toThrow(/twice/);
    expect(() => writeCpio([{ kind: 'file', name: 'a/b', data: new Uint8Array(1) }])).toThrow(/before its directory/);
  });
});

describe('ELF reader', () => {
  it("reads the shared libraries Node's executable needs, and refuses what is not a module", () => {
    const node = fs.readFileSync(process.execPath);
    const needed = readNeeded(node, 'node');
    if (needed.length) expect(needed.some((n) => /^libc\.so\.\d+$/.test(n))).toBe(true); // a static build needs nothing
    expect(() => readModinfo(node, 'node')).toThrow(/no \.modinfo/);
    expect(() => readNeeded(new Uint8Array(100), 'zeros')).toThrow(/not an ELF/);
    const truncated = node.subarray(0, 64);
    expect(() => readNeeded(truncated, 'truncated')).toThrow(/outside the file/);
  });
});
