/**
 * The event whose delivery a VM exit interrupted goes back in on the next
 * VM entry (SDM Vol. 3C §28.2.3 "Information for VM Exits That Occur
 * During Event Delivery"; §32.7.1.2, §31.7.1.2 before the 2023 editions:
 * "the VMM should ensure that the other event is delivered when guest
 * software is resumed"), as KVM's vmx_complete_interrupts does. The core
 * runner calls this right after reading each exit, before its handler, so
 * that a handler raising an exception on top finds the event queued and
 * combines with it (inject.ts); an exception raised by a handler that
 * emulated an instruction never meets one, since instructions do not exit
 * in the middle of delivering an event.
 *
 * The IDT-vectoring information goes to the VM-entry interruption
 * information with bits 30:12 cleared (bit 12 is undefined there and
 * reserved in the entry field), its error code to the VM-entry exception
 * error code, and for a software interrupt or exception the VM-exit
 * instruction length, which such an exit records (§28.2.4), to the
 * VM-entry instruction length. An NMI that was not delivered leaves no
 * blocking by NMI: bit 3 of the interruptibility state is cleared, as VM
 * entry requires to inject an NMI under "virtual NMIs" (§27.3.1.5). A
 * failed VM entry writes no IDT-vectoring information (§27.8): nothing to
 * requeue.
 */
import { EventKind } from '../../cpu/system/eventKind.ts';
import { vmreadNumber, vmwriteField } from '../l1/vmxOps.ts';
import type { ExitEvent, Vcpu } from '../vcpu.ts';
import { INTERRUPTION_VALID, queueEvent } from './inject.ts';

const VMENTRY_FAILURE = 0x80000000;
/** Valid (31), deliver error code (11), type (10:8), vector (7:0). */
const ENTRY_BITS = 0x80000fff;
const BLOCKING_BY_NMI = 1 << 3;

export function requeueInterruptedEvent(vcpu: Vcpu, exit: ExitEvent): void {
  const h = vcpu.host;
  if ((exit.reason & VMENTRY_FAILURE) !== 0) return;
  const info = vmreadNumber(h, 'idtVectoringInformationField');
  if ((info & INTERRUPTION_VALID) === 0) return;
  queueEvent(vcpu, info & ENTRY_BITS, vmreadNumber(h, 'idtVectoringErrorCode'), exit.instructionLength);
  if (((info >>> 8) & 7) === EventKind.Nmi) {
    vmwriteField(h, 'guestInterruptibilityState', vmreadNumber(h, 'guestInterruptibilityState') & ~BLOCKING_BY_NMI);
  }
}
