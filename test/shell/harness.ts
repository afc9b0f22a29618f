/**
 * Scripted sessions for the shell's tests: boot the test system, run a script through
 * Shell.runScript (or line by line as a person would), and give back everything printed
 * (output and errors interleaved, in order) with host timings normalised.
 *
 * Golden files live beside the tests in golden/; UPDATE_GOLDEN=1 rewrites them (then
 * read the diff before committing: a golden is a claim about the output).
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { Shell } from '../../tools/shell/shell.ts';
import { startTestHost, type TestHostOptions, type TestWorld } from './system.ts';

export class Capture {
  text = '';
  isTTY = false;
  columns = 80;
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

/** Host timings ([    0.001234] at the start of boot-log lines) become [ T ]; $TMP becomes $TMP. */
export function normalise(text: string, scratchDir?: string): string {
  let out = text.replace(/^\[\s*\d+\.\d{6}\] /gm, '[ T ] ');
  if (scratchDir) out = out.split(scratchDir).join('$TMP');
  return out;
}

export interface Session {
  world: TestWorld;
  shell: Shell;
  out: Capture;
  /** Runs a script; returns its status. */
  script(text: string, name?: string): Promise<number>;
  /** Output so far, normalised. */
  output(): string;
  close(): Promise<void>;
}

export async function openSession(options: TestHostOptions & { hostCwd?: string } = {}): Promise<Session> {
  const out = new Capture();
  const world = await startTestHost(options);
  const shell = new Shell(world.host, { output: out, hostCwd: options.hostCwd });
  let scratch: string | undefined;
  return {
    world,
    shell,
    out,
    script: (text, name = 'test.strata') => {
      if (text.includes('$TMP')) scratch = shell.scratchDir();
      return shell.runScript(text, name);
    },
    output: () => normalise(out.text, scratch),
    close: async () => void (await shell.shutdown()),
  };
}

/** Runs a script in a fresh session; returns the normalised output and the status. */
export async function runSession(text: string, options: TestHostOptions & { name?: string; hostCwd?: string } = {}): Promise<{ output: string; status: number }> {
  const s = await openSession(options);
  try {
    const status = await s.script(text, options.name);
    return { output: s.output(), status };
  } finally {
    await s.close();
  }
}

const GOLDEN_DIR = path.join(path.dirname(new URL(import.meta.url).pathname), 'golden');

/** Compares with golden/NAME (or writes it when UPDATE_GOLDEN=1). */
export function expectGolden(name: string, actual: string): void {
  const file = path.join(GOLDEN_DIR, name);
  if (process.env.UPDATE_GOLDEN === '1' || !fs.existsSync(file)) {
    if (process.env.UPDATE_GOLDEN !== '1' && process.env.CI) throw new Error(`golden file ${name} is missing`);
    fs.mkdirSync(GOLDEN_DIR, { recursive: true });
    fs.writeFileSync(file, actual);
  }
  expect(actual).toBe(fs.readFileSync(file, 'utf8'));
}
