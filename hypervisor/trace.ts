/**
 * L1's exit trace (DESIGN decision 8): one record per exit L1 handled, as
 * JSON Lines with a fixed key order, so that two runs of the same scenario
 * give byte-identical files. docs/trace-format.md describes every field.
 */
import { exitReasonName } from '../vmx/exitReason.ts';

export interface L1TraceEvent {
  /** The core's retired-instruction count at the exit. */
  readonly icount: number;
  readonly core: number;
  /** "vm/index". */
  readonly vcpu: string;
  readonly from: 'L2';
  readonly to: 'L1';
  readonly reason: number;
  readonly reasonName: string;
  /** 16 hex digits. */
  readonly qualification: string;
  readonly guestRip: string;
  /** The instruction at guestRip in Intel syntax (disassemble.ts). */
  readonly insn: string;
  /** The handler that took the exit, and what it decided. */
  readonly handler: string;
  readonly decision: 'resume' | 'skip' | 'stop';
}

/** The keys of a trace line, in their order (DESIGN decision 4: defined once, for writing and for reading back). */
export const TRACE_KEYS = [
  'icount', 'core', 'vcpu', 'from', 'to', 'reason', 'reasonName', 'qualification', 'guestRip', 'insn', 'handler', 'decision',
] as const satisfies readonly (keyof L1TraceEvent)[];

const ZEROS = '00000000';
/** 8 hex digits; 0, the high half of most values, without formatting. */
const hex32 = (v: number): string => (v === 0 ? ZEROS : (v >>> 0).toString(16).padStart(8, '0'));
/** 16 hex digits of the 64-bit value hi:lo (halves, as VMREAD leaves them: no BigInt on the exit path). */
const hex64 = (lo: number, hi: number): string => hex32(hi) + hex32(lo);

export function traceEvent(
  icount: number, core: number, vcpu: string, reason: number, qualLo: number, qualHi: number, ripLo: number, ripHi: number,
  handler: string, decision: L1TraceEvent['decision'], insn: string,
): L1TraceEvent {
  return {
    icount, core, vcpu, from: 'L2', to: 'L1', reason: reason >>> 0, reasonName: exitReasonName(reason & 0xffff),
    qualification: hex64(qualLo, qualHi), guestRip: hex64(ripLo, ripHi), insn, handler, decision,
  };
}

/** One JSON line (no newline), keys in TRACE_KEYS order. */
export function traceLine(e: L1TraceEvent): string {
  return JSON.stringify(e, TRACE_KEYS as unknown as string[]);
}

/** A whole trace as the file holds it: one line per event, each ending in a newline. */
export function traceText(events: readonly L1TraceEvent[]): string {
  return events.map((e) => `${traceLine(e)}\n`).join('');
}
