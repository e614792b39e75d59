/**
 * The time-stamp counter (SDM Vol. 3B "Time-Stamp Counter"). Time
 * is retired instructions (DESIGN decision 3), so the TSC is a function of
 * the core's clock, its retired instructions plus the time it spent halted:
 *
 *   TSC = TSC_TICKS_PER_INSTRUCTION × (icount + idleTicks) + tscOffset
 *
 * `tscOffset` is per core; writing IA32_TSC (or IA32_TSC_ADJUST) moves it,
 * and VMX's TSC offsetting adds to it for a guest. The counter is invariant:
 * it ticks at TSC_FREQUENCY_HZ whatever the core does, as on current Intel
 * cores. Other clocks (the APIC timer, the VMX-preemption timer) derive
 * from the same count through these constants.
 */
import type { Cpu } from './cpu.ts';

/** TSC ticks per retired instruction (or REP iteration). */
export const TSC_TICKS_PER_INSTRUCTION = 1;

/** Nominal TSC frequency: 1 GHz, so one instruction is one nanosecond of machine time. */
export const TSC_FREQUENCY_HZ = 1_000_000_000;

/** The current TSC as a number (exact below 2^53, i.e. for over 100 days of machine time). */
export function readTsc(c: Cpu): number {
  return TSC_TICKS_PER_INSTRUCTION * c.clock + c.tscOffset;
}
