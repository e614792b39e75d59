/**
 * The two preconditions most system instructions start with: privileged
 * instructions need CPL 0, else #GP(0) (SDM Vol. 3A §5.9; CPL is 3 in
 * virtual-8086 mode, 0 in real mode); the descriptor-table instructions
 * LLDT, SLDT, LTR, STR, LAR, LSL, VERR, VERW and ARPL exist only in
 * protected mode, else #UD.
 */
import type { Cpu } from '../cpu.ts';
import { fault, Vector } from '../exceptions.ts';
import { inProtectedMode } from './mode.ts';

export function requireCpl0(c: Cpu): void {
  if (c.cpl !== 0) fault(Vector.GP, 0);
}

export function requireProtectedMode(c: Cpu): void {
  if (!inProtectedMode(c)) fault(Vector.UD);
}
