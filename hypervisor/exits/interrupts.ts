/**
 * The exits of interrupt delivery (SDM Vol. 3C §26.2):
 *
 *   external interrupt (reason 1): L1 sets "external-interrupt exiting"
 *     and "acknowledge interrupt on exit", so an interrupt of the host's
 *     APIC exits whatever the guest's RFLAGS.IF, already acknowledged,
 *     its vector in the VM-exit interruption information (§28.2.2). It is
 *     L1's — a kick from another core, L1's timer (l1/hostApic.ts), or
 *     whatever else reached the core — never the guest's: L1 ends it with
 *     an EOI and enters the guest again, the scheduler taking whatever the
 *     interrupt was for (l1/scheduler.ts).
 *   interrupt window (reason 7): the guest can take an interrupt now; the
 *     next entry injects it (l1/eventInjection.ts, which also clears the
 *     control once nothing waits).
 *   VMX-preemption timer (reason 52, §26.5.1): a deadline of the scheduler
 *     came — the end of a turn or an APIC timer.
 */
import { endHostInterrupt, KICK_VECTOR, TIMER_VECTOR } from '../l1/hostApic.ts';
import { vmreadNumber } from '../l1/vmxOps.ts';
import { resume, type ExitHandler } from './decision.ts';

const hostVectorName = (vector: number): string =>
  vector === KICK_VECTOR ? ':kick' : vector === TIMER_VECTOR ? ':timer' : `:0x${vector.toString(16)}`;

export const handleExternalInterrupt: ExitHandler = (vcpu) => {
  const vector = vmreadNumber(vcpu.host, 'vmExitInterruptionInformation') & 0xff;
  endHostInterrupt(vcpu.host);
  return resume(`external-interrupt${hostVectorName(vector)}`);
};

export const handleInterruptWindow: ExitHandler = () => resume('interrupt-window');

export const handlePreemptionTimer: ExitHandler = () => resume('preemption-timer');
