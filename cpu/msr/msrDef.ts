/**
 * One row of the MSR table (DESIGN decision 4): the MSRs the model has,
 * each with how RDMSR and WRMSR act on it. Values travel as two 32-bit
 * halves, as EDX:EAX do: `read` returns the low half and leaves the high
 * half in c.opHi; `write` receives both and raises #GP(0) itself for
 * values the SDM forbids (reserved bits, non-canonical addresses...).
 */
import type { Cpu } from '../cpu.ts';

export interface MsrDef {
  index: number;
  /** The SDM's name, e.g. 'IA32_EFER'. */
  name: string;
  read(c: Cpu): number;
  /** Omitted for read-only MSRs: WRMSR then raises #GP(0). */
  write?(c: Cpu, lo: number, hi: number): void;
}
