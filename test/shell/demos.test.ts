// The demos in demos/: each one is well-formed (every command known, every flag and
// operand count right), runs to the end with status 0 on the test system, and prints
// what its golden file says (test/shell/golden/demo-NAME.out; UPDATE_GOLDEN=1 rewrites).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkScript } from '../../tools/shell/check.ts';
import { defaultTable } from '../../tools/shell/table.ts';
import { expectGolden, runSession } from './harness.ts';

const DEMO_DIR = path.join(path.dirname(new URL(import.meta.url).pathname), '../../demos');
const demos = fs.readdirSync(DEMO_DIR).filter((f) => f.endsWith('.strata')).sort();

describe('demos', () => {
  it('there are the three demos the issue asks for', () => {
    expect(demos).toEqual(['crash.strata', 'dedup.strata', 'snapshots.strata']);
  });

  for (const demo of demos) {
    const text = fs.readFileSync(path.join(DEMO_DIR, demo), 'utf8');

    it(`${demo} is well-formed`, () => {
      expect(checkScript(defaultTable(), text, demo)).toEqual([]);
    });

    it(`${demo} runs to the end and prints its golden output`, async () => {
      const { output, status } = await runSession(text, { name: demo });
      expect(status, output).toBe(0);
      expectGolden(`demo-${demo.replace('.strata', '')}.out`, output);
    });
  }

  it('checkScript names each kind of problem with its line', () => {
    const problems = checkScript(defaultTable(), 'ls\nfrobnicate\nls --bogus\nsnap\nsnap explode x\ncat\nwrite "open', 'x.strata');
    expect(problems).toEqual(['x.strata:7: syntax error: unterminated double quote']);
    expect(checkScript(defaultTable(), 'ls\nfrobnicate\nls --bogus\nsnap\nsnap explode x\ncat\ntry frob', 'x.strata')).toEqual([
      'x.strata:2: frobnicate: unknown command',
      'x.strata:3: ls: unknown option --bogus',
      'x.strata:4: snap: snap: needs a subcommand',
      "x.strata:5: snap: unknown subcommand 'explode' (have: create, list, show, diff, restore, delete)",
      'x.strata:6: cat: needs at least 1 operand',
      'x.strata:7: frob: unknown command',
    ]);
  });
});
