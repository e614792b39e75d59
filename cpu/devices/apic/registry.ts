/**
 * Which local APIC belongs to which core: the MSR rows (IA32_APIC_BASE,
 * IA32_TSC_DEADLINE, the x2APIC registers) and MOV CR8 reach a core's APIC
 * through it. A core without one (a bare test core) has none, and those
 * MSRs raise #GP(0) there.
 */
import type { Cpu } from '../../cpu.ts';
import { fault, Vector } from '../../exceptions.ts';
import type { LocalApic } from './localApic.ts';

const apics = new WeakMap<Cpu, LocalApic>();

export function registerLocalApic(c: Cpu, apic: LocalApic): void {
  apics.set(c, apic);
}

export function localApicOf(c: Cpu): LocalApic | undefined {
  return apics.get(c);
}

/** The core's local APIC, or #GP(0) when it has none. */
export function requireLocalApic(c: Cpu): LocalApic {
  return apics.get(c) ?? fault(Vector.GP, 0);
}
