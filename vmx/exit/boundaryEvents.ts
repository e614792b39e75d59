/**
 * An instruction boundary in VMX non-root operation: the events pending
 * there, taken in priority order (SDM Vol. 3A §6.9 Table 6-2 with the VMX
 * additions of Vol. 3C §26.2, §26.5.1 and §26.5.2):
 *
 *   1. INIT: exits (basic reason 3); blocked in wait-for-SIPI, where a
 *      SIPI exits instead (reason 4, qualification = vector) and nothing
 *      else happens. A SIPI outside wait-for-SIPI is discarded.
 *   2. a pending MTF VM exit (37), not in shutdown (monitorTrap.ts);
 *   3. the VMX-preemption timer at zero (52);
 *   4. the NMI window (8);
 *   5. an NMI: exits with "NMI exiting" (reason 0), else is delivered
 *      through the guest IDT;
 *   6. the interrupt window (7);
 *   7. an external interrupt: exits with "external-interrupt exiting"
 *      (reason 1) whatever RFLAGS.IF, else is delivered when IF = 1;
 *      blocked in shutdown.
 *
 * Blocking (§26.4.1, §27.7.1): the STI / MOV SS shadow holds back INIT,
 * NMIs, interrupts and both windows, as the core does outside VMX (the
 * SDM leaves NMIs and interrupts that exit to the implementation); not an
 * MTF or timer exit. NMIs: without "NMI exiting", blocking by NMI as
 * usual; with it, NMIs are blocked by NMI only without "virtual NMIs",
 * and that blocking lasts while the core stays in non-root operation;
 * with "virtual NMIs" they are never blocked by NMI and the core's flag
 * stands for virtual-NMI blocking, which the NMI window looks at.
 *
 * An exit directly caused by an event leaves the activity state as it was
 * for the guest-state area (HLT, shutdown: §28.1, §28.3.4). Delivering an
 * NMI or interrupt leads to a new boundary, at the handler's first
 * instruction, where the list is looked at again.
 */
import { Activity, type Cpu } from '../../cpu/cpu.ts';
import { IF } from '../../cpu/flags.ts';
import { takeInterrupt, takeNmi } from '../../cpu/system/events.ts';
import { bit, pinControls } from '../entry/controlFields.ts';
import { ExitReason } from '../exitReason.ts';
import { vmExit } from '../transition/vmExit.ts';
import type { VmxState } from '../unit/vmxState.ts';
import { externalInterruptExit, nmiExit } from './eventExits.ts';
import { type GuestEvents, guestEvents, keepNmiBlocking } from './eventState.ts';
import { mtfBeforeFirstInstruction, mtfEventDelivered, mtfExitDue } from './monitorTrap.ts';
import { interruptWindowOpen, nmiWindowOpen, windowWatched } from './windowExits.ts';

const EXTERNAL_INTERRUPT_EXITING = bit('pin', 'externalInterruptExiting');
const NMI_EXITING = bit('pin', 'nmiExiting');
const VIRTUAL_NMIS = bit('pin', 'virtualNmis');

const enum Taken { Nothing, Exited, Delivered }

/** NMIs are blocked by NMI (not counting the STI / MOV SS shadow). */
function nmiBlocked(pin: number, c: Cpu): boolean {
  return (pin & NMI_EXITING) === 0 ? c.sys.nmiBlocked : (pin & VIRTUAL_NMIS) === 0 && c.sys.nmiBlocked;
}

function exit(s: VmxState, c: Cpu, reason: ExitReason, qualification = 0): Taken {
  vmExit(s, c, reason, qualification, 0, c.rip);
  return Taken.Exited;
}

function takeOne(s: VmxState, c: Cpu, g: GuestEvents): Taken {
  const v = s.vmcs, pin = pinControls(v);
  const shadow = c.icount < c.inhibitUntil;
  if (c.initPending && !shadow && c.activity !== Activity.WaitForSipi) {
    c.initPending = false;
    return exit(s, c, ExitReason.Init);
  }
  const sipi = c.sipiVector;
  c.sipiVector = -1;
  if (c.activity === Activity.WaitForSipi) return sipi >= 0 ? exit(s, c, ExitReason.Sipi, sipi & 0xff) : Taken.Nothing;
  if (mtfExitDue(c, g)) return exit(s, c, ExitReason.MonitorTrapFlag);
  if (g.timerExpired) return exit(s, c, ExitReason.PreemptionTimer);
  if (nmiWindowOpen(v, c, shadow)) return exit(s, c, ExitReason.NmiWindow);
  if (c.nmiPending && !shadow && !nmiBlocked(pin, c)) {
    if ((pin & NMI_EXITING) !== 0) {
      nmiExit(s, c);
      return Taken.Exited;
    }
    mtfEventDelivered(c, g);
    takeNmi(c);
    return Taken.Delivered;
  }
  if (interruptWindowOpen(v, c, shadow)) return exit(s, c, ExitReason.InterruptWindow);
  if (!shadow && c.activity !== Activity.Shutdown && c.interruptSource?.hasInterrupt()) {
    if ((pin & EXTERNAL_INTERRUPT_EXITING) !== 0) {
      externalInterruptExit(s, c);
      return Taken.Exited;
    }
    if ((c.eflags & IF) !== 0) {
      mtfEventDelivered(c, g);
      takeInterrupt(c);
      return Taken.Delivered;
    }
  }
  return Taken.Nothing;
}

/** Something may become takeable at a later boundary without anyone raising it anew. */
function stillPending(s: VmxState, c: Cpu): boolean {
  if (c.activity === Activity.WaitForSipi) return false;
  return c.initPending || (c.nmiPending && !nmiBlocked(pinControls(s.vmcs), c)) ||
    (c.interruptSource?.hasInterrupt() ?? false) || windowWatched(s.vmcs);
}

/** Takes the events of this boundary (VmxUnit.atBoundary in non-root operation). */
export function boundaryEvents(s: VmxState, c: Cpu): void {
  const g = guestEvents(s);
  keepNmiBlocking(c, g);
  while (takeOne(s, c, g) === Taken.Delivered && c.nonRoot);
  if (!c.nonRoot) {
    // The host looks at what is left (an interrupt the exit did not acknowledge, say).
    c.eventsPending = true;
    return;
  }
  mtfBeforeFirstInstruction(c, g);
  c.eventsPending = stillPending(s, c);
}
