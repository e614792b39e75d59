/**
 * Event injection, the last step of a successful VM entry (SDM Vol. 3C
 * §27.6), from the VM-entry interruption-information field (valid bit 31,
 * vector 7:0, type 10:8, deliver-error-code 11), the VM-entry exception
 * error code and the VM-entry instruction length:
 *
 *   - types 0-6 (vectored events, §27.6.1.1) are delivered through the
 *     guest's IDT as if they occurred at the boundary before the first
 *     guest instruction: an external interrupt without acknowledging any
 *     controller, an NMI blocking further NMIs (virtual NMIs with "virtual
 *     NMIs"), a hardware exception without updating CR2 or DR6. Software
 *     interrupts and (privileged) software exceptions push the guest RIP
 *     plus the VM-entry instruction length, other events the guest RIP. The
 *     injected event never exits itself, whatever the controls; a fault in
 *     its delivery is an exception like any other, with the injected event
 *     as IDT-vectoring information (§27.6.1.2), and pushes the guest RIP.
 *   - type 7 vector 0 makes an MTF VM exit pending before the first
 *     instruction, even with the "monitor trap flag" control 0 (§27.6.2).
 *
 * The VM-entry checks (§27.2.1.3, §27.3.1.5) have made sure that the
 * field is consistent and that the activity state allows the event.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import { deliverInjectedEvent } from '../../cpu/system/doubleFault.ts';
import { EventKind } from '../../cpu/system/eventKind.ts';
import { injectedType, injectedVector, INTERRUPTION_NMI, INTERRUPTION_OTHER } from '../entry/guestCheckSupport.ts';
import { lo, SLOT } from '../entry/vmcsView.ts';
import { guestEvents, holdsNmiBlocking } from '../exit/eventState.ts';
import { injectPendingMtf } from '../exit/monitorTrap.ts';
import type { VmxState } from '../unit/vmxState.ts';

const DELIVER_ERROR_CODE = 1 << 11;

const isSoftware = (type: number): boolean =>
  type === EventKind.SoftwareInt || type === EventKind.PrivilegedSoftware || type === EventKind.SoftwareException;

/** RIP plus `length`, wrapped at the code size. */
function advance(c: Cpu, length: number): number {
  const rip = c.rip + length;
  return c.codeSize === 64 ? rip : c.codeSize === 32 ? rip >>> 0 : rip & 0xffff;
}

/** Injects the event the VM-entry interruption-information field describes, if its valid bit is set. */
export function injectEvent(s: VmxState, c: Cpu): void {
  const v = s.vmcs;
  const type = injectedType(v);
  if (type < 0) return;
  if (type === INTERRUPTION_OTHER) {
    injectPendingMtf(c, guestEvents(s));
    return;
  }
  const deliversCode = (lo(v, SLOT.vmEntryInterruptionInformationField) & DELIVER_ERROR_CODE) !== 0;
  const errorCode = deliversCode ? lo(v, SLOT.vmEntryExceptionErrorCode) : -1;
  if (isSoftware(type)) {
    c.sys.softwareRip = c.rip;
    c.rip = advance(c, lo(v, SLOT.vmEntryInstructionLength));
  }
  if (type === INTERRUPTION_NMI) {
    c.sys.nmiBlocked = true;
    if (holdsNmiBlocking(s)) guestEvents(s).holdNmiBlocking = true;
  }
  deliverInjectedEvent(c, injectedVector(v), type as EventKind, errorCode);
}
