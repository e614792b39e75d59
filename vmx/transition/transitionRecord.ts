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
