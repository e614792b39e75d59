/**
 * A vCPU's multiprocessor state as L1 moves it (KVM's mp_state, with
 * kvm_apic_accept_events and kvm_vcpu_has_events): running, halted until
 * an event wakes it, or waiting for a SIPI.
 *
 * INIT (SDM Vol. 3A §9.4, §11.4.7.3) resets the vCPU's APIC and puts it in
 * wait-for-SIPI — the BSP too: L1 has no firmware to restart it at the
 * reset vector. A SIPI to a vCPU waiting for one starts it; any other is
 * dropped (§11.4.4.1). L1 takes both on the vCPU's own core, before its
 * next entry, whichever core sent them.
 *
 * L1 does not enter a vCPU with guest activity state wait-for-SIPI to wait
 * for a SIPI there: only a SIPI ends that state — neither the kick of
 * another core (an external interrupt) nor the VMX-preemption timer does
 * (SDM Vol. 3C §25.4.2, §26.5.1) — and a SIPI sent to a core that runs
 * another vCPU at that moment is lost (Vol. 3A §11.4.4.1). The wait is
 * L1's, as in KVM.
 *
 * L1's SIPI convention: a SIPI with vector V starts the vCPU in 64-bit
 * mode at guest-physical V × 4096, set up anew as every vCPU is
 * (Vcpu.setupLongMode: identity paging, flat segments, RFLAGS 2), with the
 * general-purpose registers zero and its own stack (vcpuStack). Not real
 * mode at V:0000 as the SDM has it: L1's guests are single 64-bit images
 * (DESIGN decision 9) with no 16-bit trampoline, and real mode would need
 * "unrestricted guest" only to climb back to 64-bit mode at once.
 */
import type { Vcpu } from '../vcpu.ts';
import { GUEST_STACK } from '../vm.ts';
import { MpState } from './runState.ts';
import { vmwriteField } from './vmxOps.ts';

/** Bytes of stack each vCPU gets below GUEST_STACK. */
const VCPU_STACK_BYTES = 0x4000;

/** The initial RSP of vCPU `index`: each its own 16 KiB, downwards from GUEST_STACK. */
export function vcpuStack(index: number): number {
  return GUEST_STACK - index * VCPU_STACK_BYTES;
}

/** Takes the INIT and the SIPI pending for `v` (kvm_apic_accept_events). */
export function acceptInitSipi(v: Vcpu): void {
  const a = v.lapic, r = v.runState;
  if (a.initPending) {
    a.reset();
    r.mp = MpState.WaitForSipi;
    r.startVector = -1;
  }
  if (a.sipiVector < 0) return;
  if (r.mp === MpState.WaitForSipi) {
    r.mp = MpState.Runnable;
    r.startVector = a.sipiVector;
  }
  a.sipiVector = -1;
}

/** An event is there that ends a HLT (kvm_vcpu_has_events): INIT, an NMI not blocked, or an interrupt the APIC presents with RFLAGS.IF = 1. */
export function hasWakeEvent(v: Vcpu): boolean {
  const a = v.lapic, r = v.runState;
  return a.initPending || (a.nmiPending && !r.haltedBlockingNmi) || (r.haltedWithIf && a.deliverable() >= 0);
}

/** `v` runs, or something of its own will wake it: an event already there (an INIT or SIPI in wait-for-SIPI), or its APIC timer with interrupts enabled. */
function mayRunAgain(v: Vcpu): boolean {
  const a = v.lapic, r = v.runState;
  if (v.stopped) return false;
  if (r.mp === MpState.Runnable) return true;
  if (r.mp === MpState.WaitForSipi) return a.initPending || a.sipiVector >= 0;
  return hasWakeEvent(v) || (r.haltedWithIf && a.timer.nextExpiry() !== Infinity);
}

/** No vCPU of the VM can ever run again: each waits for an event only another one of them could send. */
export function vmCannotWake(v: Vcpu): boolean {
  return !v.vm.vcpus.some(mayRunAgain);
}

/** Starts `v` as the SIPI it took says (the convention above), on its core with its VMCS current; `hostRip` is L1's exit handler. */
export function startAtSipi(v: Vcpu, hostRip: number): void {
  const r = v.runState;
  v.setupLongMode(r.startVector * 4096, vcpuStack(v.index), hostRip);
  // What setupLongMode leaves as a new VMCS has it, but this one may have run (halted, in an STI shadow, single-stepping).
  for (const f of ['guestActivityState', 'guestInterruptibilityState', 'guestPendingDebugExceptions'] as const) vmwriteField(v.host, f, 0);
  v.launched = false;
  v.host.c.r.fill(0);
  r.vmcsReset();
  r.startVector = -1;
}
