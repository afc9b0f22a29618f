// The tokenizer: sh-like quoting, escapes, separators, comments, variables and line
// numbers; and, by property, that quoteWord's output reads back as the same word.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { quoteWord, tokenize, tokenizePartial, TokenizeError } from '../../tools/shell/tokenize.ts';
import { absolute, basename, dirname } from '../../tools/shell/paths.ts';
import { humanBytes, modeString, formatTable } from '../../tools/shell/format.ts';
import { parseOperands, parseSizeBytes, type CommandSpec } from '../../tools/shell/command.ts';

const words = (text: string, vars?: Record<string, string>) => tokenize(text, { vars: (n) => vars?.[n] }).map((c) => c.words);

describe('tokenizer', () => {
  it('splits on blanks, ; and newlines; skips comments; keeps line numbers', () => {
    expect(tokenize('ls -l /a ; cat b\n\n# note ; not a command\n  pwd # trailing\necho a#b')).toEqual([
      { words: ['ls', '-l', '/a'], line: 1 },
      { words: ['cat', 'b'], line: 1 },
      { words: ['pwd'], line: 4 },
      { words: ['echo', 'a#b'], line: 5 },
    ]);
  });

  it('single quotes keep everything; double quotes know \\n \\t \\" \\\\ \\$ and expand variables', () => {
    expect(words(`write 'a b;c # $X \\n' "x\\ty\\n\\"q\\" \\$X $X" ""`, { X: 'val' })).toEqual([['write', 'a b;c # $X \\n', 'x\ty\n"q" $X val', '']]);
  });

  it('a backslash outside quotes keeps the next character; before a newline it joins lines', () => {
    expect(words('cat my\\ file \\; \\#x\necho a \\\n b')).toEqual([['cat', 'my file', ';', '#x'], ['echo', 'a', 'b']]);
  });

  it('variables: $NAME and ${NAME}; unknown names are an error; a lone $ is a character', () => {
    expect(words('put ${T}/x $T/y a$ $', { T: '/tmp/s' })).toEqual([['put', '/tmp/s/x', '/tmp/s/y', 'a$', '$']]);
    expect(() => tokenize('put $NOPE/x')).toThrow(/unknown variable \$NOPE/);
  });

  it('an unterminated quote is an error naming the line it opened on', () => {
    try {
      tokenize('ls\nwrite /a "one\ntwo');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TokenizeError);
      expect((e as TokenizeError).line).toBe(2);
    }
  });

  it('partial lines: the words so far, the word being typed and where it starts', () => {
    expect(tokenizePartial('ls; cat /a/b')).toEqual({ words: ['cat'], current: '/a/b', currentStart: 8, openQuote: null });
    expect(tokenizePartial('cat "my fi')).toEqual({ words: ['cat'], current: 'my fi', currentStart: 4, openQuote: '"' });
    expect(tokenizePartial('cat ')).toEqual({ words: ['cat'], current: '', currentStart: 4, openQuote: null });
    expect(tokenizePartial('put $UNKNOWN/x').current).toBe('$UNKNOWN/x');
  });

  it('quoteWord(w) reads back as exactly w (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (w) => {
        expect(words(`x ${quoteWord(w)}`)).toEqual([['x', w]]);
      }),
    );
  });
});

describe('paths and formats', () => {
  it('absolute() joins and normalises lexically', () => {
    expect(absolute('/a/b', '../c/./d//')).toBe('/a/c/d');
    expect(absolute('/a', '/x/../../y')).toBe('/y');
    expect(absolute('/', '..')).toBe('/');
    expect([dirname('/a/b'), dirname('/a'), dirname('/'), basename('/a/b'), basename('/')]).toEqual(['/a', '/', '/', 'b', '']);
  });

  it('absolute() always gives a normal absolute path (property)', () => {
    const part = fc.constantFrom('a', 'b', '.', '..', '', 'c d');
    fc.assert(
      fc.property(fc.array(part, { maxLength: 8 }), fc.array(part, { maxLength: 8 }), fc.boolean(), (cwdParts, parts, rooted) => {
        const cwd = absolute('/', cwdParts.join('/'));
        const p = absolute(cwd, (rooted ? '/' : '') + parts.join('/'));
        expect(p.startsWith('/')).toBe(true);
        expect(p === '/' || !p.endsWith('/')).toBe(true);
        if (p !== '/') expect(p.slice(1).split('/').every((x) => x !== '' && x !== '.' && x !== '..')).toBe(true);
        expect(absolute('/', p)).toBe(p);
      }),
    );
  });

  it('human sizes, modes and tables', () => {
    expect([0, 512, 1024, 1536, 10 * 1024, 1024 ** 2 * 1.5, 1024 ** 3 * 12].map(humanBytes)).toEqual(['0 B', '512 B', '1.0 KiB', '1.5 KiB', '10 KiB', '1.5 MiB', '12 GiB']);
    expect([modeString('dir', 0o755), modeString('file', 0o644), modeString('symlink', 0o777), modeString('file', 0o4755), modeString('dir', 0o1777)]).toEqual([
      'drwxr-xr-x',
      '-rw-r--r--',
      'lrwxrwxrwx',
      '-rwsr-xr-x',
      'drwxrwxrwt',
    ]);
    expect(formatTable([['a', '1', 'x'], ['long', '100', 'y']], ['left', 'right', 'left'])).toEqual(['a       1  x', 'long  100  y']);
  });

  it('flags: clusters, values, --, unknown options and operand counts', () => {
    const spec: CommandSpec = {
      name: 't',
      group: 'shell',
      usage: '',
      summary: '',
      flags: { long: { short: 'l', help: '' }, all: { short: 'a', help: '' }, size: { short: 's', value: 'N', help: '' } },
      operands: [1, 2],
      run: async () => {},
    };
    const p = parseOperands(spec, ['-la', '-s10', 'x', '--', '-y']);
    expect([p.args, p.has('long'), p.has('all'), p.value('size')]).toEqual([['x', '-y'], true, true, '10']);
    expect(parseOperands(spec, ['--size=4K', 'a']).value('size')).toBe('4K');
    expect(() => parseOperands(spec, ['-q', 'a'])).toThrow('unknown option -q');
    expect(() => parseOperands(spec, ['--long=1', 'a'])).toThrow('--long takes no value');
    expect(() => parseOperands(spec, ['a', 'b', 'c'])).toThrow('too many operands (at most 2)');
    expect(() => parseOperands(spec, ['-s'])).toThrow('-s needs a value (N)');
    expect([parseSizeBytes('4096'), parseSizeBytes('64K'), parseSizeBytes('1.5M'), parseSizeBytes('2GiB')]).toEqual([4096, 65536, 1572864, 2 * 1024 ** 3]);
    expect(() => parseSizeBytes('lots')).toThrow(/not a size/);
  });
});
