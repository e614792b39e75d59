/**
 * The exits that end a VM with a report (the other VMs go on): a triple
 * fault, a failed VM entry, and any exit L1 has no handler for. (A HLT
 * that nothing could end stops its VM too: hlt.ts.)
 */
import { exitReasonName } from '../../vmx/exitReason.ts';
import { stop, type ExitHandler } from './decision.ts';

const hex = (v: bigint | number): string => `0x${v.toString(16)}`;

export const handleTripleFault: ExitHandler = (_vcpu, exit) =>
  stop('triple-fault', { kind: 'stopped', detail: `triple fault at rip ${hex(exit.guestRip)}` });

export const handleEntryFailure: ExitHandler = (vcpu, exit) => {
  const failed = vcpu.host.unit.lastFailedCheck;
  return stop('entry-failure', {
    kind: 'stopped',
    detail: `VM entry failed: ${exitReasonName(exit.reason & 0xffff)}, qualification ${hex(exit.qualification)}` +
      (failed ? ` (${failed.check}, ${failed.section})` : ''),
  });
};

export const handleUnhandled: ExitHandler = (_vcpu, exit) =>
  stop('unhandled', {
    kind: 'stopped',
    detail: `no handler for exit ${exitReasonName(exit.reason & 0xffff)} (${exit.reason & 0xffff}), ` +
      `qualification ${hex(exit.qualification)}, at rip ${hex(exit.guestRip)}`,
  });
