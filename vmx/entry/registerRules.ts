/**
 * Value rules the guest- and host-state checks share: the VMX fixed bits of
 * CR0/CR4, valid PAT memory types, and the IA32_EFER bits the model defines.
 */
import { EFER_LMA, EFER_LME, EFER_NXE, EFER_SCE } from '../../cpu/system/mode.ts';
import type { Msr64 } from '../model/vmxModel.ts';

/**
 * The IA32_EFER bits the CPU model defines (SCE, LME, LMA, NXE; SDM Vol. 3A
 * §2.2.1); every other bit is reserved. The checks see the VMX model only,
 * not the CPU model's feature list, so NXE counts as defined even on a CPU
 * model without NX.
 */
export const EFER_DEFINED = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;

/** The memory types a PAT entry may hold: 0 UC, 1 WC, 4 WT, 5 WP, 6 WB, 7 UC- (bit k set: type k valid). */
const PAT_VALID_TYPES = 0b11110011;

/**
 * hi:lo sets every bit that is 1 in FIXED0 and no bit that is 0 in FIXED1,
 * ignoring the bits of `unchecked` ("not set any bit to a value not
 * supported in VMX operation", §24.8, Appendix A.7/A.8).
 */
export function withinFixed(l: number, h: number, fixed0: Msr64, fixed1: Msr64, unchecked: number): boolean {
  const must1 = (fixed0.lo & ~unchecked) >>> 0, may1 = fixed1.lo | unchecked;
  return (l & must1) >>> 0 === must1 && (l & ~may1) === 0 && (h & fixed0.hi) === (fixed0.hi | 0) && (h & ~fixed1.hi) === 0;
}

/** Every byte of a PAT half is a valid memory type. */
export function patHalfValid(half: number): boolean {
  for (let shift = 0; shift < 32; shift += 8) {
    const type = (half >>> shift) & 0xff;
    if (type > 7 || ((PAT_VALID_TYPES >> type) & 1) === 0) return false;
  }
  return true;
}
