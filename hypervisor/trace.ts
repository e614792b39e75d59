/**
 * L1's exit trace (DESIGN decision 8): one record per exit L1 handled, as
 * JSON Lines with a fixed key order, so that two runs of the same scenario
 * give byte-identical files.
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
  /** The handler that took the exit, and what it decided. */
  readonly handler: string;
  readonly decision: 'resume' | 'skip' | 'stop';
}

const hex64 = (v: bigint): string => BigInt.asUintN(64, v).toString(16).padStart(16, '0');

export function traceEvent(
  icount: number, core: number, vcpu: string, reason: number, qualification: bigint, guestRip: bigint,
  handler: string, decision: L1TraceEvent['decision'],
): L1TraceEvent {
  return {
    icount, core, vcpu, from: 'L2', to: 'L1', reason: reason >>> 0, reasonName: exitReasonName(reason & 0xffff),
    qualification: hex64(qualification), guestRip: hex64(guestRip), handler, decision,
  };
}

/** One JSON line, keys in the interface's order. */
export function traceLine(e: L1TraceEvent): string {
  return JSON.stringify({
    icount: e.icount, core: e.core, vcpu: e.vcpu, from: e.from, to: e.to, reason: e.reason, reasonName: e.reasonName,
    qualification: e.qualification, guestRip: e.guestRip, handler: e.handler, decision: e.decision,
  });
}
