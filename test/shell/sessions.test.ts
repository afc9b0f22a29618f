// Scripted sessions compared with golden output: the file commands on the reference
// model, and the user mistakes (unknown command, missing file, bad arguments) each
// answered by one readable line, never a stack trace.
import { describe, expect, it } from 'vitest';
import { expectGolden, openSession, runSession } from './harness.ts';

const FILES = `
mkdir -p /docs/notes
cd /docs
pwd
write a.txt hello world
append a.txt "second line"
write -n notes/raw.txt "no newline"
write "notes/with space.txt" 'single quoted $HOME stays'
write notes/escapes.txt "tab:\\there"
cat a.txt notes/raw.txt "notes/with space.txt" notes/escapes.txt
ls
ls -a
ls -l /docs /docs/notes
stat a.txt
touch empty
truncate -s 10K sparse.bin
ls -l
cd ..
ln -s /docs/a.txt link
ln /docs/a.txt hard
ls -l /
cat /link
mv /docs/notes /moved
cp -r /moved /copy
cp /docs/a.txt /copy
clone /docs /docs-clone
tree /
du /
du -s --apparent /docs
rm -r /copy
rm /hard /link
mkfile 8K /rand.bin --seed 3
mkfile 4K /zero.bin --zero
du -s /
echo done
`;

const MISTAKES = `
try frobnicate
try lss
try ls /nope
try cat /nope
try ls --bogus
try ls -z
try cat
try write
try mkdir /a/b/c
mkdir /d
write /d/f content
try rm /
try rm /d
try mv /nope /x
try cp /d /e
try cp -r /d /d/inside
try truncate /d/f
try truncate -s lots /d/f
try log abc
try snap
try snap bogus
try exit abc
try cd /d/f
try write /d/f/x y
try mkdir /d
try ln /d /dl
try put /nonexistent/host/file /x
try trace maybe
try crash --torn --lose-unflushed
try help nosuch
try stat /d/f /nope
echo still running
`;

describe('scripted sessions', () => {
  it('file commands on the reference model', async () => {
    const { output, status } = await runSession(FILES, { name: 'files.strata' });
    expect(status, output).toBe(0);
    expectGolden('files.out', output);
  });

  it('every user mistake is one readable line with a status, and the script goes on under try', async () => {
    const { output, status } = await runSession(MISTAKES, { name: 'mistakes.strata' });
    expect(status, output).toBe(0);
    expect(output).not.toMatch(/\n\s+at /); // no stack trace
    expect(output).toContain('mistakes.strata:4: ls: /nope: No such file or directory (ENOENT)');
    expect(output).toContain("mistakes.strata:3: lss: unknown command (did you mean 'ls'?)");
    expect(output).toContain('still running');
    expectGolden('mistakes.out', output);
  });

  it('a script stops at its first failure, with that status and its line number', async () => {
    const r = await runSession('mkdir /a\n\n# a comment\nls /a; ls /missing\necho never', { name: 'stop.strata' });
    expect(r.status).toBe(1);
    expect(r.output).toBe('stop.strata:4: ls: /missing: No such file or directory (ENOENT)\n');
  });

  it('statuses: usage 2, unknown command 127, exit N, syntax error 2', async () => {
    expect((await runSession('ls --nope')).status).toBe(2);
    expect((await runSession('nosuchcommand')).status).toBe(127);
    const exit = await runSession('echo one\nexit 7\necho two');
    expect(exit).toEqual({ status: 7, output: 'one\n' });
    const syntax = await runSession('echo fine\nwrite /a "unterminated', { name: 's.strata' });
    expect(syntax).toEqual({ status: 2, output: 's.strata:2: syntax error: unterminated double quote\n' });
    const usage = await runSession('cp /only-one', { name: 'u.strata' });
    expect(usage.output).toBe('u.strata:1: cp: needs at least 2 operands\nu.strata:1: usage: cp [-r] SRC... DST\n');
  });

  it('commands whose layer is missing say so (status 3), and the rest still work', async () => {
    const s = await openSession({ axiom: false, models: { snapshots: false, content: false } });
    try {
      const lines: string[] = [];
      for (const cmd of ['snap list', 'snap create x', 'journal', 'cache', 'gc', 'log']) {
        const before = s.out.text.length;
        const status = await s.shell.runLine(cmd);
        lines.push(`${status} ${s.out.text.slice(before).trim()}`);
      }
      expect(lines).toEqual([
        '3 snap list: not available yet (needs snapshots in services/fs)',
        '3 snap create: not available yet (needs snapshots in services/fs)',
        '3 journal: not available yet (needs services/block)',
        '3 cache: not available yet (needs services/block)',
        '3 gc: not available yet (needs gc through services/fs and services/content)',
        '3 log: not available yet (needs axiom)',
      ]);
      expect(await s.shell.runLine('fsck')).toBe(0);
      expect(await s.shell.runLine('df')).toBe(0);
      expect(s.out.text).toContain('dedup: not available yet (needs services/content)');
    } finally {
      await s.close();
    }
  });

  it('a bug in a command is one "internal error" line (status 70) and the shell goes on', async () => {
    const s = await openSession();
    try {
      const fs = s.world.host.backends.fs!;
      const original = fs.statfs.bind(fs);
      (fs as { statfs: () => Promise<unknown> }).statfs = () => Promise.reject(new TypeError('cannot read properties of undefined'));
      expect(await s.shell.runLine('df')).toBe(70);
      (fs as { statfs: typeof original }).statfs = original;
      expect(await s.shell.runLine('df --json')).toBe(0);
      expect(s.out.text.split('\n')[0]).toBe('df: internal error (a bug, not your mistake): cannot read properties of undefined');
      expect(s.out.text).not.toContain('    at ');
    } finally {
      await s.close();
    }
  });

  it('--json output parses and carries exact numbers', async () => {
    const s = await openSession();
    const json = async (cmd: string) => {
      const before = s.out.text.length;
      expect(await s.shell.runLine(cmd)).toBe(0);
      return JSON.parse(s.out.text.slice(before));
    };
    try {
      await s.shell.runLine('mkdir /d; write /d/a 12345; snap create one; write /d/b x');
      expect((await json('ls --json /d')).map((e: { name: string; sizeBytes: number }) => [e.name, e.sizeBytes])).toEqual([['a', 6], ['b', 2]]);
      const st = await json('stat --json /d/a');
      expect(st).toMatchObject({ path: '/d/a', type: 'file', mode: '0644', nlink: 1, sizeBytes: 6 });
      expect(st.mtime).toMatch(/^\d{4}-\d\d-\d\dT/);
      const df = await json('df --json');
      expect(df.sizeBytes).toBe(df.usedBytes + df.freeBytes);
      expect(df.dedup.logicalBytes).toBe(8);
      expect((await json('snap list --json'))[0]).toMatchObject({ name: 'one', fileCount: 1 });
      expect(await json('snap diff --json one')).toEqual({ from: 'one', to: null, changes: [{ path: '/d/b', change: 'added', type: 'file', sizeBytesAfter: 2 }] });
      expect(await json('fsck --json')).toMatchObject({ clean: true, problems: [] });
    } finally {
      await s.close();
    }
  });
});

describe('fsck on the running system', () => {
  it('names a wrong nlink, a bad log record and a failed store, and returns 4', async () => {
    const s = await openSession();
    try {
      await s.shell.runLine('mkdir -p /d/e; write /d/f x; ln /d/f /d/g');
      expect(await s.shell.runLine('fsck')).toBe(0);
      const b = s.world.host.backends;
      const fs = b.fs!;
      const getattr = fs.getattr.bind(fs);
      const dIno = (await fs.resolve('/d')).ino;
      const fIno = (await fs.resolve('/d/f')).ino;
      (fs as { getattr: typeof getattr }).getattr = async (ino) => {
        const a = await getattr(ino);
        return ino === dIno ? { ...a, nlink: 5 } : ino === fIno ? { ...a, nlink: 1 } : a;
      };
      b.axiom = { ...b.axiom!, verify: async () => ({ ok: false as const, startSeq: 1, committedSeq: 9, recordsVerified: 4, badSeq: 5, reason: 'hash: chain broken' }) };
      b.content = { stats: async () => ({ chunkCount: 3, logicalBytes: 1, storedBytes: 1, failed: 'EIO on block 7', anomalies: 2 }) };
      s.out.text = '';
      expect(await s.shell.runLine('fsck')).toBe(4);
      expect(s.out.text.split('\n').slice(1)).toEqual([
        '  namespace: /d: nlink 5, expected 3',
        '  namespace: /d/f: nlink 1, but 2 names found',
        '  axiom: record 5: hash: chain broken',
        '  content: failed: EIO on block 7',
        '  content: 2 log records broke a refcount rule and were tolerated',
        'fsck: 5 problems',
        '',
      ]);
    } finally {
      await s.close();
    }
  });
});
