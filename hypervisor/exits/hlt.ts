/**
 * HLT (exit reason 12; L1 sets "HLT exiting", SDM Vol. 3C §26.1.3): the
 * vCPU halts until an event wakes it (KVM's kvm_emulate_halt and
 * kvm_vcpu_halt): an INIT, an NMI (unless it halted in an NMI handler,
 * whose blocking lasts to its IRET, Vol. 3A §6.7.1), or an interrupt its
 * APIC presents while RFLAGS.IF = 1 (SDM Vol. 2A HLT). L1 moves RIP past
 * the HLT, which ends any STI or MOV SS shadow it was in (as KVM's
 * skip_emulated_instruction does: an injected interrupt would otherwise
 * fail the VM-entry checks, §27.3.1.5), and marks the vCPU halted unless
 * a wake-up event is already there; the scheduler (l1/scheduler.ts) lets
 * time pass and wakes it.
 *
 * A halt that nothing could ever end stops the VM with a report: when no
 * vCPU of the VM runs or has an event or an armed APIC timer of its own
 * (l1/mpState.ts) — for one vCPU, a HLT with IF = 0 (no NMI can come), or
 * with IF = 1 and no timer armed.
 */
import { IF } from '../../cpu/flags.ts';
import { readTsc } from '../../cpu/tsc.ts';
import { hasWakeEvent, vmCannotWake } from '../l1/mpState.ts';
import { MpState } from '../l1/runState.ts';
import { vmreadNumber } from '../l1/vmxOps.ts';
import { skip, stop, type ExitHandler } from './decision.ts';

const BLOCKING_BY_NMI = 1 << 3;

export const handleHlt: ExitHandler = (vcpu, exit) => {
  const h = vcpu.host, r = vcpu.runState;
  // The STI / MOV SS shadow ends with the skipped HLT (Vcpu.skipInstruction).
  const blocking = vmreadNumber(h, 'guestInterruptibilityState');
  r.haltedWithIf = (vmreadNumber(h, 'guestRflags') & IF) !== 0;
  r.haltedBlockingNmi = (blocking & BLOCKING_BY_NMI) !== 0;
  vcpu.lapic.pollTimer(readTsc(h.c));
  if (!hasWakeEvent(vcpu)) r.mp = MpState.Halted;
  if (vmCannotWake(vcpu)) {
    return stop('hlt', {
      kind: 'stopped',
      detail: `HLT at rip 0x${exit.guestRip.toString(16)} with RFLAGS.IF = ${r.haltedWithIf ? 1 : 0}: nothing could ever wake the VM`,
    });
  }
  return skip('hlt');
};
