// FsState + namespace ops against the reference model: same replies (errno for errno),
// same tree, invariants after every step, and replaying the records gives the same state.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ServiceError } from '../../kernel/errors.ts';
import { FsState } from '../../services/fs/state.ts';
import * as ops from '../../services/fs/namespace-ops.ts';
import type { FsRecord, Time } from '../../services/fs/records.ts';
import { ROOT_INO } from '../../services/fs/protocol.ts';
import { FsModel, fingerprint } from '../../tools/model/fs-model.ts';

const NAMES = ['a', 'b', 'c', 'd'];

type Op =
  | { kind: 'mkdir' | 'create' | 'unlink' | 'rmdir'; dir: number; name: string }
  | { kind: 'symlink'; dir: number; name: string; target: string }
  | { kind: 'link'; src: number; dir: number; name: string }
  | { kind: 'rename'; dir: number; name: string; dir2: number; name2: string }
  | { kind: 'chmod'; src: number; mode: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constantFrom('mkdir' as const, 'create' as const, 'unlink' as const, 'rmdir' as const), dir: fc.nat(20), name: fc.constantFrom(...NAMES) }),
  fc.record({ kind: fc.constant('symlink' as const), dir: fc.nat(20), name: fc.constantFrom(...NAMES), target: fc.constantFrom('a', '/b/c', '..') }),
  fc.record({ kind: fc.constant('link' as const), src: fc.nat(20), dir: fc.nat(20), name: fc.constantFrom(...NAMES) }),
  fc.record({ kind: fc.constant('rename' as const), dir: fc.nat(20), name: fc.constantFrom(...NAMES), dir2: fc.nat(20), name2: fc.constantFrom(...NAMES) }),
  fc.record({ kind: fc.constant('chmod' as const), src: fc.nat(20), mode: fc.constantFrom(0o600, 0o755) }),
);

function dumpState(s: FsState): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (ino: number, path: string) => {
    const n = s.inode(ino);
    const a = s.attr(ino);
    const detail = n.type === 'file' ? fingerprint(new Uint8Array(0)) : n.type === 'symlink' ? `-> ${n.target}` : '';
    out[path || '/'] = `${n.type} ${a.mode.toString(8)} ${a.sizeBytes} nlink=${a.nlink} ${detail}`.trim();
    if (n.dir) for (const [name, e] of [...n.dir.entries].sort()) visit(e.ino, `${path}/${name}`);
  };
  visit(ROOT_INO, '');
  return out;
}

function outcome(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof ServiceError) return e.code;
    throw e;
  }
}

describe('FsState and namespace ops', () => {
  it('agree with the model on every reply and tree, keep their invariants, and replay exactly', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (script) => {
        const t: Time = [1000, 0];
        const state = new FsState(t);
        const model = new FsModel(() => ({ sec: 1000, nsec: 0 }));
        const log: FsRecord[] = [];
        const c: ops.OpContext = { now: () => t, allocIno: () => state.nextIno };
        const run = (records: FsRecord[]) => {
          for (const r of records) {
            state.apply(r);
            log.push(r);
          }
        };
        for (const op of script) {
          // Pick inodes by index among the model's live ones, so both sides see the same numbers.
          const live = [...model.nodes.keys()].sort((x, y) => x - y);
          const pick = (i: number) => live[i % live.length];
          let mine: string;
          let theirs: string;
          switch (op.kind) {
            case 'mkdir':
              mine = outcome(() => run(ops.mkdirOp(state, c, pick(op.dir), op.name, 0o755)));
              theirs = outcome(() => model.apply({ op: 'mkdir', parent: pick(op.dir), name: op.name, mode: 0o755 }));
              break;
            case 'create':
              mine = outcome(() => run(ops.createOp(state, c, pick(op.dir), op.name, 0o644)));
              theirs = outcome(() => {
                const r = model.apply({ op: 'create', parent: pick(op.dir), name: op.name, mode: 0o644, flags: {} }) as { handle: number };
                model.apply({ op: 'close', handle: r.handle });
              });
              break;
            case 'symlink':
              mine = outcome(() => run(ops.symlinkOp(state, c, pick(op.dir), op.name, op.target)));
              theirs = outcome(() => model.apply({ op: 'symlink', parent: pick(op.dir), name: op.name, target: op.target }));
              break;
            case 'link':
              mine = outcome(() => run(ops.linkOp(state, c, pick(op.src), pick(op.dir), op.name)));
              theirs = outcome(() => model.apply({ op: 'link', ino: pick(op.src), parent: pick(op.dir), name: op.name }));
              break;
            case 'unlink':
              mine = outcome(() => {
                const ino = state.get(pick(op.dir))?.dir?.entries.get(op.name)?.ino;
                run(ops.unlinkOp(state, c, pick(op.dir), op.name));
                // Nothing holds it open here: a name-less inode is freed at once.
                if (ino !== undefined && state.inode(ino).nlink === 0) run([{ type: 'FsFree', payload: { ino } }]);
              });
              theirs = outcome(() => model.apply({ op: 'unlink', parent: pick(op.dir), name: op.name }));
              break;
            case 'rmdir':
              mine = outcome(() => run(ops.rmdirOp(state, c, pick(op.dir), op.name)));
              theirs = outcome(() => model.apply({ op: 'rmdir', parent: pick(op.dir), name: op.name }));
              break;
            case 'rename':
              mine = outcome(() => {
                const replaced = state.get(pick(op.dir2))?.dir?.entries.get(op.name2)?.ino;
                run(ops.renameOp(state, c, pick(op.dir), op.name, pick(op.dir2), op.name2));
                const r = replaced === undefined ? undefined : state.get(replaced);
                if (r && !r.dir && r.nlink === 0) run([{ type: 'FsFree', payload: { ino: r.ino } }]);
              });
              theirs = outcome(() => model.apply({ op: 'rename', parent: pick(op.dir), name: op.name, newParent: pick(op.dir2), newName: op.name2 }));
              break;
            case 'chmod':
              mine = outcome(() => run(ops.setAttrOp(state, c, pick(op.src), { mode: op.mode })));
              theirs = outcome(() => model.apply({ op: 'setattr', ino: pick(op.src), set: { mode: op.mode } }));
              break;
          }
          expect(mine, JSON.stringify(op)).toBe(theirs);
          state.check();
          expect(dumpState(state)).toEqual(model.dump());
        }
        const replayed = new FsState(t);
        for (const r of log) replayed.apply(r);
        replayed.check();
        expect(dumpState(replayed)).toEqual(dumpState(state));
        expect([...replayed.inodes.keys()].sort()).toEqual([...state.inodes.keys()].sort());
      }),
      { numRuns: 400 },
    );
  });

  it('refuses a record that does not fit the state, before changing anything', () => {
    const s = new FsState();
    s.apply({ type: 'FsMkdir', payload: { parent: ROOT_INO, name: 'd', ino: 2, mode: 0o755, uid: 0, gid: 0, t: [1, 0] } });
    const before = JSON.stringify(dumpState(s));
    expect(() => s.apply({ type: 'FsMkdir', payload: { parent: ROOT_INO, name: 'd', ino: 3, mode: 0o755, uid: 0, gid: 0, t: [1, 0] } })).toThrow(/exists/);
    expect(() => s.apply({ type: 'FsUnlink', payload: { parent: ROOT_INO, name: 'd', t: [1, 0] } })).toThrow(/directory/);
    expect(() => s.apply({ type: 'FsWrite', payload: { ino: 2, pages: [], sizeBytes: 0, t: [1, 0] } })).toThrow(/not a file/);
    expect(() => s.apply({ type: 'FsFree', payload: { ino: 99 } })).toThrow(/no inode/);
    expect(JSON.stringify(dumpState(s))).toBe(before);
  });
});
