/**
 * Accesses to system data structures: the GDT, LDT, IDT and TSS. They are
 * implicit supervisor-mode accesses whatever the CPL (SDM Vol. 3A §4.6.1),
 * bracketed for the paging unit with implicitSupervisor. Their linear
 * addresses wrap at 32 bits outside IA-32e mode; in IA-32e mode a table
 * base plus offset outside the canonical range raises #GP(0).
 */
import type { Cpu } from '../cpu.ts';
import { fault, Vector } from '../exceptions.ts';
import { isCanonical } from '../memory/canonical.ts';
import { implicitSupervisor } from '../memory/paging.ts';

const EFER_LMA = 0x400;

/** Linear address of byte `offset` of a system table at `base`. */
export function tableLinear(c: Cpu, base: number, offset: number): number {
  if ((c.efer & EFER_LMA) === 0) return (base + offset) >>> 0;
  const la = base + offset;
  if (!isCanonical(la)) fault(Vector.GP, 0);
  return la;
}

export function sysRead16(c: Cpu, la: number): number {
  implicitSupervisor(c, true);
  try { return c.mmu.read16(la); } finally { implicitSupervisor(c, false); }
}

export function sysRead32(c: Cpu, la: number): number {
  implicitSupervisor(c, true);
  try { return c.mmu.read32(la); } finally { implicitSupervisor(c, false); }
}

export function sysRead8(c: Cpu, la: number): number {
  implicitSupervisor(c, true);
  try { return c.mmu.read8(la); } finally { implicitSupervisor(c, false); }
}

/** Writes one byte (the accessed and busy bits of descriptors). */
export function sysWrite8(c: Cpu, la: number, v: number): void {
  implicitSupervisor(c, true);
  try { c.mmu.write8(la, v); } finally { implicitSupervisor(c, false); }
}
