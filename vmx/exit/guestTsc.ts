/**
 * TSC offsetting and TSC scaling (SDM Vol. 3C §26.3, the entries for
 * RDTSC, RDTSCP and RDMSR): in VMX non-root operation with "use TSC
 * offsetting" = 1, those reads return
 *
 *   TSC + TSC offset                                 ("use TSC scaling" = 0)
 *   ((TSC × TSC multiplier) >> 48) + TSC offset      ("use TSC scaling" = 1)
 *
 * modulo 2^64, where TSC is the value of IA32_TIME_STAMP_COUNTER, the
 * multiplier a fixed-point number with 48 fractional bits, and the product
 * 128 bits wide. With "use TSC offsetting" = 0 they read the TSC, scaling
 * or not. WRMSR to the TSC and every other TSC use keep the real counter.
 *
 * The core asks its VMX unit (VmxUnit.guestTsc) only in non-root
 * operation; the answer reads the current VMCS's controls and fields.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import { TWO32 } from '../../cpu/registers.ts';
import { bit, primaryControls, secondaryControls } from '../entry/controlFields.ts';
import { SLOT } from '../entry/vmcsView.ts';
import type { VmxState } from '../unit/vmxState.ts';

const USE_TSC_OFFSETTING = bit('proc', 'useTscOffsetting');
const USE_TSC_SCALING = bit('proc2', 'useTscScaling');

/** 16-bit limbs of the two factors and the 128-bit product, reused (no allocation per read). */
const a = new Float64Array(4), b = new Float64Array(4), p = new Float64Array(8);

function limbs(out: Float64Array, lo: number, hi: number): void {
  out[0] = lo & 0xffff;
  out[1] = lo >>> 16;
  out[2] = hi & 0xffff;
  out[3] = hi >>> 16;
}

/**
 * Bits 111:48 of the 128-bit product of two unsigned 64-bit values given
 * as halves: returns bits 79:48, leaves bits 111:80 in c.opHi. Schoolbook
 * multiplication in 16-bit limbs keeps every partial sum below 2^53.
 */
export function mulShift48(c: Cpu, xLo: number, xHi: number, yLo: number, yHi: number): number {
  limbs(a, xLo, xHi);
  limbs(b, yLo, yHi);
  p.fill(0);
  for (let m = 0; m < 4; m++) for (let n = 0; n < 4; n++) p[m + n]! += a[m]! * b[n]!;
  let carry = 0;
  for (let k = 0; k < 8; k++) {
    const v = p[k]! + carry;
    carry = Math.floor(v / 65536);
    p[k] = v - carry * 65536;
  }
  c.opHi = p[5]! | (p[6]! << 16);
  return p[3]! | (p[4]! << 16);
}

/** The guest's view of the real TSC hi:lo: returns bits 31:0 and leaves bits 63:32 in c.opHi. */
export function guestTsc(s: VmxState, c: Cpu, lo: number, hi: number): number {
  const v = s.vmcs;
  if ((primaryControls(v) & USE_TSC_OFFSETTING) === 0) {
    c.opHi = hi;
    return lo;
  }
  if ((secondaryControls(v) & USE_TSC_SCALING) !== 0) {
    lo = mulShift48(c, lo, hi, v.lo[SLOT.tscMultiplier]!, v.hi[SLOT.tscMultiplier]!);
    hi = c.opHi;
  }
  const sum = (lo >>> 0) + (v.lo[SLOT.tscOffset]! >>> 0);
  c.opHi = (hi + v.hi[SLOT.tscOffset]! + (sum >= TWO32 ? 1 : 0)) | 0;
  return sum | 0;
}
