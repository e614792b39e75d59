/**
 * What the SDM leaves undefined, per instruction kind: the differential
 * tests mask these flags (and register bits) before comparing the core with
 * the host, because the host may be an AMD core and Intel cores of
 * different generations disagree too. Each entry cites the instruction's
 * page in SDM Vol. 2 ("Flags Affected", or "Operation" for results).
 */
import { AF, CF, OF, PF, SF, ZF } from '../../../cpu/flags.ts';

export interface Undefined {
  /** RFLAGS bits whose value after the instruction is undefined. */
  flags: number;
  /** [register index, mask of undefined bits] for results the SDM leaves undefined. */
  regs?: [number, bigint][];
}

export const DEFINED: Undefined = { flags: 0 };

/** AND, OR, XOR, TEST (Vol. 2A AND, Vol. 2B OR, TEST, XOR): "The state of the AF flag is undefined." */
export const LOGIC: Undefined = { flags: AF };

/** MUL (Vol. 2B), IMUL (Vol. 2A): "The SF, ZF, AF, and PF flags are undefined." */
export const MULTIPLY: Undefined = { flags: SF | ZF | AF | PF };

/** DIV (Vol. 2A), IDIV (Vol. 2A): "The CF, OF, SF, ZF, AF, and PF flags are undefined." */
export const DIVIDE: Undefined = { flags: CF | OF | SF | ZF | AF | PF };

/** BT, BTS, BTR, BTC (Vol. 2A): "The ZF flag is unaffected. The OF, SF, AF, and PF flags are undefined." */
export const BIT_TEST: Undefined = { flags: OF | SF | AF | PF };

/** LZCNT (Vol. 2A), TZCNT (Vol. 2B): ZF and CF are defined; "OF, SF, PF and AF flags are undefined." */
export const COUNT_ZEROS: Undefined = { flags: OF | SF | PF | AF };

/**
 * BSF, BSR (Vol. 2A): "The CF, OF, SF, AF, and PF flags are undefined", and
 * "If the content of the source operand is 0, the content of the destination
 * operand is undefined" — all 64 bits of a 32-bit destination, since whether
 * the upper half is cleared then is not stated; the low word of a 16-bit one.
 */
export function bitScan(sourceIsZero: boolean, dest: number, bits: number): Undefined {
  return {
    flags: CF | OF | SF | AF | PF,
    regs: sourceIsZero ? [[dest, bits === 16 ? 0xffffn : (1n << 64n) - 1n]] : [],
  };
}

/** The count a shift or rotate uses: 5 bits, or 6 with a 64-bit operand (Vol. 2B SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR). */
export function maskedCount(countByte: bigint, bits: number): number {
  return Number(countByte & (bits === 64 ? 0x3fn : 0x1fn));
}

/**
 * SAL/SAR/SHL/SHR (Vol. 2B), "Flags Affected": if the count is 0 the flags
 * are not affected; for a non-zero count AF is undefined; OF is defined
 * only for 1-bit shifts; CF is undefined for SHL and SHR when the count is
 * greater than or equal to the operand size (8- and 16-bit operands only).
 */
export function shift(kind: 'shl' | 'shr' | 'sar', bits: number, countByte: bigint): Undefined {
  const n = maskedCount(countByte, bits);
  if (n === 0) return DEFINED;
  let flags = AF;
  if (n !== 1) flags |= OF;
  if (kind !== 'sar' && n >= bits) flags |= CF;
  return { flags };
}

/**
 * RCL/RCR/ROL/ROR (Vol. 2B), "Flags Affected": a masked count of 0 affects
 * no flags; OF is defined for a masked count of 1 only; SF, ZF, AF and PF
 * are always unaffected; CF is defined whenever the count is non-zero.
 */
export function rotate(bits: number, countByte: bigint): Undefined {
  return { flags: maskedCount(countByte, bits) > 1 ? OF : 0 };
}

/**
 * SHLD, SHRD (Vol. 2B): a count of 0 affects nothing; AF is undefined when
 * a shift occurs; OF is defined for 1-bit shifts only; "If the count is
 * greater than the operand size, the result is undefined" and so are all
 * the flags (16-bit operands with a count of 17-31).
 */
export function shiftDouble(bits: number, countByte: bigint, dest: number): Undefined {
  const n = maskedCount(countByte, bits);
  if (n === 0) return DEFINED;
  if (n > bits) return { flags: CF | OF | SF | ZF | AF | PF, regs: [[dest, (1n << BigInt(bits)) - 1n]] };
  return { flags: n === 1 ? AF : AF | OF };
}

/** BSWAP (Vol. 2A): "When the BSWAP instruction references a 16-bit register, the result is undefined." */
export function byteSwap16(dest: number): Undefined {
  return { flags: 0, regs: [[dest, 0xffffn]] };
}
