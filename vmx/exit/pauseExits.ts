/**
 * PAUSE in VMX non-root operation (SDM Vol. 3C §26.1.3 "PAUSE"), exit
 * reason 40 with no qualification:
 *
 * - "PAUSE exiting" = 1: every PAUSE exits, at any CPL;
 * - otherwise, at CPL 0 with "PAUSE-loop exiting" = 1: a PAUSE more than
 *   PLE_Gap ticks after the previous CPL-0 PAUSE (or the first one after
 *   VM entry) begins a loop; a later one more than PLE_Window ticks after
 *   the PAUSE that began the loop exits. Ticks are those of a counter at
 *   the TSC's rate: TSC_TICKS_PER_INSTRUCTION per retired instruction.
 *
 * The loop's two times are per core (per VMX unit), kept here with the
 * stay in non-root operation they belong to (eventState.ts counts VM
 * entries), which is how a PAUSE knows it is the first after VM entry.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import { TSC_TICKS_PER_INSTRUCTION } from '../../cpu/tsc.ts';
import { Intercept } from '../../cpu/vmxPort.ts';
import { bit, primaryControls, secondaryControls } from '../entry/controlFields.ts';
import { lo, SLOT } from '../entry/vmcsView.ts';
import { ExitReason } from '../exitReason.ts';
import type { VmxState } from '../unit/vmxState.ts';
import { guestEvents } from './eventState.ts';
import { instructionExit } from './instructionExit.ts';
import type { InterceptRow } from './interceptRow.ts';

const PAUSE_EXITING = bit('proc', 'pauseExiting');
const PAUSE_LOOP_EXITING = bit('proc2', 'pauseLoopExiting');

class PauseLoop {
  /** The stay in non-root operation (GuestEvents.stay) of the last PAUSE at CPL 0. */
  stay = -1;
  /** Time of the last PAUSE at CPL 0. */
  last = 0;
  /** Time of the PAUSE that began the current loop. */
  start = 0;
}

const loops = new WeakMap<VmxState, PauseLoop>();

function loopOf(s: VmxState): PauseLoop {
  let l = loops.get(s);
  if (l === undefined) loops.set(s, (l = new PauseLoop()));
  return l;
}

/** PAUSE-loop exiting's test for a PAUSE at CPL 0: true when it must exit. */
function loopTooLong(s: VmxState, c: Cpu): boolean {
  const v = s.vmcs, l = loopOf(s);
  const now = TSC_TICKS_PER_INSTRUCTION * c.clock, stay = guestEvents(s).stay;
  const first = l.stay !== stay || now - l.last > lo(v, SLOT.pleGap);
  l.stay = stay;
  l.last = now;
  if (first) {
    l.start = now;
    return false;
  }
  return now - l.start > lo(v, SLOT.pleWindow);
}

export const PAUSE_INTERCEPTS: readonly InterceptRow[] = [
  [Intercept.Pause, (s, c, i) => {
    const v = s.vmcs;
    const exits = (primaryControls(v) & PAUSE_EXITING) !== 0 ||
      (c.cpl === 0 && (secondaryControls(v) & PAUSE_LOOP_EXITING) !== 0 && loopTooLong(s, c));
    if (exits) instructionExit(s, c, i, ExitReason.Pause);
    return exits;
  }],
];
