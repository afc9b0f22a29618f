// inspect: read-only listing with payload summaries and hash prefixes, and a clear word
// on where the log ends (clean, or a torn/damaged record named by seq).
import { describe, expect, it } from 'vitest';
import { formatInspect, inspectAxiom, summarize } from '../../axiom/inspect.ts';
import { AXIOM_BLOCK_SIZE_BYTES } from '../../axiom/limits.ts';
import { freshLog, taggedTxn } from './helpers.ts';

describe('inspect', () => {
  it('lists records, verifies, writes nothing, and names where a damaged log ends', async () => {
    const { device, log } = await freshLog(64);
    for (let i = 1; i <= 5; i++) await log.propose(taggedTxn(i, 2));
    await log.close();
    const before = device.bytes.slice();
    const report = await inspectAxiom(device, { limitRecords: 7 });
    expect(Buffer.from(device.bytes).equals(Buffer.from(before))).toBe(true);
    expect(report.records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(report.records[0]).toMatchObject({ txid: 1, type: 'FileCreate', hashPrefix: expect.stringMatching(/^[0-9a-f]{12}$/) });
    expect(report.truncated).toBe(true);
    expect(formatInspect(report)).toContain('no frame follows (clean)');
    expect(formatInspect(report)).toContain('chain verified: 15 records');

    // Damage record 10 (the Unlink of transaction 4): the log ends there, named.
    const at = Buffer.from(device.bytes).indexOf(Buffer.from('t4.1'), 2 * AXIOM_BLOCK_SIZE_BYTES);
    device.bytes[at] ^= 1;
    const damaged = await inspectAxiom(device);
    expect(damaged.committedSeq).toBe(9);
    expect(damaged.recovery.stop).toMatchObject({ seq: 11, reason: 'checksum' });
    expect(formatInspect(damaged)).toContain('end of log at record 11: checksum');
  });

  it('summarizes payloads within bounds, bytes as hex', () => {
    expect(summarize({ hash: new Uint8Array(32).fill(0xab) })).toBe('{"hash":"0xabababababababab…"}');
    expect(summarize({ name: 'x'.repeat(500) }).length).toBe(96);
  });
});
