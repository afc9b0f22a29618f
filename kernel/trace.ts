/**
 * The message trace and per-endpoint counters.
 *
 * Counters are always on (cheap integer adds); the full trace is off by default and,
 * when on, keeps at most TRACE_ENTRIES_MAX entries and can stream each one to a sink
 * (`strata boot --trace` prints them). A trace line is a pure function of the message,
 * the virtual time and the sequence number, so two runs with one seed give equal traces.
 */
import { TRACE_ENTRIES_MAX } from './limits.ts';

export type TraceKind = 'call' | 'reply' | 'error' | 'send' | 'irq' | 'refused' | 'timer' | 'device';

export interface TraceEntry {
  seq: number;
  timeMs: number;
  kind: TraceKind;
  from: string;
  to: string;
  op: string;
  id: number;
  bytes: number;
  note?: string;
}

export interface EndpointCounters {
  messages: number;
  bytes: number;
  errors: number;
  refused: number;
}

export function formatTraceEntry(e: TraceEntry): string {
  const t = e.timeMs.toFixed(3).padStart(10);
  const note = e.note ? ` ${e.note}` : '';
  return `${String(e.seq).padStart(7)} ${t}ms ${e.kind.padEnd(7)} ${e.from} -> ${e.to} ${e.op}#${e.id} ${e.bytes}B${note}`;
}

export class Trace {
  enabled = false;
  entries: TraceEntry[] = [];
  sink?: (entry: TraceEntry) => void;
  private seq = 0;
  readonly counters = new Map<string, EndpointCounters>();

  counter(endpoint: string): EndpointCounters {
    let c = this.counters.get(endpoint);
    if (!c) {
      c = { messages: 0, bytes: 0, errors: 0, refused: 0 };
      this.counters.set(endpoint, c);
    }
    return c;
  }

  record(timeMs: number, kind: TraceKind, from: string, to: string, op: string, id: number, bytes: number, note?: string): void {
    const seq = ++this.seq;
    if (!this.enabled) return;
    const entry: TraceEntry = { seq, timeMs, kind, from, to, op, id, bytes, note };
    if (this.entries.length >= TRACE_ENTRIES_MAX) this.entries.shift();
    this.entries.push(entry);
    this.sink?.(entry);
  }

  lines(): string[] {
    return this.entries.map(formatTraceEntry);
  }
}
