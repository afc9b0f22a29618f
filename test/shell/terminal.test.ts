// The prompt on a pseudo-terminal: node:readline over a fake TTY (a PassThrough that
// claims to be a terminal in raw mode, and a Writable that records what is drawn), so
// completion, history and Ctrl-C are tested key by key, deterministically: every wait is
// for an event (a line finished, a text drawn), never for a length of time.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Shell } from '../../tools/shell/shell.ts';
import { runInteractive } from '../../tools/shell/repl.ts';
import { startTestHost, ModelStore, type TestWorld } from './system.ts';

class FakeTtyInput extends PassThrough {
  isTTY = true;
  isRaw = false;
  setRawMode(mode: boolean): this {
    this.isRaw = mode;
    return this;
  }
}

class FakeTtyOutput extends Writable {
  isTTY = true;
  columns = 80;
  rows = 24;
  raw = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.raw += chunk.toString();
    done();
  }
  /** What is drawn, without escape sequences. */
  get text(): string {
    // eslint-disable-next-line no-control-regex
    return this.raw.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/\r/g, '');
  }
}

const ITERATIONS_MAX = 100_000;
/** Event-loop turns that let an async completion finish when it draws nothing (an ambiguous first tab). */
const SETTLE_TURNS = 50;

async function settle(): Promise<void> {
  for (let i = 0; i < SETTLE_TURNS; i++) await new Promise((r) => setImmediate(r));
}

async function until(what: string, pred: () => boolean): Promise<void> {
  for (let i = 0; i < ITERATIONS_MAX; i++) {
    if (pred()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`never happened: ${what}`);
}

interface Term {
  input: FakeTtyInput;
  output: FakeTtyOutput;
  shell: Shell;
  lines: string[];
  ended: Promise<number>;
  type(keys: string): void;
  /** Types a line and waits until the shell has run it. */
  run(line: string): Promise<void>;
}

function openTerminal(world: TestWorld, historyFile: string): Term {
  const input = new FakeTtyInput();
  const output = new FakeTtyOutput();
  const shell = new Shell(world.host, { output });
  const lines: string[] = [];
  const runLine = shell.runLine.bind(shell);
  shell.runLine = async (line: string) => {
    const status = await runLine(line);
    lines.push(line);
    return status;
  };
  const ended = runInteractive(shell, { input, output: output as unknown as Writable & { isTTY: boolean }, historyFile });
  const term: Term = {
    input,
    output,
    shell,
    lines,
    ended,
    type: (keys) => void input.write(keys),
    run: async (line) => {
      const n = lines.length;
      input.write(line + '\r');
      await until(`'${line}' ran`, () => lines.length > n);
    },
  };
  return term;
}

const TAB = '\t';
const UP = '\x1b[A';
const CTRL_C = '\x03';
const CTRL_D = '\x04';

describe('the prompt on a terminal', () => {
  let dir: string;
  let historyFile: string;
  let world: TestWorld;
  const store = new ModelStore();

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-term-'));
    historyFile = path.join(dir, '.strata_history');
    world = await startTestHost({ store });
  });

  afterEach(async () => {
    await world.host.shutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('completes command names, subcommands and paths through the fs, and runs the result', async () => {
    const t = openTerminal(world, historyFile);
    await until('first prompt', () => t.output.text.includes('strata:/> '));
    await t.run('mkdir -p /docs/sub; write /docs/alpha.txt hello; write "/docs/with space" x');

    t.type('ca' + TAB);
    await settle();
    t.type(TAB);
    await until('cache and cat listed', () => /cache\s+cat\s*\n/.test(t.output.text));
    t.type('t /do' + TAB);
    await until('/docs/ completed', () => t.output.text.endsWith('cat /docs/'));
    t.type('al' + TAB);
    await until('alpha.txt completed', () => t.output.text.endsWith('cat /docs/alpha.txt'));
    await t.run('');
    expect(t.lines.at(-1)).toBe('cat /docs/alpha.txt');
    expect(t.output.text).toContain('hello\n');

    await t.run('cd /docs');
    t.type('cat wi' + TAB);
    await until('a name with a space completed, escaped', () => t.output.text.endsWith('strata:/docs> cat with\\ space'));
    await t.run('');
    expect(t.lines.at(-1)).toBe('cat with\\ space');
    expect(t.output.text).toContain('cat with\\ space\nx\n');

    t.type('mkd' + TAB);
    await until('mkdir completed', () => t.output.text.endsWith('strata:/docs> mkdir'));
    t.type(' -p' + CTRL_C);
    await until('line cleared', () => t.output.text.endsWith('^C\nstrata:/docs> '));
    t.type('snap li' + TAB);
    await until('subcommand completed', () => t.output.text.endsWith('snap list'));
    await t.run('');
    t.type('trace o' + TAB);
    await settle();
    t.type(TAB);
    await until('both words listed', () => /on\s+off/.test(t.output.text));
    t.type('f' + TAB);
    await until('trace off completed', () => t.output.text.endsWith('trace off'));
    await t.run('');
    expect(t.lines.slice(-2)).toEqual(['snap list', 'trace off']);

    t.type('exit\r');
    expect(await t.ended).toBe(0);
  });

  it('keeps history across sessions in the history file; up arrow recalls it', async () => {
    const first = openTerminal(world, historyFile);
    await first.run('write /h.txt one');
    await first.run('cat /h.txt');
    await first.run(' echo not recorded (leading space)');
    first.type(UP + UP);
    await until('the second line back is recalled', () => first.output.text.endsWith('strata:/> cat /h.txt'));
    await first.run('');
    expect(first.lines.at(-1)).toBe('cat /h.txt');
    first.type(CTRL_D);
    expect(await first.ended).toBe(0);
    expect(fs.readFileSync(historyFile, 'utf8')).toBe('write /h.txt one\ncat /h.txt\n');

    await world.host.reboot();
    const second = openTerminal(world, historyFile);
    second.type(UP);
    await until('the last line of the last session is recalled', () => second.output.text.endsWith('strata:/> cat /h.txt'));
    await second.run('');
    expect(second.output.text).toContain('one\n');
    await second.run('history');
    // the recalled line repeats the last one, so it is not recorded twice (as bash's ignoredups)
    expect(second.output.text).toMatch(/ {4}1 {2}write \/h\.txt one\n {4}2 {2}cat \/h\.txt\n {4}3 {2}history\n/);
    second.type('exit 3\r');
    expect(await second.ended).toBe(3);
  });

  it('Ctrl-C clears a half-typed line, stops a running command, and on an empty line leaves', async () => {
    const t = openTerminal(world, historyFile);
    t.type('this is never run');
    await until('typed', () => t.output.text.endsWith('never run'));
    t.type(CTRL_C);
    await until('^C drawn', () => t.output.text.includes('^C'));
    await t.run('pwd');
    expect(t.lines).toEqual(['pwd']);

    // A long command: Ctrl-C as soon as it has started; it stops between chunks.
    const n = t.lines.length;
    t.type('mkfile 64M /big.bin\r');
    await until('mkfile started', () => t.shell.busy);
    t.type(CTRL_C);
    await until('mkfile ended', () => t.lines.length > n);
    expect(t.shell.lastStatus).toBe(130);
    expect(t.output.text).toContain('mkfile: interrupted');

    t.type(CTRL_C);
    expect(await t.ended).toBe(0);
  });
});
