/**
 * The message codec: every payload crosses a service boundary as msgpackr bytes.
 *
 * Encoding at the boundary is what guarantees that no two services share a mutable
 * object. The packer is stateless (no shared record structures), so the same value
 * always encodes to the same bytes and a trace replays byte for byte. Binary fields
 * (Uint8Array) travel as msgpack bin; bulk data should use memory grants instead.
 */
import { Packr } from 'msgpackr';

const packr = new Packr({ useRecords: false, moreTypes: false, variableMapSize: true });

export function encode(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Decodes one message body; throws on malformed bytes (the kernel turns that into BADMSG). */
export function decode(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}
