/**
 * A small argument parser for the strata CLI: positionals, `--flag`, `--key value` and
 * `--key=value`, with unknown options refused by name so a typo is an error, not a no-op.
 */

export interface OptionSpec {
  /** Takes a value (`--size 1G`) rather than being a boolean flag. */
  value?: boolean;
  help: string;
}

export interface ParsedArgs {
  positionals: string[];
  options: Record<string, string | boolean>;
}

export class UsageError extends Error {}

export function parseArgs(argv: string[], spec: Record<string, OptionSpec>): ParsedArgs {
  const out: ParsedArgs = { positionals: [], options: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--') || arg === '--') {
      out.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const s = spec[name];
    if (!s) throw new UsageError(`unknown option --${name}`);
    if (!s.value) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      out.options[name] = true;
      continue;
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    out.options[name] = value;
  }
  return out;
}

/** Parses sizes like 4096, 64K, 512M, 1G, 2T (binary units). */
export function parseSize(text: string): number {
  const m = /^(\d+)([KMGT]?)(i?B)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`'${text}' is not a size (examples: 64M, 1G, 4096)`);
  const mult = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  const n = Number(m[1]) * mult;
  if (!Number.isSafeInteger(n)) throw new UsageError(`size '${text}' is too large`);
  return n;
}

export function helpText(usage: string, summary: string, spec: Record<string, OptionSpec>): string {
  const lines = [`usage: ${usage}`, '', summary];
  const names = Object.keys(spec);
  if (names.length) {
    lines.push('', 'options:');
    const width = Math.max(...names.map((n) => n.length + (spec[n].value ? 8 : 0)));
    for (const n of names) {
      const left = `--${n}${spec[n].value ? ' <value>' : ''}`;
      lines.push(`  ${left.padEnd(width + 4)}${spec[n].help}`);
    }
  }
  return lines.join('\n');
}
