/**
 * Shifts and rotates: ROL ROR RCL RCR SHL/SAL SHR SAR (group 2: C0 C1 D0-D3)
 * and the double shifts SHLD/SHRD (SDM Vol. 2B "RCL/RCR/ROL/ROR",
 * "SAL/SAR/SHL/SHR", "SHLD", "SHRD").
 *
 * Every operand width goes through one kernel working on a value held as two
 * 32-bit halves (the high half is 0 below 64 bits). The count is masked to 5
 * bits (6 with a 64-bit operand); a masked count of 0 changes no flags, but
 * the destination is still written, so a 32-bit register is zero-extended.
 *
 * Where the SDM leaves flags or results undefined we choose, once for the
 * whole family:
 * - OF at counts other than 1: the SDM's count-1 formula is evaluated at
 *   every nonzero count. Left shifts/rotates (SHL, ROL, RCL, SHLD):
 *   OF = MSB(result) XOR CF. Right ones (SHR, SAR, ROR, RCR, SHRD): OF = XOR
 *   of the two top bits of the result, which at count 1 is exactly the SDM's
 *   rule (MSB of the original for SHR, 0 for SAR, MSB(orig) XOR CF for RCR,
 *   the sign change for SHRD). sandpile.org's flag table lists this "count-1
 *   formula at every count" behaviour for the P5 and NetBurst cores; for
 *   recent Intel cores we know of no authoritative data.
 * - AF after a shift (SHL/SHR/SAR/SHLD/SHRD) with a nonzero count: 0 (the
 *   NetBurst behaviour in the same table). Rotates do not touch AF, SF, ZF, PF.
 * - CF of SHL/SHR when an 8/16-bit operand is shifted by its width or more:
 *   the last bit shifted out when the SDM's bit-by-bit pseudocode runs, i.e.
 *   bit 0 (SHL) or bit 7/15 (SHR) at count == width, and 0 beyond it.
 * - 16-bit SHLD/SHRD with a count of 17..31: the operation acts on the 48-bit
 *   concatenation dest:src:dest, so after the source's 16 bits the
 *   destination's own bits flow in (the behaviour reported for Intel cores by
 *   differential testing). That is the same as shifting src:dest by
 *   count - 16, which is how it is computed; flags follow the same formulas.
 */
import type { Cpu } from '../cpu.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import type { ExecFn, Insn } from '../decode/insn.ts';
import { CF, OF, setResult } from '../flags.ts';
import { Reg } from '../registers.ts';
import { addrOf, readERmw, readG, selectWithSub, signExtend, writeE } from './operands.ts';

/** Group 2 operations in ModRM.reg order (/6 is SAL, an alias of SHL). */
const enum ShiftOp { Rol = 0, Ror = 1, Rcl = 2, Rcr = 3, Shl = 4, Shr = 5, Sar = 7 }
const GROUP2 = [
  ['rol', ShiftOp.Rol], ['ror', ShiftOp.Ror], ['rcl', ShiftOp.Rcl], ['rcr', ShiftOp.Rcr],
  ['shl', ShiftOp.Shl], ['shr', ShiftOp.Shr], ['sal', ShiftOp.Shl], ['sar', ShiftOp.Sar],
] as const;

// ---- 64-bit shifts on halves (0 <= n <= 64) ------------------------------------

function shlLo(lo: number, n: number): number {
  return n < 32 ? lo << n : 0;
}

function shlHi(lo: number, hi: number, n: number): number {
  return n === 0 ? hi : n < 32 ? (hi << n) | (lo >>> (32 - n)) : n < 64 ? lo << (n - 32) : 0;
}

function shrLo(lo: number, hi: number, n: number): number {
  return n === 0 ? lo : n < 32 ? (lo >>> n) | (hi << (32 - n)) : n < 64 ? hi >>> (n - 32) : 0;
}

function shrHi(hi: number, n: number): number {
  return n < 32 ? hi >>> n : 0;
}

/** Bit k of (lo, hi); bits outside 0..63 read as 0. */
function bitAt(lo: number, hi: number, k: number): number {
  return k < 0 || k > 63 ? 0 : k < 32 ? (lo >>> k) & 1 : (hi >>> (k - 32)) & 1;
}

/** Low half of a result truncated to `bits`; the high half survives only at 64 bits. */
function maskLo(lo: number, bits: number): number {
  return bits === 8 ? lo & 0xff : bits === 16 ? lo & 0xffff : lo | 0;
}

/** OF by the count-1 formulas (see the header); `left` for SHL/ROL/RCL/SHLD. */
function overflow(lo: number, hi: number, bits: number, left: boolean, cf: number): number {
  const msb = bitAt(lo, hi, bits - 1);
  return (left ? msb ^ cf : msb ^ bitAt(lo, hi, bits - 2)) << 11;
}

/**
 * Applies group-2 `op` to the `bits`-wide value (lo, hi) by the masked
 * count n (1..63); sets the flags, returns the low half (high in c.opHi).
 */
function shiftRotate(c: Cpu, op: number, lo: number, hi: number, n: number, bits: number): number {
  let rLo: number, rHi: number, cf: number;
  switch (op) {
    case ShiftOp.Rol: case ShiftOp.Ror: {
      // Rotating right by m is rotating left by bits - m (count mod width, SDM ROR).
      const m = n % bits;
      const left = op === ShiftOp.Rol ? m : bits - m;
      rLo = maskLo(shlLo(lo, left) | shrLo(lo, hi, bits - left), bits);
      rHi = bits === 64 ? shlHi(lo, hi, left) | shrHi(hi, bits - left) : 0;
      // CF is set from the result even when count mod width is 0.
      cf = op === ShiftOp.Rol ? rLo & 1 : bitAt(rLo, rHi, bits - 1);
      c.fAux = (c.fAux & ~(CF | OF)) | cf | overflow(rLo, rHi, bits, op === ShiftOp.Rol, cf);
      c.opHi = rHi;
      return rLo;
    }
    case ShiftOp.Rcl: case ShiftOp.Rcr: {
      // A (bits+1)-bit ring CF:value; the count is taken mod 9 / mod 17 for 8/16 bits.
      let m = n % (bits + 1);
      cf = c.fAux & CF;
      rLo = lo; rHi = hi;
      if (m !== 0) {
        if (op === ShiftOp.Rcr) m = bits + 1 - m;
        rLo = shlLo(lo, m) | shrLo(lo, hi, bits + 1 - m);
        rHi = shlHi(lo, hi, m) | shrHi(hi, bits + 1 - m);
        if (m <= 32) rLo |= cf << (m - 1); else rHi |= cf << (m - 33);
        rLo = maskLo(rLo, bits);
        if (bits < 64) rHi = 0;
        cf = bitAt(lo, hi, bits - m);
      }
      c.fAux = (c.fAux & ~(CF | OF)) | cf | overflow(rLo, rHi, bits, op === ShiftOp.Rcl, cf);
      c.opHi = rHi;
      return rLo;
    }
    case ShiftOp.Shl:
      rLo = maskLo(shlLo(lo, n), bits);
      rHi = bits === 64 ? shlHi(lo, hi, n) : 0;
      cf = bitAt(lo, hi, bits - n);
      break;
    case ShiftOp.Shr:
      rLo = shrLo(lo, hi, n);
      rHi = shrHi(hi, n);
      cf = bitAt(lo, hi, n - 1);
      break;
    default: {
      // SAR: shift the sign-extended value; complementing makes the fill bits zeros.
      if (bits < 64) { lo = signExtend(lo, bits >> 3); hi = lo >> 31; }
      const s = hi >> 31;
      rLo = maskLo(shrLo(lo ^ s, hi ^ s, n) ^ s, bits);
      rHi = bits === 64 ? shrHi(hi ^ s, n) ^ s : 0;
      cf = bitAt(lo, hi, n - 1);
    }
  }
  setResult(c, bits >> 3, rLo, rHi);
  c.fAux = cf | overflow(rLo, rHi, bits, op === ShiftOp.Shl, cf);
  c.opHi = rHi;
  return rLo;
}

/**
 * SHLD (left) / SHRD: dest shifted by n (1..63) with bits of src flowing in.
 * Returns the low half (high in c.opHi); sets the flags.
 */
function doubleShift(c: Cpu, left: boolean, dLo: number, dHi: number, sLo: number, sHi: number, n: number, bits: number): number {
  if (bits === 16 && n > 16) {
    // Undefined in the SDM: dest:src:dest as a 48-bit value (see the header).
    const t = dLo; dLo = sLo; sLo = t;
    n -= 16;
  }
  let rLo: number, rHi: number, cf: number;
  if (left) {
    rLo = shlLo(dLo, n) | shrLo(sLo, sHi, bits - n);
    rHi = shlHi(dLo, dHi, n) | shrHi(sHi, bits - n);
    cf = bitAt(dLo, dHi, bits - n);
  } else {
    rLo = shrLo(dLo, dHi, n) | shlLo(sLo, bits - n);
    rHi = shrHi(dHi, n) | shlHi(sLo, sHi, bits - n);
    cf = bitAt(dLo, dHi, n - 1);
  }
  rLo = maskLo(rLo, bits);
  if (bits < 64) rHi = 0;
  setResult(c, bits >> 3, rLo, rHi);
  c.fAux = cf | overflow(rLo, rHi, bits, left, cf);
  c.opHi = rHi;
  return rLo;
}

/** Masks the count: 6 bits for a 64-bit operand, else 5 (SDM SAL/SAR/SHL/SHR, "countMASK"). */
function maskCount(count: number, size: number): number {
  return count & (size === 8 ? 63 : 31);
}

function shiftE(c: Cpu, i: Insn, count: number): void {
  const la = addrOf(c, i);
  const size = i.opSize;
  const lo = readERmw(c, i, la);
  const hi = size === 8 ? c.opHi : 0;
  const n = maskCount(count, size);
  if (n === 0) { writeE(c, i, la, lo, hi); return; }
  const r = shiftRotate(c, i.sub, lo, hi, n, size * 8);
  writeE(c, i, la, r, c.opHi);
}

/** i.sub: 0 SHLD, 1 SHRD. */
function shiftDouble(c: Cpu, i: Insn, count: number): void {
  const la = addrOf(c, i);
  const size = i.opSize;
  const dLo = readERmw(c, i, la);
  const dHi = size === 8 ? c.opHi : 0;
  const sLo = readG(c, i);
  const sHi = size === 8 ? c.opHi : 0;
  const n = maskCount(count, size);
  if (n === 0) { writeE(c, i, la, dLo, dHi); return; }
  const r = doubleShift(c, i.sub === 0, dLo, dHi, sLo, sHi, n, size * 8);
  writeE(c, i, la, r, c.opHi);
}

const cl = (c: Cpu): number => c.r[Reg.RCX << 1]! & 0xff;

const shiftE1: ExecFn = (c, i) => shiftE(c, i, 1);
const shiftEI: ExecFn = (c, i) => shiftE(c, i, i.imm);
const shiftECL: ExecFn = (c, i) => shiftE(c, i, cl(c));
const shiftDoubleI: ExecFn = (c, i) => shiftDouble(c, i, i.imm);
const shiftDoubleCL: ExecFn = (c, i) => shiftDouble(c, i, cl(c));

export const SHIFT_OPCODES: OpcodeDef[] = [];
GROUP2.forEach(([m, op], digit) => {
  SHIFT_OPCODES.push(
    { op: `C0 /${digit}`, mnemonic: m, operands: 'Eb,Ib', select: selectWithSub(op, shiftEI) },
    { op: `C1 /${digit}`, mnemonic: m, operands: 'Ev,Ib', select: selectWithSub(op, shiftEI) },
    { op: `D0 /${digit}`, mnemonic: m, operands: 'Eb,1', select: selectWithSub(op, shiftE1) },
    { op: `D1 /${digit}`, mnemonic: m, operands: 'Ev,1', select: selectWithSub(op, shiftE1) },
    { op: `D2 /${digit}`, mnemonic: m, operands: 'Eb,CL', select: selectWithSub(op, shiftECL) },
    { op: `D3 /${digit}`, mnemonic: m, operands: 'Ev,CL', select: selectWithSub(op, shiftECL) },
  );
});
SHIFT_OPCODES.push(
  { op: '0F A4 /r', mnemonic: 'shld', operands: 'Ev,Gv,Ib', select: selectWithSub(0, shiftDoubleI) },
  { op: '0F A5 /r', mnemonic: 'shld', operands: 'Ev,Gv,CL', select: selectWithSub(0, shiftDoubleCL) },
  { op: '0F AC /r', mnemonic: 'shrd', operands: 'Ev,Gv,Ib', select: selectWithSub(1, shiftDoubleI) },
  { op: '0F AD /r', mnemonic: 'shrd', operands: 'Ev,Gv,CL', select: selectWithSub(1, shiftDoubleCL) },
);
