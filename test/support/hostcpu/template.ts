/**
 * An instruction template for the differential tests: one instruction in
 * Intel syntax, how to draw its inputs, and what the SDM leaves undefined.
 */
import type { CaseInput, InputSpec } from './gen.ts';
import type { Undefined } from './undefinedFlags.ts';

export type Family = 'alu' | 'shift' | 'muldiv' | 'bits' | 'string' | 'atomic' | 'mov' | 'flags';

export interface Template {
  family: Family;
  /**
   * Intel syntax for keystone, or `.byte` lines. The word IMM stands for an
   * immediate of `immBytes` bytes that is drawn afresh for every case (it
   * must be the last field of the encoding).
   */
  asm: string;
  immBytes?: 1 | 2 | 4 | 8;
  /** The test name when `asm` is `.byte` lines (default: the assembly). */
  name?: string;
  /** Registers (default: edge-biased 64-bit values), immediate and scratch buffer. */
  inputs?: InputSpec;
  /** Ties inputs together after drawing (RAX equal to memory, a dividend whose quotient fits...). */
  couple?: (x: CaseInput) => void;
  /** What the SDM leaves undefined for this input (default: nothing). */
  undef?: (x: CaseInput) => Undefined;
  /** A /proc/cpuinfo flag the host needs for this instruction (e.g. 'abm' for LZCNT). */
  needs?: string;
}

/** The test name: the assembly with IMM shown as imm8/imm16/imm32/imm64. */
export function templateName(t: Template): string {
  return t.name ?? t.asm.replace(/\bIMM\b/, `imm${(t.immBytes ?? 0) * 8}`);
}

type RegBase = 'a' | 'c' | 'd' | 'b' | 'sp' | 'bp' | 'si' | 'di';
const LEGACY: Record<RegBase, readonly string[]> = {
  a: ['al', 'ax', 'eax', 'rax'], c: ['cl', 'cx', 'ecx', 'rcx'], d: ['dl', 'dx', 'edx', 'rdx'],
  b: ['bl', 'bx', 'ebx', 'rbx'], sp: ['spl', 'sp', 'esp', 'rsp'], bp: ['bpl', 'bp', 'ebp', 'rbp'],
  si: ['sil', 'si', 'esi', 'rsi'], di: ['dil', 'di', 'edi', 'rdi'],
};

/** The name of a register at an operand size: reg('c', 32) is 'ecx', reg(9, 8) is 'r9b'. */
export function reg(base: RegBase | number, bits: number): string {
  const k = bits === 8 ? 0 : bits === 16 ? 1 : bits === 32 ? 2 : 3;
  if (typeof base === 'string') return LEGACY[base][k]!;
  return `r${base}${['b', 'w', 'd', ''][k]}`;
}

export const SIZES = [8, 16, 32, 64] as const;

/** The assembler's PTR keyword for an operand size. */
export function ptr(bits: number): string {
  return ({ 8: 'byte', 16: 'word', 32: 'dword', 64: 'qword' } as Record<number, string>)[bits]! + ' ptr';
}
