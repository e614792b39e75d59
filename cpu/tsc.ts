/**
 * The time-stamp counter (SDM Vol. 3B "Time-Stamp Counter"). Time
 * is retired instructions (DESIGN decision 3), so the TSC is a function of
 * the core's clock, its retired instructions plus the time it spent halted:
 *
 *   TSC = TSC_TICKS_PER_INSTRUCTION × (icount + idleTicks) + tscOffset
 *
 * `tscOffset` is per core; writing IA32_TSC (or IA32_TSC_ADJUST) moves it.
 * The counter is invariant: it ticks at TSC_FREQUENCY_HZ whatever the core
 * does, as on current Intel cores. Other clocks (the APIC timer, the
 * VMX-preemption timer) derive from the same count through these constants.
 *
 * Software in VMX non-root operation may read another value: RDTSC, RDTSCP
 * and RDMSR of IA32_TIME_STAMP_COUNTER return the TSC offset and scaled as
 * the VMM asked (SDM Vol. 3C §26.3). The VMX unit supplies that view as the
 * core's VmxUnit.guestTsc (cpu/ never imports vmx/); WRMSR, IA32_TSC_ADJUST, the
 * TSC deadline and the timers keep the real counter (§26.3 "WRMSR").
 */
import type { Cpu } from './cpu.ts';
import { fault, Vector } from './exceptions.ts';
import { TWO32 } from './registers.ts';

/** TSC ticks per retired instruction (or REP iteration). */
export const TSC_TICKS_PER_INSTRUCTION = 1;

/** Nominal TSC frequency: 1 GHz, so one instruction is one nanosecond of machine time. */
export const TSC_FREQUENCY_HZ = 1_000_000_000;

const CR4_TSD = 1 << 2;

/** The current TSC as a number (exact below 2^53, i.e. for over 100 days of machine time). */
export function readTsc(c: Cpu): number {
  return TSC_TICKS_PER_INSTRUCTION * c.clock + c.tscOffset;
}

/** The TSC as a 64-bit value: returns bits 31:0, bits 63:32 in c.opHi (a TSC below zero wraps, as modulo 2^64). */
export function readTscHalves(c: Cpu): number {
  const t = readTsc(c);
  const hi = Math.floor(t / TWO32);
  c.opHi = hi | 0;
  return (t - hi * TWO32) | 0;
}

/**
 * The TSC as the running software reads it with RDTSC, RDTSCP or RDMSR:
 * in VMX non-root operation through the VMX unit's guestTsc. Bits 31:0
 * returned, bits 63:32 in c.opHi.
 */
export function readSoftwareTsc(c: Cpu): number {
  const lo = readTscHalves(c);
  return c.nonRoot ? c.vmx!.guestTsc(c, lo, c.opHi) : lo;
}

/**
 * CR4.TSD restricts RDTSC and RDTSCP to CPL 0 in protected mode: #GP(0)
 * otherwise (SDM Vol. 2B RDTSC). A privilege fault, so it comes before the
 * VM exit those instructions may cause (SDM Vol. 3C §26.1.1).
 */
export function requireTscAccess(c: Cpu): void {
  if ((c.cr4 & CR4_TSD) !== 0 && c.cpl !== 0 && (c.cr0 & 1) !== 0) fault(Vector.GP, 0);
}
