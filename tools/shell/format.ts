/**
 * Output helpers: sizes in human units, aligned tables, ls-style modes, times, ratios,
 * and the progress bar. Pure functions of their arguments (the progress bar writes only
 * to the stream it is given, and only when that stream is a terminal), so scripted
 * output is byte-for-byte reproducible.
 */
import type { FileType, Timespec } from '../../services/fs/protocol.ts';
import { PROGRESS_BAR_WIDTH_CHARS } from './limits.ts';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 0 B, 512 B, 4.0 KiB, 1.5 MiB, 12 GiB: one decimal below 10, none above. */
export function humanBytes(sizeBytes: number): string {
  if (!Number.isFinite(sizeBytes)) return '?';
  let n = Math.abs(sizeBytes);
  let i = 0;
  while (n >= 1024 && i < UNITS.length - 1) {
    n /= 1024;
    i++;
  }
  const sign = sizeBytes < 0 ? '-' : '';
  if (i === 0) return `${sign}${n} B`;
  const text = n < 10 ? n.toFixed(1) : Math.round(n).toString();
  return `${sign}${text} ${UNITS[i]}`;
}

export type Align = 'left' | 'right';

/**
 * Lays rows out in columns separated by two spaces. `align` gives each column's
 * alignment (default left); the last column is never padded on the right.
 */
export function formatTable(rows: string[][], align: Align[] = []): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)));
  return rows.map((row) =>
    row
      .map((cell, i) => {
        const pad = widths[i] - [...cell].length;
        if (align[i] === 'right') return ' '.repeat(pad) + cell;
        return i === row.length - 1 ? cell : cell + ' '.repeat(pad);
      })
      .join('  ')
      .trimEnd(),
  );
}

/** Words laid out in columns across `widthChars`, down then across (as ls does on a terminal). */
export function formatColumns(words: string[], widthChars: number): string[] {
  if (words.length === 0) return [];
  const cell = Math.max(...words.map((w) => [...w].length)) + 2;
  const perRow = Math.max(1, Math.floor((widthChars + 2) / cell));
  const rowCount = Math.ceil(words.length / perRow);
  const lines: string[] = [];
  for (let r = 0; r < rowCount; r++) {
    let line = '';
    for (let c = 0; c < perRow; c++) {
      const w = words[c * rowCount + r];
      if (w !== undefined) line += w.padEnd(cell);
    }
    lines.push(line.trimEnd());
  }
  return lines;
}

const TYPE_CHAR: Record<FileType, string> = { file: '-', dir: 'd', symlink: 'l' };

/** drwxr-xr-x, -rw-r--r--, lrwxrwxrwx (setuid, setgid and sticky shown as ls shows them). */
export function modeString(type: FileType, mode: number): string {
  const rwx = (bits: number, special: boolean, specialChar: string) => {
    const x = bits & 1;
    const exec = special ? (x ? specialChar : specialChar.toUpperCase()) : x ? 'x' : '-';
    return `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${exec}`;
  };
  return (
    TYPE_CHAR[type] +
    rwx((mode >> 6) & 7, (mode & 0o4000) !== 0, 's') +
    rwx((mode >> 3) & 7, (mode & 0o2000) !== 0, 's') +
    rwx(mode & 7, (mode & 0o1000) !== 0, 't')
  );
}

/** 0644 */
export function octalMode(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}

/** 2023-11-14 22:13:20 (UTC: the machine's clock has no time zone). */
export function formatTime(t: Timespec): string {
  return new Date(t.sec * 1000 + Math.floor(t.nsec / 1e6)).toISOString().replace('T', ' ').slice(0, 19);
}

/** Full precision, for stat: 2023-11-14 22:13:20.123456789 UTC */
export function formatTimePrecise(t: Timespec): string {
  return `${formatTime(t)}.${String(t.nsec).padStart(9, '0')} UTC`;
}

export function isoTime(t: Timespec): string {
  return new Date(t.sec * 1000 + Math.floor(t.nsec / 1e6)).toISOString();
}

/** 42.0% (or '-' when the whole is zero). */
export function percent(part: number, whole: number): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '-';
}

/** 2.00x (or '-' when the denominator is zero). */
export function ratio(numerator: number, denominator: number): string {
  return denominator > 0 ? `${(numerator / denominator).toFixed(2)}x` : '-';
}

/** Thousands separated by commas: 1,234,567. */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** "1 directory", "2 directories", "1 log record": n and a plural noun made singular for 1. */
export function countOf(n: number, plural: string): string {
  if (n !== 1) return `${count(n)} ${plural}`;
  return `1 ${plural.endsWith('ies') ? plural.slice(0, -3) + 'y' : plural.endsWith('s') ? plural.slice(0, -1) : plural}`;
}

export function hex(bytes: Uint8Array, lengthChars = bytes.length * 2): string {
  return Buffer.from(bytes).toString('hex').slice(0, lengthChars);
}

export interface ProgressSink {
  isTTY?: boolean;
  write(chunk: string): unknown;
}

/**
 * A one-line progress bar redrawn in place with '\r', only on a terminal and only when
 * the shown percentage changes (so a fast transfer does not flood the terminal).
 * `finish()` erases the line; the command prints its own summary afterwards.
 */
export class ProgressBar {
  private shownPercent = -1;
  private readonly active: boolean;

  constructor(
    private readonly sink: ProgressSink,
    private readonly label: string,
    private readonly totalBytes: number,
    enabled: boolean,
  ) {
    this.active = enabled && sink.isTTY === true && totalBytes > 0;
  }

  update(doneBytes: number): void {
    if (!this.active) return;
    const pct = Math.min(100, Math.floor((100 * doneBytes) / this.totalBytes));
    if (pct === this.shownPercent) return;
    this.shownPercent = pct;
    const filled = Math.round((pct / 100) * PROGRESS_BAR_WIDTH_CHARS);
    const bar = '#'.repeat(filled) + '.'.repeat(PROGRESS_BAR_WIDTH_CHARS - filled);
    this.sink.write(`\r${this.label} [${bar}] ${String(pct).padStart(3)}% ${humanBytes(doneBytes)} / ${humanBytes(this.totalBytes)}\x1b[K`);
  }

  finish(): void {
    if (this.active && this.shownPercent >= 0) this.sink.write('\r\x1b[K');
  }
}
