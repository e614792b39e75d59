/**
 * Which handler takes which exit: one table by basic exit reason (DESIGN
 * decision 4), one file per family. A failed VM entry (bit 31) and a
 * reason without a row end the VM with a report naming it.
 */
import { ExitReason } from '../../vmx/exitReason.ts';
import type { ExitEvent, Vcpu } from '../vcpu.ts';
import { apicRdmsr, apicWrmsr } from './apicMsrs.ts';
import { handleCpuid } from './cpuid.ts';
import { handleCrAccess } from './cr.ts';
import { cr8Access } from './cr8.ts';
import type { Decision, ExitHandler } from './decision.ts';
import { handleEptMisconfiguration, handleEptViolation } from './ept.ts';
import { handleException } from './exception.ts';
import { handleHlt } from './hlt.ts';
import { handleExternalInterrupt, handleInterruptWindow, handlePreemptionTimer } from './interrupts.ts';
import { handleIo } from './io.ts';
import { handleRdmsr, handleWrmsr } from './msr.ts';
import { orElse } from './orElse.ts';
import { handleEntryFailure, handleTripleFault, handleUnhandled } from './stops.ts';
import { handleVmcall } from './vmcall.ts';

const VMENTRY_FAILURE = 0x80000000;

const HANDLERS = new Map<number, ExitHandler>([
  [ExitReason.Cpuid, handleCpuid],
  [ExitReason.IoInstruction, handleIo],
  [ExitReason.Vmcall, handleVmcall],
  [ExitReason.Hlt, handleHlt],
  [ExitReason.TripleFault, handleTripleFault],
  [ExitReason.Rdmsr, orElse(apicRdmsr, handleRdmsr)],
  [ExitReason.Wrmsr, orElse(apicWrmsr, handleWrmsr)],
  [ExitReason.CrAccess, orElse(cr8Access, handleCrAccess)],
  [ExitReason.EptViolation, handleEptViolation],
  [ExitReason.EptMisconfiguration, handleEptMisconfiguration],
  [ExitReason.ExceptionOrNmi, handleException],
  [ExitReason.ExternalInterrupt, handleExternalInterrupt],
  [ExitReason.InterruptWindow, handleInterruptWindow],
  [ExitReason.PreemptionTimer, handlePreemptionTimer],
]);

export function dispatchExit(vcpu: Vcpu, exit: ExitEvent): Decision {
  if ((exit.reason & VMENTRY_FAILURE) !== 0) return handleEntryFailure(vcpu, exit);
  return (HANDLERS.get(exit.reason & 0xffff) ?? handleUnhandled)(vcpu, exit);
}
