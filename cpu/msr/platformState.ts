/**
 * Per-core values of the platform MSRs that are plain stored state (PAT,
 * MTRRs, IA32_FEATURE_CONTROL, IA32_MISC_ENABLE, IA32_TSC_ADJUST), kept
 * beside the core rather than in the Cpu class. Values are pairs of 32-bit
 * halves as RDMSR/WRMSR carry them; an MSR never written reads its reset
 * value from the row.
 */
import type { Cpu } from '../cpu.ts';

interface Stored { lo: number; hi: number }

const perCore = new WeakMap<Cpu, Map<number, Stored>>();

function values(c: Cpu): Map<number, Stored> {
  let m = perCore.get(c);
  if (!m) perCore.set(c, (m = new Map()));
  return m;
}

/** Reads a stored MSR (low half returned, high half in c.opHi), or its reset value. */
export function loadMsr(c: Cpu, index: number, resetLo: number, resetHi: number): number {
  const v = values(c).get(index);
  c.opHi = v ? v.hi : resetHi;
  return v ? v.lo : resetLo;
}

export function storeMsr(c: Cpu, index: number, lo: number, hi: number): void {
  values(c).set(index, { lo: lo | 0, hi: hi | 0 });
}
