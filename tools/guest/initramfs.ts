/**
 * Assembles the guest's initramfs from unpacked Debian packages: busybox (static), the
 * kernel modules the guest needs in dependency order, e2fsprogs' mke2fs and e2fsck with
 * the shared libraries they load, and tools/guest/init.sh as /init.
 *
 * Module order is computed, not written down: each module's `.modinfo` names what it
 * depends on (`depends=`) and what must be loaded before it (`softdep=pre:`), the way
 * depmod would. Soft dependencies name aliases ("crypto-crc32c"); the few we need are
 * mapped in MODULE_ALIASES, and an alias we cannot map is skipped (the module that
 * asked for it still loads; the kernel falls back or the feature is absent).
 * crc32c-intel is never loaded: it needs SSE4.2, which v86 does not emulate.
 *
 * The library closure follows DT_NEEDED from each program through the libraries, with
 * the dynamic loader added; everything lands in /lib, which ld.so always searches.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readModinfo, readNeeded } from './elf.ts';
import type { CpioEntry } from './cpio.ts';

/** The modules every boot loads (virtio-9p); their dependencies are added in load order. */
export const GUEST_MODULES_9P = ['virtio_pci', '9pnet_virtio', '9p'];
/** The modules only a boot with an IDE disk loads (/etc/modules.disk, after the 9P ones). */
export const GUEST_MODULES_DISK = ['crc32c_generic', 'ext4', 'ata_piix', 'sd_mod'];
/** The modules the guest asks for; their dependencies are added in load order. */
export const GUEST_MODULES_WANTED = [...GUEST_MODULES_9P, ...GUEST_MODULES_DISK];
/** Soft-dependency aliases mapped to the generic (no special CPU feature) module. */
export const MODULE_ALIASES: Record<string, string> = { 'crypto-crc32c': 'crc32c_generic', crct10dif: 'crct10dif_generic' };
export const MODULES_EXCLUDED = new Set(['crc32c_intel']);
/** Programs copied from e2fsprogs (dynamically linked; their libraries come along). */
export const E2FS_PROGRAMS = ['sbin/mke2fs', 'sbin/e2fsck'];
const LIB_DIRS = ['lib/i386-linux-gnu', 'usr/lib/i386-linux-gnu', 'lib', 'usr/lib'];
const MODULE_DEPTH_MAX = 32;
const SYMLINK_HOPS_MAX = 16;

/** Module names are compared with '-' and '_' folded, as the kernel does. */
function norm(name: string): string {
  return name.replace(/-/g, '_');
}

export interface ModuleRef {
  name: string;
  /** Path under /lib/modules/<abi>/. */
  relPath: string;
}

/** Walks lib/modules/<abi>/kernel and returns modules in the order insmod must load them. */
export function resolveModules(modulesDir: string, wanted: string[] = GUEST_MODULES_WANTED): { order: ModuleRef[]; skippedAliases: string[] } {
  const files = new Map<string, string>();
  for (const rel of fs.readdirSync(path.join(modulesDir, 'kernel'), { recursive: true }) as string[]) {
    if (rel.endsWith('.ko')) files.set(norm(path.basename(rel, '.ko')), path.join('kernel', rel));
  }
  const order: ModuleRef[] = [];
  const done = new Set<string>();
  const skippedAliases = new Set<string>();
  const visit = (raw: string, depth: number, chain: string[]) => {
    const name = norm(MODULE_ALIASES[raw] ?? raw);
    if (done.has(name) || MODULES_EXCLUDED.has(name)) return;
    if (depth > MODULE_DEPTH_MAX || chain.includes(name)) throw new Error(`module dependency loop: ${[...chain, name].join(' -> ')}`);
    const rel = files.get(name);
    if (!rel) {
      if (depth === 0) throw new Error(`kernel module '${raw}' is not in ${modulesDir}`);
      skippedAliases.add(raw);
      return;
    }
    const info = readModinfo(fs.readFileSync(path.join(modulesDir, rel)), rel);
    for (const soft of info.get('softdep') ?? []) {
      const pre = /pre:\s*([^:]*?)(?:\s+post:|$)/.exec(soft);
      for (const dep of pre ? pre[1].split(/\s+/).filter(Boolean) : []) visit(dep, depth + 1, [...chain, name]);
    }
    for (const dep of (info.get('depends') ?? []).join(',').split(',').filter(Boolean)) visit(dep, depth + 1, [...chain, name]);
    if (!done.has(name)) {
      done.add(name);
      order.push({ name: path.basename(rel, '.ko'), relPath: rel });
    }
  };
  for (const w of wanted) visit(w, 0, []);
  return { order, skippedAliases: [...skippedAliases] };
}

/** Follows symlinks inside an unpacked package tree (absolute targets are rooted there). */
function resolveInTree(root: string, rel: string): string {
  let current = rel;
  for (let hop = 0; hop < SYMLINK_HOPS_MAX; hop++) {
    const full = path.join(root, current);
    const st = fs.lstatSync(full, { throwIfNoEntry: false });
    if (!st) throw new Error(`${current} is not in ${root}`);
    if (!st.isSymbolicLink()) return full;
    const target = fs.readlinkSync(full);
    current = target.startsWith('/') ? target.slice(1) : path.join(path.dirname(current), target);
  }
  throw new Error(`too many symlinks resolving ${rel} in ${root}`);
}

function findLibrary(root: string, soname: string): string {
  for (const dir of LIB_DIRS) {
    if (fs.lstatSync(path.join(root, dir, soname), { throwIfNoEntry: false })) return resolveInTree(root, path.join(dir, soname));
  }
  throw new Error(`shared library ${soname} is not in the unpacked packages (${root}); add its package to the guest build`);
}

/** Every shared library the programs need, transitively, plus the i386 dynamic loader. */
export function libraryClosure(root: string, programs: string[]): Map<string, string> {
  const libs = new Map<string, string>([['ld-linux.so.2', findLibrary(root, 'ld-linux.so.2')]]);
  const queue = programs.map((p) => resolveInTree(root, p));
  for (let i = 0; i < queue.length; i++) {
    for (const soname of readNeeded(fs.readFileSync(queue[i]), queue[i])) {
      if (libs.has(soname)) continue;
      const file = findLibrary(root, soname);
      libs.set(soname, file);
      queue.push(file);
    }
  }
  return libs;
}

export interface InitramfsInputs {
  /** Unpacked busybox-static:i386. */
  busyboxRoot: string;
  /** Unpacked linux-image-<abi>-686-unsigned:i386. */
  kernelRoot: string;
  abi: string;
  /** Unpacked e2fsprogs:i386 and the libraries it needs (one tree). */
  e2fsRoot: string;
  initScript: string;
}

/** The whole tree of the initramfs as cpio entries, directories first, plus the module order. */
export function initramfsEntries(inputs: InitramfsInputs): { entries: CpioEntry[]; modules: ModuleRef[]; libraries: string[]; skippedAliases: string[] } {
  const entries: CpioEntry[] = [];
  const dirs = new Set<string>();
  const dir = (name: string) => {
    const parts = name.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!dirs.has(d)) {
        dirs.add(d);
        entries.push({ kind: 'dir', name: d });
      }
    }
  };
  const file = (name: string, data: Uint8Array, mode = 0o644) => {
    if (name.includes('/')) dir(name.slice(0, name.lastIndexOf('/')));
    entries.push({ kind: 'file', name, data, mode });
  };
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'dev', 'proc', 'sys', 'tmp', 'root', 'etc', 'mnt/strata', 'mnt/disk', 'lib/modules']) dir(d);
  entries.push({ kind: 'char', name: 'dev/console', major: 5, minor: 1 });
  entries.push({ kind: 'char', name: 'dev/null', major: 1, minor: 3, mode: 0o666 });
  file('init', new TextEncoder().encode(inputs.initScript), 0o755);
  file('bin/busybox', fs.readFileSync(path.join(inputs.busyboxRoot, 'bin/busybox')), 0o755);
  entries.push({ kind: 'symlink', name: 'bin/sh', target: 'busybox' });

  const modulesDir = path.join(inputs.kernelRoot, 'lib/modules', `${inputs.abi}-686`);
  const { order, skippedAliases } = resolveModules(modulesDir);
  for (const m of order) file(`lib/modules/${m.name}.ko`, fs.readFileSync(path.join(modulesDir, m.relPath)));
  // Two lists, each in load order: what 9P needs (every boot) and the rest (disk boots
  // only: ext4, libata and friends cost seconds of insmod under emulation).
  const for9p = new Set(resolveModules(modulesDir, GUEST_MODULES_9P).order.map((m) => m.name));
  const lines = (mods: ModuleRef[]) => new TextEncoder().encode(mods.map((m) => m.name).join('\n') + '\n');
  file('etc/modules', lines(order.filter((m) => for9p.has(m.name))));
  file('etc/modules.disk', lines(order.filter((m) => !for9p.has(m.name))));

  const libs = libraryClosure(inputs.e2fsRoot, E2FS_PROGRAMS);
  for (const [soname, source] of libs) file(`lib/${soname}`, fs.readFileSync(source), 0o755);
  for (const p of E2FS_PROGRAMS) file(`usr/sbin/${path.basename(p)}`, fs.readFileSync(resolveInTree(inputs.e2fsRoot, p)), 0o755);
  for (const [link, target] of [['mkfs.ext4', 'mke2fs'], ['mkfs.ext2', 'mke2fs'], ['fsck.ext4', 'e2fsck']]) entries.push({ kind: 'symlink', name: `usr/sbin/${link}`, target });
  const conf = path.join(inputs.e2fsRoot, 'etc/mke2fs.conf');
  if (fs.existsSync(conf)) file('etc/mke2fs.conf', fs.readFileSync(conf));
  file('etc/passwd', new TextEncoder().encode('root:x:0:0:root:/root:/bin/sh\n'));
  file('etc/group', new TextEncoder().encode('root:x:0:\n'));
  return { entries, modules: order, libraries: [...libs.keys()], skippedAliases };
}
