/**
 * Builds the Linux guest's boot artefacts from Debian packages into images/guest/
 * (ignored by git):
 *
 *   vmlinuz              Debian's linux-image-<abi>-686-unsigned (i386, non-PAE) bzImage
 *   initramfs.cpio       busybox-static, the modules the guest needs in load order,
 *                        mke2fs/e2fsck with their libraries, tools/guest/init.sh as /init;
 *                        not compressed: inflating it in the emulated guest took seconds
 *                        of every boot, while v86 loads the larger file in milliseconds
 *   bios.bin, vgabios.bin  SeaBIOS from Debian's `seabios` package
 *   manifest.json        ABI, package versions, module order, the recipe hash
 *   debs/                the downloaded .deb files (a cache; reused by later builds)
 *
 * Idempotent: when manifest.json's recipe hash matches this builder (its sources, the
 * init script, the package list) and every artefact is present, nothing is done and apt
 * is not consulted, so a built tree works offline. When the recipe changed but apt is
 * unavailable, the existing artefacts are used with a warning; with none, the error
 * says how to get apt ready.
 *
 * Usage: npx tsx tools/guest/build.ts [--force] [--dir images/guest]
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { aptAvailable, AptError, debVersion, downloadDeb, ensureI386Lists, extractDeb, resolveKernelAbi } from './debian.ts';
import { writeCpio } from './cpio.ts';
import { initramfsEntries } from './initramfs.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const GUEST_DIR_DEFAULT = path.resolve(HERE, '../../images/guest');
/** Bump to force a rebuild when the output format changes in a way the sources do not show. */
const RECIPE_VERSION = 1;
const E2FS_PACKAGES = ['e2fsprogs:i386', 'libext2fs2:i386', 'libcom-err2:i386', 'libblkid1:i386', 'libuuid1:i386', 'libc6:i386'];
const RECIPE_SOURCES = ['build.ts', 'initramfs.ts', 'cpio.ts', 'elf.ts', 'debian.ts', 'init.sh'];

export interface GuestArtefacts {
  dir: string;
  kernelPath: string;
  initrdPath: string;
  biosPath: string;
  vgaBiosPath: string;
  manifest: GuestManifest;
}

export interface GuestManifest {
  recipeHash: string;
  abi: string;
  packages: Record<string, string>;
  modules: string[];
  libraries: string[];
  skippedAliases: string[];
  initrdBytes: number;
  kernelBytes: number;
  builtAt: string;
}

export interface BuildOptions {
  dir?: string;
  force?: boolean;
  log?: (line: string) => void;
}

function recipeHash(): string {
  const h = createHash('sha256');
  h.update(`recipe ${RECIPE_VERSION}\n${E2FS_PACKAGES.join(',')}\n`);
  for (const f of RECIPE_SOURCES) h.update(fs.readFileSync(path.join(HERE, f)));
  return h.digest('hex').slice(0, 16);
}

function artefactsIn(dir: string, manifest: GuestManifest): GuestArtefacts {
  return {
    dir,
    kernelPath: path.join(dir, 'vmlinuz'),
    initrdPath: path.join(dir, 'initramfs.cpio'),
    biosPath: path.join(dir, 'bios.bin'),
    vgaBiosPath: path.join(dir, 'vgabios.bin'),
    manifest,
  };
}

function readManifest(dir: string): GuestManifest | undefined {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as GuestManifest;
    const a = artefactsIn(dir, m);
    return [a.kernelPath, a.initrdPath, a.biosPath, a.vgaBiosPath].every((p) => fs.existsSync(p)) ? m : undefined;
  } catch {
    return undefined;
  }
}

/** Returns the guest artefacts, building them first when missing or out of date. */
export async function ensureGuestArtefacts(options: BuildOptions = {}): Promise<GuestArtefacts> {
  const dir = path.resolve(options.dir ?? GUEST_DIR_DEFAULT);
  const log = options.log ?? (() => {});
  const recipe = recipeHash();
  const existing = readManifest(dir);
  if (existing && !options.force) {
    if (existing.recipeHash === recipe) return artefactsIn(dir, existing);
    if (!aptAvailable()) {
      log(`guest: the recipe changed (${existing.recipeHash} -> ${recipe}) but apt is not available; using the existing artefacts`);
      return artefactsIn(dir, existing);
    }
  }
  if (!aptAvailable()) {
    throw new AptError(
      `apt-get, apt-cache and dpkg-deb are needed to build the guest into ${dir} (no artefacts there yet).\n` +
        'Run this on Debian or Ubuntu, as root: dpkg --add-architecture i386 && apt-get update',
    );
  }
  return build(dir, recipe, log);
}

function build(dir: string, recipe: string, log: (line: string) => void): GuestArtefacts {
  const t0 = performance.now();
  const debs = path.join(dir, 'debs');
  const work = path.join(dir, '.work');
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  try {
    ensureI386Lists(log);
    const abi = resolveKernelAbi();
    log(`guest: kernel ABI ${abi} (from linux-image-686:i386)`);
    const packages: Record<string, string> = {};
    const fetch = (pkg: string, into: string) => {
      const deb = downloadDeb(pkg, debs);
      packages[pkg] = debVersion(deb);
      extractDeb(deb, path.join(work, into));
      log(`guest: ${pkg} ${packages[pkg]}`);
    };
    fetch('seabios', 'seabios');
    fetch('busybox-static:i386', 'busybox');
    fetch(`linux-image-${abi}-686-unsigned:i386`, 'kernel');
    for (const p of E2FS_PACKAGES) fetch(p, 'e2fs');

    const { entries, modules, libraries, skippedAliases } = initramfsEntries({
      busyboxRoot: path.join(work, 'busybox'),
      kernelRoot: path.join(work, 'kernel'),
      abi,
      e2fsRoot: path.join(work, 'e2fs'),
      initScript: fs.readFileSync(path.join(HERE, 'init.sh'), 'utf8'),
    });
    log(`guest: modules in load order: ${modules.map((m) => m.name).join(' ')}`);
    if (skippedAliases.length) log(`guest: soft-dependency aliases not mapped (skipped): ${skippedAliases.join(' ')}`);
    const initrd = writeCpio(entries);

    fs.mkdirSync(dir, { recursive: true });
    const kernel = fs.readFileSync(path.join(work, 'kernel/boot', `vmlinuz-${abi}-686`));
    const out = artefactsIn(dir, {} as GuestManifest);
    fs.writeFileSync(out.kernelPath, kernel);
    fs.writeFileSync(out.initrdPath, initrd);
    fs.rmSync(path.join(dir, 'initramfs.cpio.gz'), { force: true }); // the compressed one of earlier recipes
    fs.copyFileSync(path.join(work, 'seabios/usr/share/seabios/bios.bin'), out.biosPath);
    fs.copyFileSync(path.join(work, 'seabios/usr/share/seabios/vgabios-stdvga.bin'), out.vgaBiosPath);
    const manifest: GuestManifest = {
      recipeHash: recipe,
      abi,
      packages,
      modules: modules.map((m) => m.name),
      libraries,
      skippedAliases,
      initrdBytes: initrd.length,
      kernelBytes: kernel.length,
      builtAt: new Date().toISOString(),
    };
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    log(`guest: built in ${((performance.now() - t0) / 1000).toFixed(1)} s: kernel ${kernel.length} bytes, initramfs ${initrd.length} bytes (${dir})`);
    return artefactsIn(dir, manifest);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const dirAt = args.indexOf('--dir');
  try {
    const a = await ensureGuestArtefacts({ dir: dirAt >= 0 ? args[dirAt + 1] : undefined, force: args.includes('--force'), log: (l) => console.log(l) });
    console.log(`guest artefacts ready in ${a.dir} (ABI ${a.manifest.abi}, recipe ${a.manifest.recipeHash})`);
  } catch (e) {
    if (e instanceof AptError) {
      console.error(`guest build: ${e.message}`);
      process.exitCode = 1;
    } else throw e;
  }
}
