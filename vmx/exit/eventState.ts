/**
 * What a core's VMX unit remembers about events between instruction
 * boundaries in VMX non-root operation: the monitor-trap-flag step, the
 * VMX-preemption timer, and the NMI blocking that IRET must not end. Each
 * VM entry starts a new stay (`stay` counts them), so a timer callback
 * left over from an earlier stay recognises itself and does nothing.
 *
 * Kept beside the unit (VmxState belongs to the VMX instructions), one per
 * unit, made on first use.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import type { TimerHandle } from '../../cpu/time/timerQueue.ts';
import { bit, pinControls } from '../entry/controlFields.ts';
import type { VmxState } from '../unit/vmxState.ts';

const NMI_EXITING = bit('pin', 'nmiExiting');
const VIRTUAL_NMIS = bit('pin', 'virtualNmis');

/** Where the monitor trap flag stands (SDM Vol. 3C §26.5.2). */
export const enum Mtf {
  Off,
  /** Armed by VM entry: the exit is pending after the first instruction, or the first event delivered. */
  FirstStep,
  /** An MTF VM exit is pending on the next instruction boundary. */
  Pending,
}

export class GuestEvents {
  /** VM entries so far: the stay in non-root operation a timer belongs to. */
  stay = 0;
  mtf = Mtf.Off;
  /** The timer that ends the first step (one tick after it starts), while one is set. */
  mtfTimer: TimerHandle | null = null;
  /** The VMX-preemption timer of this stay: the TSC and clock when VM entry loaded it, and the value. */
  timerStartTsc = 0;
  timerStartClock = 0;
  timerValue = 0;
  /** The VMX-preemption timer has counted down to zero: a VM exit is pending (§26.5.1). */
  timerExpired = false;
  timerHandle: TimerHandle | null = null;
  /**
   * "NMI exiting" = 1 and "virtual NMIs" = 0 with blocking by NMI in effect:
   * the blocking lasts as long as non-root operation, IRET notwithstanding
   * (§27.7.1, §26.3 IRET).
   */
  holdNmiBlocking = false;
}

const states = new WeakMap<VmxState, GuestEvents>();

export function guestEvents(s: VmxState): GuestEvents {
  let g = states.get(s);
  if (!g) states.set(s, (g = new GuestEvents()));
  return g;
}

/**
 * Schedules `fire` on the core's timer queue at clock `due` and ends the
 * current run there, so that the machine runs it on time between two runs
 * of the core (as the local APIC timer does).
 */
export function scheduleAt(c: Cpu, due: number, fire: () => void): TimerHandle {
  const handle = c.timers.schedule(due, fire);
  const at = c.icount + (due - c.clock);
  if (at < c.stopAt) c.stopAt = at;
  c.exitBlock = true;
  return handle;
}

/** A timer of this stay fired: the unit looks at the next boundary, even from HLT (the machine runs a core with events pending). */
export function wakeForBoundary(c: Cpu): void {
  c.vmxBoundary = true;
  c.eventsPending = true;
}

/** "NMI exiting" without "virtual NMIs": blocking by NMI survives IRET in non-root operation (§26.3). */
export function holdsNmiBlocking(s: VmxState): boolean {
  return (pinControls(s.vmcs) & (NMI_EXITING | VIRTUAL_NMIS)) === NMI_EXITING;
}

/** Restores blocking by NMI that an IRET cleared where it must not (§26.3; iret.ts asks for the boundary). */
export function keepNmiBlocking(c: Cpu, g: GuestEvents): void {
  if (g.holdNmiBlocking) c.sys.nmiBlocked = true;
}
