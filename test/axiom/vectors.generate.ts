// Generates test/axiom/vectors.json once: `npx tsx test/axiom/vectors.generate.ts`.
// The output was then checked by test/axiom/vectors-check.py, an independent Python
// rebuild of the frame layout, CRC32C and BLAKE3 from their specifications. Do not
// regenerate to make a failing test pass: a change here is a format change.
import { writeFileSync } from 'node:fs';
import { encode } from '../../kernel/codec.ts';
import { genesisHash, nobleBlake3 } from '../../axiom/chain.ts';
import { encodeFrame } from '../../axiom/frame.ts';
import { RECORD_TYPES, type RecordTypeName } from '../../axiom/records.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const logId = Uint8Array.from({ length: 16 }, (_, i) => i);
const genesis = genesisHash(logId, nobleBlake3);

const records: { seq: number; txid: number; epoch: number; type: RecordTypeName; payload: unknown }[] = [
  { seq: 1, txid: 1, epoch: 1, type: 'Mkdir', payload: { parentIno: 1, ino: 2, name: 'etc', mode: 0o755, timeMs: 1000 } },
  { seq: 2, txid: 1, epoch: 1, type: 'FileCreate', payload: { parentIno: 2, ino: 3, name: 'hosts', mode: 0o644, timeMs: 1001 } },
  { seq: 3, txid: 1, epoch: 1, type: 'Commit', payload: { recordCount: 2 } },
  { seq: 4, txid: 4, epoch: 2, type: 'ChunkRef', payload: { hash: Uint8Array.from({ length: 32 }, (_, i) => 255 - i), delta: -1 } },
  { seq: 5, txid: 4, epoch: 2, type: 'Commit', payload: { recordCount: 1 } },
  { seq: 6, txid: 6, epoch: 2, type: 'Checkpoint', payload: { image: { files: 3, root: 'r00t' } } },
  { seq: 7, txid: 6, epoch: 2, type: 'Commit', payload: { recordCount: 1 } },
];

let prev = genesis;
const out = records.map((r) => {
  const payload = encode(RECORD_TYPES[r.type].validate(r.payload));
  const { bytes, hash } = encodeFrame({ seq: r.seq, txid: r.txid, epoch: r.epoch, typeCode: RECORD_TYPES[r.type].code, payload }, prev, nobleBlake3);
  prev = hash;
  const json = JSON.parse(JSON.stringify(r.payload, (_k, v) => (v instanceof Uint8Array ? { $bytes: hex(v) } : v)));
  return { ...r, payload: json, typeCode: RECORD_TYPES[r.type].code, payloadHex: hex(payload), frameHex: hex(bytes), hashHex: hex(hash) };
});

writeFileSync(
  new URL('./vectors.json', import.meta.url),
  JSON.stringify({ about: 'Axiom format v1 known answers; see vectors.generate.ts and vectors-check.py', logIdHex: hex(logId), genesisHex: hex(genesis), records: out }, null, 2) + '\n',
);
