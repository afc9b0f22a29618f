/**
 * `log [N]`: the tail of Axiom, the metadata log: one line per record with its seq, its
 * transaction id, its type, the start of its chain hash and a short form of its payload.
 * Reads only committed records (what recovery would replay), through axiom/protocol.ts.
 */
import type { CommandSpec } from '../command.ts';
import { parseCount } from '../command.ts';
import { need } from '../backends.ts';
import { explain } from '../errors.ts';
import { count, formatTable, hex } from '../format.ts';
import { LOG_TAIL_DEFAULT, LOG_TAIL_MAX } from '../limits.ts';
import type { LogRecord } from '../../../axiom/protocol.ts';

const HASH_SHOWN_CHARS = 12;
const PAYLOAD_SHOWN_CHARS = 72;

/** name=a.txt ino=5 hash=3f2a9c1b7e0d ... (bytes as hex, nested values as JSON). */
export function payloadSummary(payload: unknown): string {
  if (payload === null || typeof payload !== 'object') return String(payload);
  const parts = Object.entries(payload as Record<string, unknown>).map(([k, v]) => {
    if (v instanceof Uint8Array) return `${k}=${hex(v, HASH_SHOWN_CHARS)}`;
    if (Array.isArray(v)) return `${k}=[${v.length}]`;
    if (v !== null && typeof v === 'object') return `${k}={..}`;
    if (k === 'mode' && typeof v === 'number') return `${k}=0${v.toString(8)}`;
    return `${k}=${typeof v === 'string' ? JSON.stringify(v) : String(v)}`;
  });
  const text = parts.join(' ');
  return text.length > PAYLOAD_SHOWN_CHARS ? text.slice(0, PAYLOAD_SHOWN_CHARS - 3) + '...' : text;
}

export const logCommand: CommandSpec = {
  name: 'log',
  group: 'system',
  usage: '[N]',
  summary: `the last N records of Axiom, the metadata log (default ${LOG_TAIL_DEFAULT}): seq, txid, type, hash`,
  operands: [0, 1],
  complete: ['none'],
  async run(ctx, p) {
    const n = p.args[0] === undefined ? LOG_TAIL_DEFAULT : parseCount(p.args[0], 'N', LOG_TAIL_MAX);
    const axiom = need(ctx.backends, 'axiom');
    try {
      const info = await axiom.info();
      if (info.committedSeq === 0 || n === 0) {
        ctx.print(`axiom: ${info.committedSeq === 0 ? 'the log is empty' : 'nothing asked for'} (committed seq ${count(info.committedSeq)})`);
        return;
      }
      const records: LogRecord[] = [];
      let next = Math.max(info.startSeq, info.committedSeq - n + 1, 1);
      while (next <= info.committedSeq && records.length < n) {
        const reply = await axiom.read(next, Math.min(n - records.length, 1024));
        if (reply.records.length === 0) break;
        records.push(...reply.records);
        next = reply.records[reply.records.length - 1].seq + 1;
      }
      const rows = [['SEQ', 'TXID', 'TYPE', 'HASH', 'PAYLOAD']];
      for (const r of records) rows.push([String(r.seq), String(r.txid), r.type, hex(r.hash, HASH_SHOWN_CHARS), r.type === 'Checkpoint' ? '(checkpoint image)' : payloadSummary(r.payload)]);
      for (const line of formatTable(rows, ['right', 'right', 'left', 'left', 'left'])) ctx.print(line);
      ctx.print(`axiom: records ${count(info.startSeq)}..${count(info.committedSeq)} in the log, checkpoint at ${count(info.checkpointSeq)}`);
    } catch (e) {
      throw explain(e, 'axiom');
    }
  },
};
