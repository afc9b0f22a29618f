/**
 * Debian packages for the guest, through apt's ordinary clients only: `apt-cache` to
 * resolve names and versions, `apt-get download` to fetch a .deb into a cache folder (no
 * system-wide install), `dpkg-deb -x` to unpack it. Nothing else is downloaded.
 *
 * The kernel ABI (the `6.1.0-50` in linux-image-6.1.0-50-686) changes with point
 * releases, so it is read from the dependencies of the `linux-image-686:i386`
 * metapackage rather than written down here.
 *
 * When apt knows no i386 packages yet and we run as root (a fresh CI machine), the i386
 * architecture is added and the package lists are updated first: that changes apt's
 * configuration, installs nothing, and is printed. Not as root, the error says what to run.
 *
 * Failures are AptError with a message that says what to do (add the i386 architecture,
 * run apt-get update, or use a machine with apt), never a bare exit status.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export class AptError extends Error {}

const APT_HINT =
  'The guest is built from Debian packages (i386). On a Debian or Ubuntu machine run, as root:\n' +
  '  dpkg --add-architecture i386 && apt-get update\n' +
  'then build again. Prebuilt artefacts in images/guest/ are used when present.';

function run(command: string, args: string[], cwd?: string): string {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  if (r.error) {
    const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new AptError(missing ? `'${command}' is not available on this machine.\n${APT_HINT}` : `${command}: ${r.error.message}`);
  }
  if (r.status !== 0) throw new AptError(`${command} ${args.join(' ')} failed (exit ${r.status}):\n${(r.stderr || r.stdout).trim()}\n${APT_HINT}`);
  return r.stdout;
}

/** True when apt-get, apt-cache and dpkg-deb can all be run here. */
export function aptAvailable(): boolean {
  return ['apt-get', 'apt-cache', 'dpkg-deb'].every((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);
}

function knowsI386(): boolean {
  const r = spawnSync('apt-cache', ['policy', 'busybox-static:i386'], { encoding: 'utf8' });
  return r.status === 0 && /Candidate:\s*(?!\(none\))\S+/.test(r.stdout);
}

/** Makes sure apt can see i386 packages (see the header); throws AptError if it cannot. */
export function ensureI386Lists(log: (line: string) => void): void {
  if (knowsI386()) return;
  if (process.getuid?.() !== 0) throw new AptError(`apt knows no i386 packages here.\n${APT_HINT}`);
  log('guest: apt knows no i386 packages; running dpkg --add-architecture i386 && apt-get update');
  run('dpkg', ['--add-architecture', 'i386']);
  // A mirror that is mid-sync fails some index files; what matters is whether ours resolve.
  const update = spawnSync('apt-get', ['update', '-q'], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  if (!knowsI386()) throw new AptError(`apt-get update did not make i386 packages available:\n${(update.stderr || update.stdout).trim().slice(-2000)}\n${APT_HINT}`);
}

/** The running ABI of Debian's 686 (non-PAE) kernel, e.g. "6.1.0-50", from the metapackage's Depends. */
export function resolveKernelAbi(): string {
  const out = run('apt-cache', ['depends', 'linux-image-686:i386']);
  const m = /Depends:\s*linux-image-(\d+\.\d+\.\d+-\d+)-686(?::i386)?\s*$/m.exec(out);
  if (!m) throw new AptError(`cannot find the kernel ABI in 'apt-cache depends linux-image-686:i386':\n${out.trim()}\n${APT_HINT}`);
  return m[1];
}

/** The candidate version apt would fetch for `pkg` (name with optional :arch). */
export function candidateVersion(pkg: string): string {
  const out = run('apt-cache', ['policy', pkg]);
  const m = /Candidate:\s*(\S+)/.exec(out);
  if (!m || m[1] === '(none)') throw new AptError(`apt knows no candidate for ${pkg}.\n${APT_HINT}`);
  return m[1];
}

/**
 * Downloads `pkg` into `cacheDir` unless a .deb of the same name and version is there
 * already; returns the .deb's path.
 */
export function downloadDeb(pkg: string, cacheDir: string): string {
  fs.mkdirSync(cacheDir, { recursive: true });
  const [name, arch] = pkg.split(':');
  const version = candidateVersion(pkg);
  // apt names files name_version_arch.deb with ':' in the version escaped as %3a.
  const versionInName = version.replace(/:/g, '%3a');
  const find = () =>
    fs.readdirSync(cacheDir).find((f) => f.startsWith(`${name}_${versionInName}_`) && f.endsWith('.deb') && (!arch || f.endsWith(`_${arch}.deb`) || f.endsWith('_all.deb')));
  const have = find();
  if (have) return path.join(cacheDir, have);
  run('apt-get', ['download', '-q', '-o', 'APT::Sandbox::User=root', `${pkg}=${version}`], cacheDir);
  const got = find();
  if (!got) throw new AptError(`apt-get download ${pkg} left no .deb in ${cacheDir}`);
  return path.join(cacheDir, got);
}

/** Unpacks a .deb's data into `dir` (created if needed). */
export function extractDeb(debPath: string, dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  run('dpkg-deb', ['-x', debPath, dir]);
}

/** `dpkg-deb -f deb Version`: the version recorded inside a .deb. */
export function debVersion(debPath: string): string {
  return execFileSync('dpkg-deb', ['-f', debPath, 'Version'], { encoding: 'utf8' }).trim();
}
