/**
 * Which handler takes which exit: one table by basic exit reason (DESIGN
 * decision 4), one file per family. A failed VM entry (bit 31) and a
 * reason without a row end the VM with a report naming it.
 */
import { ExitReason } from '../../vmx/exitReason.ts';
import type { ExitEvent, Vcpu } from '../vcpu.ts';
import { handleCpuid } from './cpuid.ts';
import type { Decision, ExitHandler } from './decision.ts';
import { handleIo } from './io.ts';
import { handleEntryFailure, handleHlt, handleTripleFault, handleUnhandled } from './stops.ts';
import { handleVmcall } from './vmcall.ts';

const VMENTRY_FAILURE = 0x80000000;

const HANDLERS = new Map<number, ExitHandler>([
  [ExitReason.Cpuid, handleCpuid],
  [ExitReason.IoInstruction, handleIo],
  [ExitReason.Vmcall, handleVmcall],
  [ExitReason.Hlt, handleHlt],
  [ExitReason.TripleFault, handleTripleFault],
]);

export function dispatchExit(vcpu: Vcpu, exit: ExitEvent): Decision {
  if ((exit.reason & VMENTRY_FAILURE) !== 0) return handleEntryFailure(vcpu, exit);
  return (HANDLERS.get(exit.reason & 0xffff) ?? handleUnhandled)(vcpu, exit);
}
