/**
 * Multiplication and division: MUL, IMUL (one-, two- and three-operand
 * forms), DIV, IDIV (SDM Vol. 2A "MUL", "IMUL", "DIV", "IDIV").
 *
 * Every width goes through one exact 64x64 -> 128 multiply and one 128/64
 * divide built from 16-bit limbs and 32-bit words (DESIGN decision 5: no
 * BigInt per instruction); narrower operands are zero- or sign-extended to
 * 64 bits first. The 128-bit value lives in the module scratch W, so nothing
 * is allocated per instruction.
 *
 * Flags: CF = OF = "the result does not fit the destination" as the SDM
 * defines for each form. The undefined ones are chosen as follows: after a
 * multiply SF, ZF and PF are set from the low half of the result (the part
 * written to AL/AX/EAX/RAX or to the destination register) and AF is 0, the
 * NetBurst behaviour that sandpile.org documents and what recent Intel cores
 * are reported to do. DIV and IDIV leave all six arithmetic flags unchanged.
 */
import type { Cpu } from '../cpu.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import type { ExecFn, Insn } from '../decode/insn.ts';
import { fault, Vector } from '../exceptions.ts';
import { CF, OF, setResult } from '../flags.ts';
import { Reg } from '../registers.ts';
import { addrOf, readE, readG, readReg, selectWithSub, signExtend, wr16, wr32, wr64, wr8, writeG } from './operands.ts';

/** A 128-bit value as four 32-bit words, W[0] least significant: product or dividend. */
const W = new Int32Array(4);
/** Quotient (Q[0], Q[1]) and remainder (Q[2], Q[3]) of `udiv`. */
const Q = new Int32Array(4);
const LA = new Float64Array(4);
const LB = new Float64Array(4);

function limbs(out: Float64Array, lo: number, hi: number): void {
  out[0] = lo & 0xffff; out[1] = lo >>> 16; out[2] = hi & 0xffff; out[3] = hi >>> 16;
}

/** W := a * b, unsigned 64 x 64 -> 128: 16-bit limb products (< 2^32) summed per column stay exact in doubles. */
function mulU64(aLo: number, aHi: number, bLo: number, bHi: number): void {
  limbs(LA, aLo, aHi);
  limbs(LB, bLo, bHi);
  let carry = 0;
  for (let k = 0; k < 8; k++) {
    let sum = carry;
    for (let j = k < 4 ? 0 : k - 3; j <= k && j < 4; j++) sum += LA[j]! * LB[k - j]!;
    const limb = sum % 65536;
    carry = (sum - limb) / 65536;
    if (k & 1) W[k >> 1] = W[k >> 1]! | (limb << 16); else W[k >> 1] = limb;
  }
}

/** Subtracts the 64-bit (lo, hi) from the high half of W. */
function subHigh(lo: number, hi: number): void {
  const d = (W[2]! >>> 0) - (lo >>> 0);
  W[2] = d | 0;
  W[3] = (W[3]! - hi - (d < 0 ? 1 : 0)) | 0;
}

/** Negates the 128-bit W in place (two's complement). */
function negate128(): void {
  let carry = 1;
  for (let k = 0; k < 4; k++) {
    const s = (~W[k]! >>> 0) + carry;
    W[k] = s | 0;
    carry = s > 0xffffffff ? 1 : 0;
  }
}

/** Extends a `size`-byte operand (as read) to 64 bits: returns the low half, high half in c.opHi. */
function extend(c: Cpu, v: number, vHi: number, size: number, signed: boolean): number {
  if (size === 8) { c.opHi = vHi; return v; }
  const lo = signed ? signExtend(v, size) : size === 4 ? v : v & (size === 1 ? 0xff : 0xffff);
  c.opHi = signed ? lo >> 31 : 0;
  return lo;
}

/** W := a * b exactly, for `size`-byte operands read as (lo, hi). */
function product(c: Cpu, signed: boolean, a: number, aHi: number, b: number, bHi: number, size: number): void {
  a = extend(c, a, aHi, size, signed); aHi = c.opHi;
  b = extend(c, b, bHi, size, signed); bHi = c.opHi;
  mulU64(a, aHi, b, bHi);
  // Signed: the unsigned product of the 64-bit patterns over-counts 2^64 * b when a < 0 (and vice versa).
  if (signed) {
    if (aHi < 0) subHigh(b, bHi);
    if (bHi < 0) subHigh(a, aHi);
  }
}

/** True when W equals its low `size` bytes zero- or sign-extended. */
function fitsIn(size: number, signed: boolean): boolean {
  const w0 = W[0]!;
  const top = size === 8 ? W[1]! : size === 4 ? w0 : signed ? signExtend(w0, size) : w0 & (size === 1 ? 0xff : 0xffff);
  if (size < 4 && top !== w0) return false;
  const ext = signed ? top >> 31 : 0;
  for (let k = size === 8 ? 2 : 1; k < 4; k++) if (W[k] !== ext) return false;
  return true;
}

/** Flags after a multiply (see the header for the undefined ones). */
function mulFlags(c: Cpu, size: number, signed: boolean): void {
  c.fAux = fitsIn(size, signed) ? 0 : CF | OF;
  setResult(c, size, W[0]!, W[1]!);
}

/**
 * Writes a double-width accumulator pair: AL/AH, AX/DX, EAX/EDX or RAX/RDX
 * (low part first). 32-bit writes zero-extend in 64-bit mode.
 */
function writeAccPair(c: Cpu, size: number, lo: number, loHi: number, hi: number, hiHi: number): void {
  switch (size) {
    case 1: wr8(c, Reg.RAX, 0, lo); wr8(c, Reg.RAX, 8, hi); break;
    case 2: wr16(c, Reg.RAX, lo); wr16(c, Reg.RDX, hi); break;
    case 4: wr32(c, Reg.RAX, lo); wr32(c, Reg.RDX, hi); break;
    default: wr64(c, Reg.RAX, lo, loHi); wr64(c, Reg.RDX, hi, hiHi); break;
  }
}

/** F6/F7 /4 MUL and /5 IMUL: AX := AL * r/m8, rDX:rAX := rAX * r/m (i.sub 1 = signed). */
const mulAcc: ExecFn = (c, i) => {
  const size = i.opSize, signed = i.sub === 1;
  const b = readE(c, i, addrOf(c, i));
  const bHi = c.opHi;
  const a = readReg(c, Reg.RAX, size, 0);
  product(c, signed, a, c.opHi, b, bHi, size);
  mulFlags(c, size, signed);
  const w0 = W[0]!;
  switch (size) {
    case 1: writeAccPair(c, 1, w0, 0, w0 >>> 8, 0); break;
    case 2: writeAccPair(c, 2, w0, 0, w0 >>> 16, 0); break;
    case 4: writeAccPair(c, 4, w0, 0, W[1]!, 0); break;
    default: writeAccPair(c, 8, w0, W[1]!, W[2]!, W[3]!); break;
  }
};

/** IMUL r, r/m, imm (69, 6B) and IMUL r, r/m (0F AF): the truncated product goes to G. */
function imulInto(c: Cpu, i: Insn, b: number, bHi: number): void {
  const a = readE(c, i, addrOf(c, i));
  product(c, true, a, c.opHi, b, bHi, i.opSize);
  mulFlags(c, i.opSize, true);
  writeG(c, i, W[0]!, W[1]!);
}

const imulGE: ExecFn = (c, i) => {
  const b = readG(c, i);
  imulInto(c, i, b, c.opHi);
};
const imulGEI: ExecFn = (c, i) => imulInto(c, i, i.imm, i.immHi);

/**
 * Q := W / d for a 128-bit W whose high 64 bits are below the divisor, so
 * the quotient fits in 64 bits. A divisor below 2^32 takes short division
 * by 16-bit digits (partial remainders stay below 2^48, so floor(t / d) is
 * exact in doubles); a wider one takes restoring binary division.
 */
function udiv(dLo: number, dHi: number): void {
  if (dHi === 0) {
    const d = dLo >>> 0;
    let r = W[2]! >>> 0; // W[3] is 0 and W[2] < d here
    for (let k = 1; k >= 0; k--) {
      const w = W[k]! >>> 0;
      let t = r * 65536 + (w >>> 16);
      const q1 = Math.floor(t / d);
      r = t - q1 * d;
      t = r * 65536 + (w & 0xffff);
      const q0 = Math.floor(t / d);
      r = t - q0 * d;
      Q[k] = (q1 << 16) | q0;
    }
    Q[2] = r | 0;
    Q[3] = 0;
    return;
  }
  const dl = dLo >>> 0, dh = dHi >>> 0;
  let rLo = W[2]!, rHi = W[3]!, qLo = 0, qHi = 0;
  for (let k = 63; k >= 0; k--) {
    const inBit = k >= 32 ? (W[1]! >>> (k - 32)) & 1 : (W[0]! >>> k) & 1;
    const out = rHi >>> 31;
    rHi = (rHi << 1) | (rLo >>> 31);
    rLo = (rLo << 1) | inBit;
    qHi = (qHi << 1) | (qLo >>> 31);
    qLo <<= 1;
    if (out !== 0 || (rHi >>> 0) > dh || ((rHi >>> 0) === dh && (rLo >>> 0) >= dl)) {
      const t = (rLo >>> 0) - dl;
      rLo = t | 0;
      rHi = (rHi - dHi - (t < 0 ? 1 : 0)) | 0;
      qLo |= 1;
    }
  }
  Q[0] = qLo; Q[1] = qHi; Q[2] = rLo; Q[3] = rHi;
}

/** Loads the dividend AX, DX:AX, EDX:EAX or RDX:RAX into W, extended to 128 bits. */
function loadDividend(c: Cpu, size: number, signed: boolean): void {
  const r = c.r;
  let lo: number, hi: number, ext: number;
  switch (size) {
    case 1: lo = r[0]! & 0xffff; if (signed) lo = (lo << 16) >> 16; hi = signed ? lo >> 31 : 0; ext = hi; break;
    case 2: lo = (r[0]! & 0xffff) | (r[4]! << 16); hi = signed ? lo >> 31 : 0; ext = hi; break;
    case 4: lo = r[0]!; hi = r[4]!; ext = signed ? hi >> 31 : 0; break;
    default: W[0] = r[0]!; W[1] = r[1]!; W[2] = r[4]!; W[3] = r[5]!; return;
  }
  W[0] = lo; W[1] = hi; W[2] = ext; W[3] = ext;
}

/** Does a quotient of magnitude (qLo, qHi) fit a `size`-byte destination? */
function quotientFits(qLo: number, qHi: number, size: number, signed: boolean, negative: boolean): boolean {
  const bits = size * 8;
  if (bits === 64) {
    if (!signed) return true; // the high-half check before udiv already bounds it
    const h = qHi >>> 0;
    return h < 0x80000000 || (negative && h === 0x80000000 && qLo === 0);
  }
  if (qHi !== 0) return false;
  const q = qLo >>> 0;
  const top = signed ? 2 ** (bits - 1) : 2 ** bits;
  return q < top || (negative && q === top);
}

/**
 * F6/F7 /6 DIV and /7 IDIV (i.sub 1 = signed). #DE for a zero divisor or a
 * quotient that does not fit, raised before anything is written. The
 * quotient truncates toward zero; the remainder takes the dividend's sign.
 */
const divAcc: ExecFn = (c, i) => {
  const size = i.opSize, signed = i.sub === 1;
  const raw = readE(c, i, addrOf(c, i));
  let dLo = extend(c, raw, c.opHi, size, signed);
  let dHi = c.opHi;
  if (dLo === 0 && dHi === 0) fault(Vector.DE);
  loadDividend(c, size, signed);
  const negR = signed && W[3]! < 0;
  const negQ = signed && negR !== dHi < 0;
  if (negR) negate128();
  if (signed && dHi < 0) {
    dLo = -dLo | 0;
    dHi = (~dHi + (dLo === 0 ? 1 : 0)) | 0;
  }
  const h3 = W[3]! >>> 0, dh = dHi >>> 0;
  if (h3 > dh || (h3 === dh && (W[2]! >>> 0) >= (dLo >>> 0))) fault(Vector.DE);
  udiv(dLo, dHi);
  if (!quotientFits(Q[0]!, Q[1]!, size, signed, negQ)) fault(Vector.DE);
  let qLo = Q[0]!, qHi = Q[1]!, rLo = Q[2]!, rHi = Q[3]!;
  if (negQ) { qLo = -qLo | 0; qHi = (~qHi + (qLo === 0 ? 1 : 0)) | 0; }
  if (negR) { rLo = -rLo | 0; rHi = (~rHi + (rLo === 0 ? 1 : 0)) | 0; }
  writeAccPair(c, size, qLo, qHi, rLo, rHi);
};

export const MULDIV_OPCODES: OpcodeDef[] = [
  { op: 'F6 /4', mnemonic: 'mul', operands: 'Eb', select: selectWithSub(0, mulAcc) },
  { op: 'F7 /4', mnemonic: 'mul', operands: 'Ev', select: selectWithSub(0, mulAcc) },
  { op: 'F6 /5', mnemonic: 'imul', operands: 'Eb', select: selectWithSub(1, mulAcc) },
  { op: 'F7 /5', mnemonic: 'imul', operands: 'Ev', select: selectWithSub(1, mulAcc) },
  { op: 'F6 /6', mnemonic: 'div', operands: 'Eb', select: selectWithSub(0, divAcc) },
  { op: 'F7 /6', mnemonic: 'div', operands: 'Ev', select: selectWithSub(0, divAcc) },
  { op: 'F6 /7', mnemonic: 'idiv', operands: 'Eb', select: selectWithSub(1, divAcc) },
  { op: 'F7 /7', mnemonic: 'idiv', operands: 'Ev', select: selectWithSub(1, divAcc) },
  { op: '0F AF /r', mnemonic: 'imul', operands: 'Gv,Ev', exec: imulGE },
  { op: '69 /r', mnemonic: 'imul', operands: 'Gv,Ev,Iz', exec: imulGEI },
  { op: '6B /r', mnemonic: 'imul', operands: 'Gv,Ev,Ibs', exec: imulGEI },
];
