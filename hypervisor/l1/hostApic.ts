/**
 * L1's own local APIC on each core (DESIGN decision 1: L1 touches "its
 * APIC" through the MSRs, as root software does with WRMSR): switched to
 * x2APIC mode and software-enabled at start, it carries the "kick" L1
 * sends to another core when it made an event pending for a vCPU that
 * runs there (KVM's kvm_vcpu_kick). The kicked core is in VMX non-root
 * operation with "external-interrupt exiting", so the kick is a VM exit
 * (reason 1) that brings L1 there to take the event (exits/interrupts.ts);
 * with "acknowledge interrupt on exit" the exit has taken the vector from
 * the IRR to the ISR, and L1 ends it with an EOI.
 *
 * On a processor without the VMX-preemption timer, the APIC's timer in
 * TSC-deadline mode (§11.5.4.1) brings L1 back at the deadlines the
 * scheduler sets, the same way (KVM's hrtimer path, where the "hv timer"
 * is missing).
 */
import { readMsr, writeMsr } from '../../cpu/exec/msr.ts';
import { ApicReg, LVT_TIMER_MODE_SHIFT, SVR_ENABLE, TimerMode, X2APIC_MSR_BASE } from '../../cpu/devices/apic/registers.ts';
import type { HostCore } from './vmxOps.ts';

/** The vectors of the kick and of L1's timer: in the highest priority classes, like Linux's reschedule and local timer vectors. */
export const KICK_VECTOR = 0xfd, TIMER_VECTOR = 0xec;

const IA32_APIC_BASE = 0x1b, IA32_TSC_DEADLINE = 0x6e0;
const TWO32 = 2 ** 32;
const APIC_EN = 1 << 11, APIC_EXTD = 1 << 10;
const SPURIOUS_VECTOR = 0xff;

const msr = (reg: ApicReg): number => X2APIC_MSR_BASE + reg;

/**
 * Enables the core's local APIC in x2APIC mode (xAPIC → x2APIC is a legal
 * step, SDM Vol. 3A §11.12.5), software-enables it (§11.4.7.2) and sets
 * its timer to TSC-deadline mode with TIMER_VECTOR, disarmed.
 */
export function enableHostApic(h: HostCore): void {
  const lo = readMsr(h.c, IA32_APIC_BASE);
  writeMsr(h.c, IA32_APIC_BASE, lo | APIC_EN | APIC_EXTD, h.c.opHi);
  writeMsr(h.c, msr(ApicReg.SVR), SVR_ENABLE | SPURIOUS_VECTOR, 0);
  writeMsr(h.c, msr(ApicReg.LVT_TIMER), (TimerMode.TscDeadline << LVT_TIMER_MODE_SHIFT) | TIMER_VECTOR, 0);
}

/** Arms the core's APIC timer for TSC `deadline` (IA32_TSC_DEADLINE), or disarms it for Infinity. */
export function armHostTimer(h: HostCore, deadline: number): void {
  const d = deadline === Infinity ? 0 : deadline;
  writeMsr(h.c, IA32_TSC_DEADLINE, d % TWO32, Math.floor(d / TWO32));
}

/** Sends the kick to the core whose x2APIC ID is `core` (physical destination, fixed, edge: §11.6.1, §11.12.9). */
export function kickCore(h: HostCore, core: number): void {
  writeMsr(h.c, msr(ApicReg.ICR_LO), KICK_VECTOR, core);
}

/** Ends the host interrupt an exit acknowledged (EOI, §11.8.5). */
export function endHostInterrupt(h: HostCore): void {
  writeMsr(h.c, msr(ApicReg.EOI), 0, 0);
}
