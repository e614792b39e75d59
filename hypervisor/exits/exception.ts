/**
 * Exceptions (exit reason 0) of the vectors a VM has L1 intercept
 * (Vm.interceptExceptions: #UD, #BP; none by default), reflected into the
 * guest, which is what KVM does with an exception it does not handle
 * itself: the guest's own IDT handler sees the event as if no VMM were
 * there (SDM Vol. 3C §32.7.1.1 "Reflecting Exceptions to Guest Software").
 *
 * The VM-exit interruption information (§28.2.2) gives the vector, the
 * type (3 hardware exception, e.g. UD2; 6 software exception, INT3) and
 * whether an error code came with it (VM-exit interruption error code);
 * a software exception's instruction length is the VM-exit instruction
 * length (§28.2.4), which the VM entry needs to push the RIP after the
 * INT3 (§27.6.1.1). An exception met while delivering another event
 * combines with it (inject.ts). #UD and #BP carry no state beyond the
 * event (a reflected #PF would also need CR2, a #DB DR6), which is why
 * they are the ones offered. An NMI (type 2) is no exception of the
 * bitmap's: "NMI exiting" is not L1's here, so it is reported.
 */
import { VECTOR_NAMES } from '../../cpu/exceptions.ts';
import { EventKind } from '../../cpu/system/eventKind.ts';
import { vmreadNumber } from '../l1/vmxOps.ts';
import type { Vm } from '../vm.ts';
import type { ExitHandler } from './decision.ts';
import { DELIVER_ERROR_CODE, injectException } from './inject.ts';
import { handleUnhandled } from './stops.ts';

/** The exception bitmap (§25.6.3: bit n intercepts vector n) for the VM's setting. */
export function exceptionBitmap(vm: Vm): number {
  return vm.interceptExceptions.reduce((bits, vector) => bits | (1 << vector), 0);
}

export const handleException: ExitHandler = (vcpu, exit) => {
  const h = vcpu.host;
  const info = vmreadNumber(h, 'vmExitInterruptionInformation');
  const vector = info & 0xff, type = (info >>> 8) & 7;
  if (type === EventKind.Nmi) return handleUnhandled(vcpu, exit);
  // Bit 11 of the exit's field is "error code valid", the same bit as "deliver error code" on entry.
  const errorCode = (info & DELIVER_ERROR_CODE) !== 0 ? vmreadNumber(h, 'vmExitInterruptionErrorCode') : -1;
  return injectException(vcpu, `exception:${VECTOR_NAMES[vector]}`, vector, errorCode, type, exit.instructionLength);
};
