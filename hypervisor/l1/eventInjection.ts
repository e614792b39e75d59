/**
 * Delivering the virtual APIC's events to the guest before a VM entry
 * (KVM's inject_pending_event and enable_irq_window), through the VM-entry
 * interruption-information field (SDM Vol. 3C §25.8.3: vector 7:0, type
 * 10:8, deliver error code 11, valid 31; injection itself §27.6).
 *
 *   - nothing is added while the field already holds an event (one that
 *     L1 re-injects, exits/reinject.ts, or an exception it raises,
 *     exits/inject.ts): one event per entry;
 *   - an NMI goes in when the guest is not blocking NMIs (interruptibility
 *     state bits 0, 1, 3: STI, MOV SS, NMI; §25.4.2 Table 25-3);
 *   - else the interrupt the APIC presents (above the PPR) goes in as an
 *     external interrupt when RFLAGS.IF = 1 and there is no blocking by
 *     STI or MOV SS — the VM-entry checks require exactly that of an
 *     injected external interrupt (§27.3.1.5) — and the APIC acknowledges
 *     it (IRR → ISR);
 *   - whatever interrupt is still waiting asks for "interrupt-window
 *     exiting" (§26.2: an exit, reason 7, at the first instruction
 *     boundary where the guest can take it), else the control is cleared.
 * An NMI the guest blocks waits for the next exit: L1 does not use
 * "virtual NMIs", so it has no NMI window to ask for.
 */
import { IF } from '../../cpu/flags.ts';
import { controlMask } from '../../vmx/model/controls.ts';
import type { Vcpu } from '../vcpu.ts';
import { vmreadNumber, vmwriteField } from './vmxOps.ts';

const VALID = 0x80000000;
const TYPE_EXTERNAL_INTERRUPT = 0 << 8, TYPE_NMI = 2 << 8;
const NMI_VECTOR = 2;
const BLOCKING_BY_STI = 1 << 0, BLOCKING_BY_MOV_SS = 1 << 1, BLOCKING_BY_NMI = 1 << 3;
const INTERRUPT_WINDOW_EXITING = controlMask('proc', ['interruptWindowExiting']);

function inject(v: Vcpu, info: number): void {
  vmwriteField(v.host, 'vmEntryInterruptionInformationField', (VALID | info) >>> 0);
}

/** Sets or clears "interrupt-window exiting" in the primary controls of `v`'s VMCS (current on its core). */
function setInterruptWindow(v: Vcpu, on: boolean): void {
  const r = v.runState;
  if (r.interruptWindowOn === on) return;
  const proc = vmreadNumber(v.host, 'primaryProcessorBasedVmExecutionControls');
  vmwriteField(v.host, 'primaryProcessorBasedVmExecutionControls', (on ? proc | INTERRUPT_WINDOW_EXITING : proc & ~INTERRUPT_WINDOW_EXITING) >>> 0);
  r.interruptWindowOn = on;
}

/** Injects what the APIC of `v` has for the guest, if it can take it, and asks for the interrupt window for the rest. */
export function injectPendingEvent(v: Vcpu): void {
  const a = v.lapic;
  if (!a.nmiPending && a.deliverable() < 0) {
    setInterruptWindow(v, false);
    return;
  }
  const h = v.host;
  if ((vmreadNumber(h, 'vmEntryInterruptionInformationField') & VALID) === 0) {
    const blocking = vmreadNumber(h, 'guestInterruptibilityState');
    if (a.nmiPending && (blocking & (BLOCKING_BY_STI | BLOCKING_BY_MOV_SS | BLOCKING_BY_NMI)) === 0) {
      a.nmiPending = false;
      inject(v, TYPE_NMI | NMI_VECTOR);
    } else if (a.deliverable() >= 0 && (vmreadNumber(h, 'guestRflags') & IF) !== 0 &&
      (blocking & (BLOCKING_BY_STI | BLOCKING_BY_MOV_SS)) === 0) {
      inject(v, TYPE_EXTERNAL_INTERRUPT | a.acknowledge());
    }
  }
  setInterruptWindow(v, a.deliverable() >= 0);
}
