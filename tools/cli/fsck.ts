/**
 * `strata fsck IMAGE [--repair] [--json]`: the offline checker (tools/fsck) on an image
 * file, with nothing else using it. Without --repair the image is opened read-only and
 * nothing is written. Exit codes as e2fsck's: 0 clean, 1 errors corrected, 4 errors left
 * uncorrected, 8 operational error (no such image, not a Strata image, an I/O error),
 * which prints one line and no stack trace.
 */
import fs from 'node:fs';
import { FileBackend } from '../../kernel/machine/disk/file.ts';
import { EXIT_OPERATIONAL, FsckOperationalError, formatReport, fsckImage } from '../fsck/index.ts';
import { helpText, parseArgs, UsageError, type OptionSpec } from './args.ts';

const spec: Record<string, OptionSpec> = {
  repair: { help: 'repair what is safe to repair (spare or primary superblock, bitmap, leaked blocks, refcounts; dangling chunks dropped), then check again' },
  json: { help: 'print the report as JSON' },
  seed: { value: true, help: 'scheduler seed of the stack a repair boots (default 1)' },
  help: { help: 'show this help' },
};

export const fsckHelp = helpText(
  'strata fsck <image> [--repair] [--json]',
  [
    'Check an image offline: both superblocks, the journal, the bitmap against every reference,',
    "the Axiom log's hash chain, the content index (every chunk re-hashed, refcounts against the",
    "files that name them), the namespace (no cycles, nlink right, everything reachable) and every",
    "snapshot's tree. Each problem is named with the structure, block, chunk or files it affects.",
    '',
    'Exit status (as e2fsck): 0 clean, 1 errors corrected, 4 errors left uncorrected,',
    '8 operational error (no image, not a Strata image, an I/O failure).',
  ].join('\n'),
  spec,
);

export async function fsckCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, spec);
  if (args.options.help) return console.log(fsckHelp), 0;
  const [imagePath, ...rest] = args.positionals;
  if (!imagePath || rest.length) throw new UsageError('fsck takes one image path');
  const repair = args.options.repair === true;
  const json = args.options.json === true;
  const seed = args.options.seed === undefined ? 1 : Number(args.options.seed);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new UsageError(`--seed '${String(args.options.seed)}' is not a non-negative integer`);
  const fail = (message: string) => {
    if (json) console.log(JSON.stringify({ exitCode: EXIT_OPERATIONAL, error: message }));
    else console.error(`strata fsck: ${imagePath}: ${message}`);
    return EXIT_OPERATIONAL;
  };
  if (!fs.existsSync(imagePath)) return fail('no such image');
  const stat = fs.statSync(imagePath);
  if (!stat.isFile()) return fail('not a regular file');
  if (stat.size < 4096 || stat.size % 4096 !== 0) return fail(`not a Strata image (${stat.size} bytes is not a whole number of 4096-byte blocks)`);
  let backend: FileBackend;
  try {
    backend = FileBackend.open(imagePath, { readOnly: !repair });
  } catch (e) {
    return fail((e as Error).message);
  }
  try {
    const report = await fsckImage(backend, { repair, boot: { seed } });
    console.log(json ? JSON.stringify(report, null, 2) : formatReport(report));
    return report.exitCode;
  } catch (e) {
    if (e instanceof FsckOperationalError) return fail(e.message);
    throw e;
  } finally {
    backend.close();
  }
}
