/**
 * Exceptions L1 raises in its guest, through the VM-entry
 * interruption-information field (SDM Vol. 3C §25.8.3: vector 7:0, type
 * 10:8, deliver error code 11, valid 31), the VM-entry exception error code
 * and, for a software exception, the VM-entry instruction length; the next
 * VM entry delivers the event through the guest's IDT (§27.6.1). The guest
 * RIP stays at the instruction, as a fault's return address does, so the
 * decision is "resume".
 *
 * One event goes in per entry. When one is already queued — the event
 * whose delivery the exit interrupted (reinject.ts) — the new exception
 * combines with it as the processor combines two exceptions (Vol. 3A
 * §6.15, Tables 6-4 and 6-5), which is what Vol. 3C §32.7.1.1 "Reflecting
 * Exceptions to Guest Software" (§31.7.1.1 before the 2023 editions) asks
 * of a VMM and KVM's kvm_multiple_exception does: a
 * contributory exception or #PF after a contributory exception, or a
 * contributory exception or #PF after a #PF, becomes #DF(0); either after
 * a #DF is a triple fault, which ends the VM as the triple-fault exit
 * does; otherwise the new exception replaces the queued event (an INT n,
 * INT3 or INTO runs again when the guest returns to it).
 */
import { Vector, VECTOR_NAMES } from '../../cpu/exceptions.ts';
import { EventKind } from '../../cpu/system/eventKind.ts';
import { vmreadNumber, vmwriteField } from '../l1/vmxOps.ts';
import type { Vcpu } from '../vcpu.ts';
import { resume, stop, type Decision } from './decision.ts';

export const INTERRUPTION_VALID = 0x80000000;
export const DELIVER_ERROR_CODE = 1 << 11;

const interruptionType = (info: number): number => (info >>> 8) & 7;

/** Software interrupts and (privileged) software exceptions push RIP plus the VM-entry instruction length (§27.6.1.1). */
const usesInstructionLength = (type: number): boolean =>
  type === EventKind.SoftwareInt || type === EventKind.PrivilegedSoftware || type === EventKind.SoftwareException;

/**
 * Queues event `info` (interruption-information format, bits 31, 11,
 * 10:8, 7:0) with its error code and, for a software interrupt or
 * exception, the length of the instruction whose RIP the guest resumes at.
 */
export function queueEvent(vcpu: Vcpu, info: number, errorCode: number, length: number): void {
  const h = vcpu.host;
  vmwriteField(h, 'vmEntryInterruptionInformationField', info >>> 0);
  if ((info & DELIVER_ERROR_CODE) !== 0) vmwriteField(h, 'vmEntryExceptionErrorCode', errorCode >>> 0);
  if (usesInstructionLength(interruptionType(info))) vmwriteField(h, 'vmEntryInstructionLength', length);
}

/** Table 6-4: #DE, #TS, #NP, #SS and #GP are contributory. */
const isContributory = (vector: number): boolean =>
  vector === Vector.DE || (vector >= Vector.TS && vector <= Vector.GP);

/**
 * Injects exception `vector` of `type` (a hardware exception unless
 * reflecting a software one, whose instruction is `length` bytes) with
 * `errorCode` (< 0: none), combined with a queued event as above.
 */
export function injectException(
  vcpu: Vcpu, handler: string, vector: number, errorCode: number, type = EventKind.Hardware, length = 0,
): Decision {
  const queued = vmreadNumber(vcpu.host, 'vmEntryInterruptionInformationField');
  let v = vector, code = errorCode;
  if ((queued & INTERRUPTION_VALID) !== 0 && interruptionType(queued) === EventKind.Hardware) {
    const first = queued & 0xff, serious = isContributory(v) || v === Vector.PF;
    if (first === Vector.DF && serious) {
      return stop(handler, { kind: 'stopped', detail: `triple fault: ${VECTOR_NAMES[v]} while delivering #DF` });
    }
    if ((isContributory(first) && isContributory(v)) || (first === Vector.PF && serious)) {
      v = Vector.DF;
      code = 0;
    }
  }
  const kind = v === vector ? type : EventKind.Hardware;
  queueEvent(vcpu, INTERRUPTION_VALID | (code >= 0 ? DELIVER_ERROR_CODE : 0) | (kind << 8) | v, code, length);
  return resume(handler);
}

/** #GP(0), the answer to an MSR or control-register access the guest may not make. */
export const injectGp0 = (vcpu: Vcpu, handler: string): Decision => injectException(vcpu, handler, Vector.GP, 0);
