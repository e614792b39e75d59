/**
 * The VMX-preemption timer (SDM Vol. 3C §26.5.1, §27.7.4, §28.3.4). With
 * the pin-based control "activate VMX-preemption timer", VM entry loads
 * the timer from the VMX-preemption timer-value field and it counts down
 * in non-root operation by 1 every time bit X of the TSC changes, X being
 * IA32_VMX_MISC bits 4:0 (the model's preemptionTimerRate); when it
 * reaches 0 a VM exit with basic reason 52 occurs (boundaryEvents.ts takes
 * it at its priority). A value of 0 exits before the first guest
 * instruction, after any event injection.
 *
 * TSC bit X changes each time the TSC reaches a multiple of 2^X, so from
 * TSC a to TSC b the timer counts floor(b / 2^X) - floor(a / 2^X) times.
 * The TSC advances one tick per retired instruction and through HLT
 * (cpu/tsc.ts): the timer counts in HLT, shutdown and wait-for-SIPI alike.
 * The expiry is a timer on the core's queue, so HLT time skips ahead to it.
 * Only increments count: the phase of bit X is taken at VM entry and
 * followed by the core's clock, so a guest write to the TSC during the
 * stay (a jump, not an increment) is not seen to change it.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import { readTsc, TSC_TICKS_PER_INSTRUCTION } from '../../cpu/tsc.ts';
import { bit, exitControls, pinControls } from '../entry/controlFields.ts';
import { lo, SLOT } from '../entry/vmcsView.ts';
import type { VmxState } from '../unit/vmxState.ts';
import { type GuestEvents, guestEvents, scheduleAt, wakeForBoundary } from './eventState.ts';

const ACTIVATE_PREEMPTION_TIMER = bit('pin', 'activatePreemptionTimer');
const SAVE_PREEMPTION_TIMER = bit('exit', 'savePreemptionTimer');

/** VM entry starts the timer of the new stay, or none (§27.7.4). */
export function startPreemptionTimer(s: VmxState, c: Cpu, g: GuestEvents): void {
  c.timers.cancel(g.timerHandle);
  g.timerHandle = null;
  g.timerExpired = false;
  if ((pinControls(s.vmcs) & ACTIVATE_PREEMPTION_TIMER) === 0) return;
  const value = lo(s.vmcs, SLOT.vmxPreemptionTimerValue);
  const period = 2 ** s.model.features.preemptionTimerRate;
  const start = readTsc(c);
  g.timerStartTsc = start;
  g.timerStartClock = c.clock;
  g.timerValue = value;
  if (value === 0) {
    g.timerExpired = true;
    wakeForBoundary(c);
    return;
  }
  const dueTsc = (Math.floor(start / period) + value) * period;
  const due = c.clock + Math.ceil((dueTsc - start) / TSC_TICKS_PER_INSTRUCTION);
  const stay = g.stay;
  g.timerHandle = scheduleAt(c, due, () => {
    g.timerHandle = null;
    if (g.stay !== stay || !c.nonRoot) return;
    g.timerExpired = true;
    wakeForBoundary(c);
  });
}

/** The timer's value now: the value VM entry loaded less the changes of TSC bit X since. */
function preemptionTimerValue(s: VmxState, c: Cpu, g: GuestEvents): number {
  if (g.timerExpired) return 0;
  const period = 2 ** s.model.features.preemptionTimerRate;
  const tsc = g.timerStartTsc + (c.clock - g.timerStartClock) * TSC_TICKS_PER_INSTRUCTION;
  const counted = Math.floor(tsc / period) - Math.floor(g.timerStartTsc / period);
  return Math.max(0, g.timerValue - counted);
}

/**
 * At a VM exit: with "save VMX-preemption timer value" the timer's value
 * goes to the VMX-preemption timer-value field (0 after its own exit);
 * without, the field is left alone (§28.3.4). The VM entry checks let the
 * save control be 1 only with the timer active (§27.2.1.2). VM exit must
 * call this when it saves the guest state (vmx/transition/vmExit.ts).
 */
export function savePreemptionTimer(s: VmxState, c: Cpu): void {
  if ((exitControls(s.vmcs) & SAVE_PREEMPTION_TIMER) === 0) return;
  s.vmcs.lo[SLOT.vmxPreemptionTimerValue] = preemptionTimerValue(s, c, guestEvents(s)) | 0;
  s.vmcs.hi[SLOT.vmxPreemptionTimerValue] = 0;
}
