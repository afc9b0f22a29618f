// Record types: one table, stable codes, validators that name the bad field, and the
// refusals a proposal can meet (unknown type, internal type, malformed msgpack, TOOBIG).
import { describe, expect, it } from 'vitest';
import { encode } from '../../kernel/codec.ts';
import { ServiceError } from '../../kernel/errors.ts';
import { RECORD_TYPES, prepareRecord, recordTypeByCode, recordTypeByName, decodeRecordPayload, rec } from '../../axiom/records.ts';
import { RECORD_PAYLOAD_SIZE_BYTES_MAX } from '../../axiom/limits.ts';

function refusal(input: unknown): { code: string; message: string } {
  try {
    prepareRecord(input);
  } catch (e) {
    expect(e).toBeInstanceOf(ServiceError);
    return { code: (e as ServiceError).code, message: (e as ServiceError).message };
  }
  throw new Error('expected a refusal');
}

describe('record types', () => {
  it('declares each type once with a unique stable code', () => {
    const rows = Object.values(RECORD_TYPES);
    expect(new Set(rows.map((r) => r.code)).size).toBe(rows.length);
    for (const r of rows) {
      expect(recordTypeByCode(r.code)).toBe(r);
      expect(recordTypeByName(r.name)).toBe(r);
    }
    expect(RECORD_TYPES.Commit.code).toBe(1);
    expect(RECORD_TYPES.Checkpoint.code).toBe(2);
    expect(RECORD_TYPES.FileCreate.code).toBe(16);
  });

  it('prepares a valid record into its canonical payload bytes, either from a value or from bytes', () => {
    const payload = { parentIno: 1, ino: 2, name: 'a', mode: 0o644, timeMs: 5 };
    const a = prepareRecord(rec('FileCreate', payload));
    const b = prepareRecord({ type: 'FileCreate', payloadBytes: encode({ timeMs: 5, mode: 0o644, name: 'a', ino: 2, parentIno: 1 }) });
    expect(a.code).toBe(16);
    expect(Buffer.from(b.payloadBytes).equals(Buffer.from(a.payloadBytes))).toBe(true);
    expect(decodeRecordPayload(a.code, a.payloadBytes, 1).payload).toEqual(payload);
  });

  it('refuses unknown and internal types, malformed msgpack and bad fields with clear errors', () => {
    expect(refusal({ type: 'Explode', payload: {} })).toMatchObject({ code: 'BADRECORD', message: expect.stringContaining("unknown record type 'Explode'") });
    expect(refusal({ type: 'Commit', payload: { recordCount: 1 } })).toMatchObject({ code: 'BADRECORD', message: expect.stringContaining('written by Axiom only') });
    expect(refusal({ type: 'Checkpoint', payload: { image: 1 } }).code).toBe('BADRECORD');
    expect(refusal({ type: 'Unlink', payloadBytes: new Uint8Array([0x93, 0x01]) })).toMatchObject({ code: 'BADRECORD', message: expect.stringContaining('malformed msgpack') });
    expect(refusal({ type: 'Unlink', payloadBytes: new Uint8Array([0xc1]) }).code).toBe('BADRECORD');
    expect(refusal({ type: 'Unlink', payload: { parentIno: 1, name: 'a/b', timeMs: 0 } }).message).toContain('Unlink.name');
    expect(refusal({ type: 'Unlink', payload: { parentIno: -1, name: 'a', timeMs: 0 } }).message).toContain('Unlink.parentIno');
    expect(refusal({ type: 'Unlink', payload: { parentIno: 1, name: 'a', timeMs: 0, extra: 1 } }).message).toContain("unknown field 'extra'");
    expect(refusal({ type: 'ChunkRef', payload: { hash: new Uint8Array(31), delta: 1 } }).message).toContain('ChunkRef.hash');
    expect(refusal({ type: 'ChunkRef', payload: { hash: new Uint8Array(32), delta: 0 } }).message).toContain('ChunkRef.delta');
    expect(refusal({ type: 'Unlink', payload: { parentIno: 1, name: 'a', timeMs: 0 }, payloadBytes: new Uint8Array(1) }).code).toBe('BADRECORD');
    expect(refusal(null).code).toBe('BADRECORD');
    expect(refusal({ type: 'Write', payload: { ino: 1, offsetBytes: 0, lengthBytes: 1, chunks: [{ hash: new Uint8Array(32), offsetBytes: 0 }] } }).message).toContain('Write.chunks[0].lengthBytes');
  });

  it('refuses oversized payloads with TOOBIG', () => {
    expect(refusal({ type: 'Unlink', payloadBytes: new Uint8Array(RECORD_PAYLOAD_SIZE_BYTES_MAX + 1) }).code).toBe('TOOBIG');
    const chunks = Array.from({ length: 4096 }, () => ({ hash: new Uint8Array(32).fill(7), offsetBytes: 2 ** 40, lengthBytes: 2 ** 40 }));
    // WRITE_CHUNKS_MAX chunks fit one payload; one more is refused by the field check.
    expect(() => prepareRecord(rec('Write', { ino: 1, offsetBytes: 0, lengthBytes: 1, chunks }))).not.toThrow();
    expect(refusal(rec('Write', { ino: 1, offsetBytes: 0, lengthBytes: 1, chunks: [...chunks, chunks[0]] })).message).toContain('Write.chunks');
  });

  it('treats a stored payload that fails its validator as corruption', () => {
    expect(() => decodeRecordPayload(16, encode({ ino: 1 }), 9)).toThrow(/record 9/);
    expect(() => decodeRecordPayload(999, encode({}), 9)).toThrow(/unknown type code 999/);
  });
});
