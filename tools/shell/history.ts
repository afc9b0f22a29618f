/**
 * Command history kept across sessions, one line per command, oldest first.
 *
 * Where: `$STRATA_HISTORY` if set (empty: no history file); else `.strata_history` in
 * the image's directory, so each image directory keeps its own; else ~/.strata_history.
 * Each line is appended as it is entered (a killed session keeps what it typed), and
 * the file is cut back to its last HISTORY_LINES_MAX lines when it is loaded.
 * Lines starting with a space are not recorded, as in bash's ignorespace.
 * A history file that cannot be read or written never stops the shell.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HISTORY_LINES_MAX } from './limits.ts';

export const HISTORY_FILE_NAME = '.strata_history';

/** The history file for a session on `imagePath` (null: keep no history file). */
export function historyFileFor(imagePath?: string): string | null {
  const env = process.env.STRATA_HISTORY;
  if (env !== undefined) return env === '' ? null : env;
  if (imagePath) return path.join(path.dirname(path.resolve(imagePath)), HISTORY_FILE_NAME);
  return path.join(os.homedir(), HISTORY_FILE_NAME);
}

export class History {
  readonly lines: string[] = [];

  constructor(private readonly file: string | null) {
    if (file === null) return;
    try {
      const text = fs.readFileSync(file, 'utf8');
      const all = text.split('\n').filter((l) => l.length > 0);
      this.lines.push(...all.slice(-HISTORY_LINES_MAX));
      if (all.length > HISTORY_LINES_MAX) fs.writeFileSync(file, this.lines.join('\n') + '\n');
    } catch {
      // no history yet, or unreadable: start empty
    }
  }

  /** Records a line (unless empty, a repeat of the last one, or starting with a space). */
  add(line: string): void {
    if (line.trim() === '' || line.startsWith(' ') || line.includes('\n')) return;
    if (this.lines[this.lines.length - 1] === line) return;
    this.lines.push(line);
    if (this.lines.length > HISTORY_LINES_MAX) this.lines.shift();
    if (this.file === null) return;
    try {
      fs.appendFileSync(this.file, line + '\n');
    } catch {
      // a read-only directory: history stays in memory
    }
  }

  /** Newest first, as node:readline's `history` option wants it. */
  newestFirst(): string[] {
    return [...this.lines].reverse();
  }
}
