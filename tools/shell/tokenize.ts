/**
 * The shell's tokenizer: text -> commands -> words, in the manner of sh, only smaller.
 *
 * - Commands end at a newline or an unquoted `;`. A `#` at the start of a word begins a
 *   comment that runs to the end of the line.
 * - Words are split on unquoted blanks. 'single quotes' keep every character as it is;
 *   "double quotes" understand \" \\ \$ \n \t and expand variables; outside quotes a
 *   backslash keeps the next character (a backslash before a newline joins two lines).
 * - $NAME and ${NAME} expand through `vars` outside single quotes; an unknown name is
 *   an error (a typo should not become an empty string). "" is an empty word.
 * - Each command carries the 1-based line it starts on, for script error messages.
 *
 * In partial mode (tab completion) an unfinished quote is not an error, unknown
 * variables stay as written, and the result says where the last word starts and
 * whether the text ends inside it.
 */

export interface Command {
  words: string[];
  /** 1-based line of the command's first character. */
  line: number;
}

export class TokenizeError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
    this.name = 'TokenizeError';
  }
}

export interface TokenizeOptions {
  /** Value of $NAME, or undefined if there is no such variable. */
  vars?: (name: string) => string | undefined;
}

export interface PartialLine {
  /** Finished words of the last command (the command name first). */
  words: string[];
  /** The word being typed (unquoted value) and where it starts in the text; '' after a blank. */
  current: string;
  currentStart: number;
  /** The quote the text ends inside, if any. */
  openQuote: '"' | "'" | null;
}

const BLANK = /[ \t\r]/;
const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;
const DQ_ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', $: '$', n: '\n', t: '\t', '`': '`' };

interface ScanResult {
  commands: Command[];
  partial: PartialLine;
}

function scan(text: string, options: TokenizeOptions, partial: boolean): ScanResult {
  const commands: Command[] = [];
  let words: string[] = [];
  let word = '';
  let inWord = false;
  let wordStart = 0;
  let line = 1;
  let commandLine = 1;
  let quote: '"' | "'" | null = null;
  let quoteLine = 1;

  const endWord = () => {
    if (inWord) words.push(word);
    word = '';
    inWord = false;
  };
  const endCommand = () => {
    endWord();
    if (words.length) commands.push({ words, line: commandLine });
    words = [];
  };
  const startWord = (at: number) => {
    if (!inWord) {
      if (words.length === 0) commandLine = line;
      inWord = true;
      wordStart = at;
    }
  };
  const variable = (at: number): { value: string; next: number } | null => {
    let name: string;
    let next: number;
    if (text[at + 1] === '{') {
      const close = text.indexOf('}', at + 2);
      if (close < 0) {
        if (partial) return null;
        throw new TokenizeError('unterminated ${', line);
      }
      name = text.slice(at + 2, close);
      next = close + 1;
    } else {
      let end = at + 1;
      if (!NAME_START.test(text[end] ?? '')) return null; // a lone '$' is a character
      while (end < text.length && NAME_CHAR.test(text[end])) end++;
      name = text.slice(at + 1, end);
      next = end;
    }
    const value = options.vars?.(name);
    if (value === undefined) {
      if (partial) return { value: text.slice(at, next), next };
      throw new TokenizeError(`unknown variable $${name}`, line);
    }
    return { value, next };
  };

  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (quote === "'") {
      if (c === "'") quote = null;
      else {
        if (c === '\n') line++;
        word += c;
      }
      i++;
      continue;
    }
    if (quote === '"') {
      if (c === '"') {
        quote = null;
        i++;
      } else if (c === '\\' && i + 1 < text.length && DQ_ESCAPES[text[i + 1]] !== undefined) {
        word += DQ_ESCAPES[text[i + 1]];
        i += 2;
      } else if (c === '$') {
        const v = variable(i);
        if (v) {
          word += v.value;
          i = v.next;
        } else {
          word += c;
          i++;
        }
      } else {
        if (c === '\n') line++;
        word += c;
        i++;
      }
      continue;
    }
    if (c === '\n') {
      endCommand();
      line++;
      i++;
    } else if (BLANK.test(c)) {
      endWord();
      i++;
    } else if (c === ';') {
      endCommand();
      i++;
    } else if (c === '#' && !inWord) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '\\') {
      if (text[i + 1] === '\n') {
        line++;
        i += 2;
        continue;
      }
      startWord(i);
      if (i + 1 < text.length) word += text[i + 1];
      i += 2;
    } else if (c === "'" || c === '"') {
      startWord(i);
      quote = c;
      quoteLine = line;
      i++;
    } else if (c === '$') {
      startWord(i);
      const v = variable(i);
      if (v) {
        word += v.value;
        i = v.next;
      } else {
        word += c;
        i++;
      }
    } else {
      startWord(i);
      word += c;
      i++;
    }
  }
  if (quote && !partial) throw new TokenizeError(`unterminated ${quote === '"' ? 'double' : 'single'} quote`, quoteLine);
  const current = inWord ? word : '';
  const currentStart = inWord ? wordStart : text.length;
  const partialWords = [...words];
  endCommand();
  return { commands, partial: { words: partialWords, current, currentStart, openQuote: quote } };
}

/** Splits text (one line or a whole script) into commands; throws TokenizeError with its line. */
export function tokenize(text: string, options: TokenizeOptions = {}): Command[] {
  return scan(text, options, false).commands;
}

/** The state at the end of a half-typed line, for completion. */
export function tokenizePartial(text: string, options: TokenizeOptions = {}): PartialLine {
  return scan(text, options, true).partial;
}

/** Quotes a word so the tokenizer reads it back unchanged (for completion and history). */
export function quoteWord(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./~-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
