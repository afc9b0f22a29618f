// The file commands against a small reference, by property: random sequences of
// mkdir -p, write, append, rm -rf, mv and cp -r on a few names give the same tree and the
// same contents as a plain map of path -> dir | text, and a command fails exactly when
// the reference says it must (and then changes what the reference says it changes).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readFile, stat, walk } from '../../tools/shell/fsops.ts';
import { openSession } from './harness.ts';

type Node = { type: 'dir' } | { type: 'file'; text: string };
type Tree = Map<string, Node>;

const NAMES = ['a', 'b', 'c'];
const pathArb = fc.array(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 3 }).map((p) => '/' + p.join('/'));
const textArb = fc.constantFrom('x', 'hello', 'two words');

type Op =
  | { kind: 'mkdir'; path: string }
  | { kind: 'write'; path: string; text: string }
  | { kind: 'append'; path: string; text: string }
  | { kind: 'rm'; path: string }
  | { kind: 'mv'; from: string; to: string }
  | { kind: 'cp'; from: string; to: string };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  pathArb.map((path) => ({ kind: 'mkdir' as const, path })),
  fc.record({ kind: fc.constantFrom('write' as const, 'append' as const), path: pathArb, text: textArb }).map((o) => o as Op),
  pathArb.map((path) => ({ kind: 'rm' as const, path })),
  fc.record({ kind: fc.constantFrom('mv' as const, 'cp' as const), from: pathArb, to: pathArb }).map((o) => o as Op),
);

function command(op: Op): string {
  switch (op.kind) {
    case 'mkdir':
      return `mkdir -p ${op.path}`;
    case 'write':
    case 'append':
      return `${op.kind} ${op.path} "${op.text}"`;
    case 'rm':
      return `rm -rf ${op.path}`;
    case 'mv':
      return `mv ${op.from} ${op.to}`;
    case 'cp':
      return `cp -r ${op.from} ${op.to}`;
  }
}

const parent = (p: string) => p.slice(0, p.lastIndexOf('/')) || '/';
const base = (p: string) => p.slice(p.lastIndexOf('/') + 1);
const under = (p: string, dir: string) => p === dir || p.startsWith(dir + '/');
const isDir = (t: Tree, p: string) => t.get(p)?.type === 'dir';

/** Applies op to the reference; returns false if the command must fail. Null: outcome not modelled (skip). */
function model(t: Tree, op: Op): boolean | null {
  if (op.kind === 'mkdir') {
    let cur = '';
    for (const part of op.path.split('/').slice(1)) {
      cur += '/' + part;
      const n = t.get(cur);
      if (n?.type === 'file') return false;
      if (!n) t.set(cur, { type: 'dir' });
    }
    return true;
  }
  if (op.kind === 'write' || op.kind === 'append') {
    if (!isDir(t, parent(op.path))) return false;
    const n = t.get(op.path);
    if (n?.type === 'dir') return false;
    const before = op.kind === 'append' && n?.type === 'file' ? n.text : '';
    t.set(op.path, { type: 'file', text: before + op.text + '\n' });
    return true;
  }
  if (op.kind === 'rm') {
    // -f forgives a missing path, not a file used as a directory (ENOTDIR), as in GNU rm
    for (let p = parent(op.path); p !== '/'; p = parent(p)) if (t.get(p)?.type === 'file') return false;
    for (const p of [...t.keys()]) if (under(p, op.path)) t.delete(p);
    return true;
  }
  const src = t.get(op.from);
  if (!src) return false;
  const target = isDir(t, op.to) ? `${op.to}/${base(op.from)}` : op.to;
  if (!isDir(t, parent(target))) return false;
  if (src.type === 'dir' && under(target, op.from)) return target === op.from && op.kind === 'mv' ? null : false;
  if (t.has(target)) return null; // replacing or merging: not modelled here
  const moved = [...t].filter(([p]) => under(p, op.from));
  if (op.kind === 'mv') for (const [p] of moved) t.delete(p);
  for (const [p, n] of moved) t.set(target + p.slice(op.from.length), n);
  return true;
}

describe('file commands against a reference map (property)', () => {
  for (const [stack, numRuns] of [['model', 60], ['real', 15]] as const) {
    it(`mkdir -p, write, append, rm -rf, mv and cp -r agree with the reference (${stack} fs)`, async () => {
      const s = await openSession({ stack });
      const fs = s.world.host.backends.fs!;
      try {
        await fc.assert(
          fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 12 }), async (ops) => {
            await s.shell.runLine('rm -rf /a /b /c');
            let ref: Tree = new Map([['/', { type: 'dir' }]]);
            for (const op of ops) {
              const copy = new Map(ref);
              const expected = model(copy, op);
              if (expected === null) continue;
              const status = await s.shell.runLine(command(op));
              expect(status === 0, `${command(op)} -> ${status}: ${s.out.text.split('\n').slice(-3).join(' | ')}`).toBe(expected);
              ref = copy;
            }
            const actual: Tree = new Map();
            await walk(fs, '/', await stat(fs, '/'), async (e) => {
              actual.set(e.path, e.attr.type === 'dir' ? { type: 'dir' } : { type: 'file', text: new TextDecoder().decode(await readFile(fs, e.path)) });
            });
            expect(Object.fromEntries([...actual].sort())).toEqual(Object.fromEntries([...ref].sort()));
          }),
          { numRuns },
        );
      } finally {
        await s.close();
      }
    });
  }
});
