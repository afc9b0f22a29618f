/**
 * Paths in the shell: always normalised to an absolute form before they reach the fs
 * protocol ("/" joined, no empty, "." or ".." parts). ".." is resolved lexically, as
 * `cd` does in sh without -P: /a/link/.. is /a even if link is a symlink elsewhere.
 */

/** The absolute, normalised form of `path` relative to `cwd` (itself absolute). */
export function absolute(cwd: string, path: string): string {
  const parts: string[] = [];
  const all = path.startsWith('/') ? path.split('/') : [...cwd.split('/'), ...path.split('/')];
  for (const p of all) {
    if (p === '' || p === '.') continue;
    if (p === '..') parts.pop();
    else parts.push(p);
  }
  return '/' + parts.join('/');
}

/** Parent directory of a normalised absolute path ("/" for "/" and "/a"). */
export function dirname(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** Last name of a normalised absolute path ("" for "/"). */
export function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export function join(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** True if `inner` is `outer` or lies under it. */
export function isWithin(outer: string, inner: string): boolean {
  return inner === outer || outer === '/' || inner.startsWith(outer + '/');
}
