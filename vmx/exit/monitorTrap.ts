/**
 * The monitor trap flag (SDM Vol. 3C §26.5.2; VM entry §27.6.2, §27.7.8):
 * an MTF VM exit (basic reason 37, qualification 0) is pending on the
 * instruction boundary after the first step the guest takes after VM
 * entry, when the "monitor trap flag" control is 1:
 *
 *   - VM entry injects a vectored event: the step is its delivery, so the
 *     exit is pending before the first instruction;
 *   - else an event is delivered before an instruction can execute: the
 *     step is that delivery;
 *   - else the first instruction (one iteration of a REP string
 *     instruction): after it retires, or after the delivery of the fault
 *     it raises; after INT n, INT3, INTO and INT1 after the software
 *     interrupt or exception is delivered; after HLT, from the HLT state.
 *
 * Injection of a pending MTF VM exit (type 7, vector 0) makes one pending
 * whatever the control. Another VM exit on the way cancels it (the next VM
 * entry starts afresh). The exit is not taken in the shutdown and
 * wait-for-SIPI states; INIT and higher-priority events come first,
 * everything from debug traps down after it (boundaryEvents.ts).
 *
 * The end of the first instruction is found with a timer one tick after
 * it starts, which ends the run there (as the APIC timer does) and asks
 * for the boundary.
 */
import { Activity, type Cpu } from '../../cpu/cpu.ts';
import { bit, primaryControls } from '../entry/controlFields.ts';
import type { VmxState } from '../unit/vmxState.ts';
import { type GuestEvents, Mtf, scheduleAt, wakeForBoundary } from './eventState.ts';

const MONITOR_TRAP_FLAG = bit('proc', 'monitorTrapFlag');

/** VM entry: the flag for the new stay; `vectoring`: the entry injects a vectored event (§26.5.2). */
export function startMtf(s: VmxState, c: Cpu, g: GuestEvents, vectoring: boolean): void {
  c.timers.cancel(g.mtfTimer);
  g.mtfTimer = null;
  g.mtf = (primaryControls(s.vmcs) & MONITOR_TRAP_FLAG) === 0 ? Mtf.Off : vectoring ? Mtf.Pending : Mtf.FirstStep;
}

/** Injection of a pending MTF VM exit (§27.6.2). */
export function injectPendingMtf(c: Cpu, g: GuestEvents): void {
  g.mtf = Mtf.Pending;
  c.vmxBoundary = true;
}

/** An event is about to be delivered through the guest IDT: if it is the first step, the exit is pending after it. */
export function mtfEventDelivered(c: Cpu, g: GuestEvents): void {
  if (g.mtf !== Mtf.FirstStep) return;
  g.mtf = Mtf.Pending;
  c.vmxBoundary = true;
}

/** At the boundary before the first instruction: end the run after that one instruction, and look again there. */
export function mtfBeforeFirstInstruction(c: Cpu, g: GuestEvents): void {
  if (g.mtf !== Mtf.FirstStep || g.mtfTimer !== null || c.activity !== Activity.Active) return;
  const stay = g.stay;
  g.mtfTimer = scheduleAt(c, c.clock + 1, () => {
    g.mtfTimer = null;
    if (g.stay !== stay || !c.nonRoot || g.mtf !== Mtf.FirstStep) return;
    g.mtf = Mtf.Pending;
    wakeForBoundary(c);
  });
}

/** The pending exit is taken (not in shutdown; wait-for-SIPI never gets this far). */
export function mtfExitDue(c: Cpu, g: GuestEvents): boolean {
  if (g.mtf !== Mtf.Pending || c.activity === Activity.Shutdown) return false;
  g.mtf = Mtf.Off;
  c.timers.cancel(g.mtfTimer);
  g.mtfTimer = null;
  return true;
}
