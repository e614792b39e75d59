/**
 * The interrupt window and the NMI window (SDM Vol. 3C §26.2, "Interrupt-
 * window exiting" and "NMI-window exiting"; after VM entry §27.7.5,
 * §27.7.6): with its control set, a VM exit occurs at the beginning of any
 * instruction at which the guest could take the event.
 *
 *   interrupt window (exit 7): RFLAGS.IF = 1 and no blocking by STI or by
 *     MOV SS; it wakes the processor from HLT but does not occur in the
 *     shutdown or wait-for-SIPI states.
 *   NMI window (exit 8, only with "virtual NMIs"): no virtual-NMI blocking
 *     and no blocking by MOV SS; the SDM lets a processor also wait for the
 *     end of blocking by STI, and this one does, as it holds NMIs back
 *     during that shadow too. It wakes the processor from HLT and from
 *     shutdown, not from wait-for-SIPI.
 *
 * With "virtual NMIs" the core's NMI-blocking flag stands for virtual-NMI
 * blocking in non-root operation (see boundaryEvents.ts). `shadow`: the
 * boundary is inside an STI or MOV SS shadow.
 */
import { Activity, type Cpu } from '../../cpu/cpu.ts';
import { IF } from '../../cpu/flags.ts';
import { bit, primaryControls } from '../entry/controlFields.ts';
import type { VmcsImage } from '../unit/vmcsRegion.ts';

const INTERRUPT_WINDOW_EXITING = bit('proc', 'interruptWindowExiting');
const NMI_WINDOW_EXITING = bit('proc', 'nmiWindowExiting');

/** Either window control is set: the window must be looked at again at later boundaries. */
export function windowWatched(v: VmcsImage): boolean {
  return (primaryControls(v) & (INTERRUPT_WINDOW_EXITING | NMI_WINDOW_EXITING)) !== 0;
}

export function interruptWindowOpen(v: VmcsImage, c: Cpu, shadow: boolean): boolean {
  return (primaryControls(v) & INTERRUPT_WINDOW_EXITING) !== 0 && !shadow && (c.eflags & IF) !== 0 &&
    (c.activity === Activity.Active || c.activity === Activity.Hlt);
}

export function nmiWindowOpen(v: VmcsImage, c: Cpu, shadow: boolean): boolean {
  return (primaryControls(v) & NMI_WINDOW_EXITING) !== 0 && !shadow && !c.sys.nmiBlocked &&
    c.activity !== Activity.WaitForSipi;
}
