/**
 * `strata inspect IMAGE [superblock|bitmap|journal|axiom|chunk HASH|path PATH] [--json]`:
 * an image's on-disk structures in readable form, in the manner of debugfs or zdb.
 * Read-only: the image is opened O_RDONLY and nothing is replayed onto it or repaired.
 * Every structure is verified as it is read, and a damaged one is reported by name
 * (field, block), not trusted. `chunk` and `path` read the content index and the
 * filesystem as fsck rebuilds them (tools/fsck/describe.ts).
 */
import { FileBackend } from '../../kernel/machine/disk/file.ts';
import {
  checksumSeed,
  countFree,
  formatUuid,
  readBitmap,
  readImage,
  scanJournal,
  FormatError,
  type BlockReader,
} from '../../services/block/format/index.ts';
import { DiskLogDevice } from '../../axiom/disk-device.ts';
import { formatInspect, inspectAxiom } from '../../axiom/inspect.ts';
import { axiomHasher } from '../../services/content/hash.ts';
import { formatBytes } from '../../drivers/virtio-blk/driver.ts';
import type { DiskBackend } from '../../kernel/machine/disk/backend.ts';
import { examineImage, FsckOperationalError } from '../fsck/index.ts';
import { describeChunk, describePath, DescribeError } from '../fsck/describe.ts';
import { helpText, parseArgs, UsageError, type OptionSpec } from './args.ts';

const BLOCK_SIZE_BYTES = 4096;
const WHATS = ['superblock', 'bitmap', 'journal', 'axiom', 'chunk', 'path'] as const;
type What = (typeof WHATS)[number];
/** Structures named with an argument: `chunk HASH`, `path PATH`. */
const WITH_ARG: readonly What[] = ['chunk', 'path'];

const spec: Record<string, OptionSpec> = {
  json: { help: 'print the structure as JSON' },
  from: { value: true, help: 'axiom: first record sequence number to list' },
  limit: { value: true, help: 'axiom: how many records to list (default 50)' },
  help: { help: 'show this help' },
};

export const inspectHelp = helpText(
  'strata inspect <image> [superblock|bitmap|journal|axiom|chunk HASH|path PATH] [--json] [--from SEQ] [--limit N]',
  [
    "Print an image's on-disk structures (read-only): the superblock and region table, the",
    'allocation bitmap, the block journal, or the Axiom log with its chain verified;',
    'chunk HASH (a unique prefix will do): where the chunk lives, its length, refcount,',
    'whether its bytes hash to its name, the files naming it, a hex/ascii preview;',
    "path PATH: the inode's attributes and its pages (chunk hashes, block addresses, each",
    'verified), entries or target.',
  ].join('\n'),
  spec,
);

export async function inspectCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, spec);
  if (args.options.help) return console.log(inspectHelp), 0;
  const [imagePath, whatArg = 'superblock', ...rest] = args.positionals;
  if (!(WHATS as readonly string[]).includes(whatArg)) throw new UsageError(`unknown structure '${whatArg}' (one of: ${WHATS.join(', ')})`);
  const needsArg = WITH_ARG.includes(whatArg as What);
  if (!imagePath || rest.length !== (needsArg ? 1 : 0)) throw new UsageError(needsArg ? `inspect ${whatArg} takes one ${whatArg === 'chunk' ? 'HASH' : 'PATH'}` : 'inspect takes an image path and one structure name');
  const json = args.options.json === true;
  const backend = FileBackend.open(imagePath, { readOnly: true });
  try {
    const out = await inspect(backend, whatArg as What, { fromSeq: numberOpt(args.options.from), limit: numberOpt(args.options.limit) ?? 50, arg: rest[0] });
    console.log(json ? JSON.stringify(out.data, jsonBytes, 2) : out.text);
    return out.ok ? 0 : 4;
  } catch (e) {
    if (e instanceof FormatError || e instanceof DescribeError || e instanceof FsckOperationalError) {
      console.error(`strata inspect: ${imagePath}: ${e.message}`);
      return 4;
    }
    throw e;
  } finally {
    backend.close();
  }
}

function numberOpt(v: string | boolean | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`'${String(v)}' is not a non-negative integer`);
  return n;
}

function jsonBytes(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? Buffer.from(value).toString('hex') : value;
}

export async function inspect(backend: DiskBackend, what: What, opts: { fromSeq?: number; limit: number; arg?: string }): Promise<{ ok: boolean; text: string; data: unknown }> {
  if (what === 'chunk' || what === 'path') {
    if (!opts.arg) throw new UsageError(`inspect ${what} needs an argument`);
    const x = await examineImage(backend);
    return what === 'chunk' ? describeChunk(x, opts.arg) : describePath(x, opts.arg);
  }
  const deviceBlockCount = Math.floor(backend.sizeBytes / BLOCK_SIZE_BYTES);
  const read: BlockReader = async (blockIndex, blockCount) => {
    const buf = new Uint8Array(blockCount * BLOCK_SIZE_BYTES);
    backend.read(blockIndex * BLOCK_SIZE_BYTES, buf);
    return buf;
  };
  const image = await readImage(read, deviceBlockCount);
  const sb = image.superblock;
  const layout = sb.layout;
  const seed = checksumSeed(sb.uuid);
  switch (what) {
    case 'superblock': {
      const lines = [
        `superblock (${image.source} copy)  uuid ${formatUuid(sb.uuid)}  format version ${sb.formatVersion}`,
        `size ${formatBytes(sb.blockCount * BLOCK_SIZE_BYTES)} = ${sb.blockCount} blocks of ${BLOCK_SIZE_BYTES} bytes; free blocks ${sb.freeBlockCount}; incompat features 0x${sb.incompatFeatures.toString(16)}`,
        `spare copy: ${image.spareStale ? 'STALE or damaged (fsck --repair rewrites it)' : 'matches'}`,
        ...image.problems.map((p) => `problem: ${p}`),
        '',
        'region      first block   blocks       size',
        ...(['superblock', 'journal', 'bitmap', 'axiom', 'data', 'spare'] as const).map((k) => {
          const r = layout[k];
          return `${k.padEnd(10)}  ${String(r.blockIndex).padStart(11)}  ${String(r.blockCount).padStart(7)}  ${formatBytes(r.blockCount * BLOCK_SIZE_BYTES).padStart(9)}`;
        }),
      ];
      return { ok: image.problems.length === 0, text: lines.join('\n'), data: { ...image, superblock: { ...sb, uuid: formatUuid(sb.uuid) } } };
    }
    case 'bitmap': {
      const bits = await readBitmap(read, layout, seed);
      const free = countFree(bits, layout);
      const runs: [number, number][] = [];
      const end = layout.data.blockIndex + layout.data.blockCount;
      for (let i = layout.data.blockIndex; i < end; i++) {
        if (!(bits[i >> 3] & (1 << (i & 7)))) continue;
        const last = runs[runs.length - 1];
        if (last && last[0] + last[1] === i) last[1]++;
        else runs.push([i, 1]);
      }
      const used = layout.data.blockCount - free;
      const ok = free === sb.freeBlockCount;
      const lines = [
        `bitmap: ${layout.bitmap.blockCount} block(s), every block checksum verified`,
        `data region: ${layout.data.blockCount} blocks, ${used} allocated in ${runs.length} extent(s), ${free} free`,
        `superblock free count: ${sb.freeBlockCount}${ok ? ' (agrees)' : ` (DISAGREES with the bitmap's ${free}; the journal may hold the newer count)`}`,
        ...runs.slice(0, opts.limit).map(([b, n]) => `  allocated ${b}..${b + n - 1} (${n} block${n > 1 ? 's' : ''})`),
        ...(runs.length > opts.limit ? [`  ... ${runs.length - opts.limit} more extent(s)`] : []),
      ];
      return { ok: true, text: lines.join('\n'), data: { freeBlocks: free, allocatedExtents: runs.map(([blockIndex, blockCount]) => ({ blockIndex, blockCount })) } };
    }
    case 'journal': {
      const homeAllowed = (b: number) => b < sb.blockCount && (b < layout.journal.blockIndex || b >= layout.journal.blockIndex + layout.journal.blockCount);
      const scan = await scanJournal(read, layout, seed, homeAllowed);
      const h = scan.header;
      const lines = [
        `journal: ${layout.journal.blockCount} blocks at ${layout.journal.blockIndex}; header slot ${scan.headerSlot}, generation ${h.generation}, epoch ${h.epoch}`,
        `tail: sequence ${h.tailSequence} at log block ${h.tailPosition}; head: sequence ${scan.nextSequence} at log block ${scan.headPosition}; ${scan.usedBlocks} block(s) in use`,
        `scan stopped: ${scan.stop.reason} (${scan.stop.detail})`,
        `${scan.transactions.length} committed transaction(s) not yet checkpointed (a mount would replay them):`,
        ...scan.transactions.slice(0, opts.limit).map((t) => `  seq ${t.sequence}  at ${t.position}  ${t.lengthBlocks} log block(s)  homes ${t.writes.map((w) => w.blockIndex).slice(0, 8).join(',')}${t.writes.length > 8 ? ',...' : ''}`),
      ];
      return { ok: scan.stop.reason !== 'damaged', text: lines.join('\n'), data: { ...scan, transactions: scan.transactions.map((t) => ({ ...t, writes: t.writes.map((w) => w.blockIndex) })) } };
    }
    case 'axiom': {
      const device = new DiskLogDevice(backend, layout.axiom.blockIndex, layout.axiom.blockCount);
      const report = await inspectAxiom(device, { fromSeq: opts.fromSeq, limitRecords: opts.limit, hasher: axiomHasher });
      return { ok: report.verify.ok, text: formatInspect(report), data: report };
    }
  }
}
