/**
 * One VMX transition as the exit trace records it (DESIGN decision 8):
 * what happened, on which core, at which instruction count, and the SDM's
 * numbers for it. Made only when someone listens (VmxState.onTransition),
 * so an untraced round trip allocates nothing.
 */
import { exitReasonName } from '../exitReason.ts';

export type TransitionKind = 'vmentry' | 'vmexit' | 'entry-failure';

export interface TransitionRecord {
  readonly kind: TransitionKind;
  readonly core: number;
  /** The core's retired-instruction count at the transition. */
  readonly icount: number;
  /** Exit reason field (bits 15:0 basic reason, bit 31 entry failure); 0 for vmentry. */
  readonly reason: number;
  /** SDM name of the basic reason ('' for vmentry). */
  readonly reasonName: string;
  /** Exit qualification as 16 hex digits ('' for vmentry). */
  readonly qualification: string;
  /** Guest RIP: where the guest stopped (vmexit) or starts (vmentry), as 16 hex digits. */
  readonly guestRip: string;
}

export type TransitionSink = (r: TransitionRecord) => void;

const hex64 = (lo: number, hi: number): string =>
  (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');

export function transitionRecord(
  kind: TransitionKind, core: number, icount: number, reason: number,
  qualLo: number, qualHi: number, ripLo: number, ripHi: number,
): TransitionRecord {
  return {
    kind, core, icount, reason: reason >>> 0,
    reasonName: kind === 'vmentry' ? '' : exitReasonName(reason & 0xffff),
    qualification: kind === 'vmentry' ? '' : hex64(qualLo, qualHi),
    guestRip: hex64(ripLo, ripHi),
  };
}

/**
 * A record with its core's guest time: `guestIcount` counts the guest
 * instructions that retired in VMX non-root operation on that core since
 * the first VM entry the clock saw. The instruction or event that causes a
 * VM exit is not among them: it does not complete (SDM Vol. 3C §26.1, §26.2).
 *
 * Why: `icount` is the whole core's count, root operation included, so it
 * depends on how the host is written: a native handler costs one tick
 * (vmx/unit/vmxCore.ts runNative), an x86 handler doing the same VMREADs and
 * VMRESUME costs dozens. Guest time depends only on the guest and on what
 * the host did to its state, so two hosts that treat a guest alike give the
 * same `guestIcount` at every transition, and traces from different hosts
 * compare exactly. It is computed beside the trace, from the records'
 * icounts, so the core keeps no extra counter and pays nothing for it.
 */
export interface TimedRecord extends TransitionRecord {
  readonly guestIcount: number;
}

/**
 * Computes `guestIcount` from the records of one or more cores, in order.
 * A VM entry (VMLAUNCH, VMRESUME, a native handler's vmEntry, or the test
 * harness's launch) is recorded during the entering instruction, which
 * retires after it (icount + 1), so
 * the guest runs from entry.icount + 1; a VM exit is recorded during the
 * instruction or event that exits, before anything retires. Guest time of
 * one stay in non-root operation is therefore exit.icount - entry.icount - 1.
 * A VM-entry failure adds nothing. The clock must see every record from the
 * core's first VM entry on.
 */
export class GuestClock {
  /** Per core: icount of the VM entry that began the current stay in non-root operation, or -1 in root operation. */
  private readonly enteredAt = new Map<number, number>();
  private readonly total = new Map<number, number>();

  stamp(r: TransitionRecord): TimedRecord {
    let total = this.total.get(r.core) ?? 0;
    if (r.kind === 'vmentry') {
      this.enteredAt.set(r.core, r.icount);
    } else if (r.kind === 'vmexit') {
      const at = this.enteredAt.get(r.core) ?? -1;
      if (at < 0) throw new Error(`GuestClock: VM exit at icount ${r.icount} on core ${r.core} without a recorded VM entry`);
      total += r.icount - at - 1;
      this.enteredAt.set(r.core, -1);
    }
    this.total.set(r.core, total);
    return { ...r, guestIcount: total };
  }
}

/** The records of a whole trace with their guest time. */
export function withGuestTime(trace: readonly TransitionRecord[]): TimedRecord[] {
  const clock = new GuestClock();
  return trace.map((r) => clock.stamp(r));
}

/** The key order of a trace line: fixed, so equal records give equal bytes (DESIGN decision 8). */
const LINE_KEYS: readonly (keyof TimedRecord)[] = [
  'kind', 'core', 'icount', 'guestIcount', 'reason', 'reasonName', 'qualification', 'guestRip',
];

/** One record as a line of the JSON Lines exit trace (no newline); `guestIcount` is written when the record has it. */
export function traceLine(r: TransitionRecord | TimedRecord): string {
  return JSON.stringify(r, LINE_KEYS as string[]);
}
