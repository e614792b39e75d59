/**
 * Canonical 64-bit linear addresses (SDM Vol. 1 §3.3.7.1): bits 63:47 all
 * equal. Linear addresses are kept as sign-extended numbers, so the
 * canonical ones are exactly [-2^47, 2^47).
 */
import { fault, Vector } from '../exceptions.ts';
import { Seg } from '../registers.ts';

export const CANONICAL_LIMIT = 0x800000000000;

export function isCanonical(la: number): boolean {
  return la >= -CANONICAL_LIMIT && la < CANONICAL_LIMIT;
}

/** Returns `la`, or faults as a reference through `seg` does: #SS(0) for the stack segment, else #GP(0). */
export function checkCanonical(la: number, seg: number): number {
  if (la < -CANONICAL_LIMIT || la >= CANONICAL_LIMIT) fault(seg === Seg.SS ? Vector.SS : Vector.GP, 0);
  return la;
}
