/**
 * Integer arithmetic and logic: ADD OR ADC SBB AND SUB XOR CMP, TEST, INC,
 * DEC, NEG, NOT (SDM Vol. 2, each instruction's "Flags Affected").
 */
import type { Cpu } from '../cpu.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import type { ExecFn, Insn } from '../decode/insn.ts';
import { CF } from '../flags.ts';
import {
  addrOf, pickWithSub, readE, readERmw, readG, readReg, selectWithSub, wr64, writeE, writeReg,
} from './operands.ts';

export const enum AluOp { Add = 0, Or = 1, Adc = 2, Sbb = 3, And = 4, Sub = 5, Xor = 6, Cmp = 7 }
const ALU_NAMES = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];

/**
 * a op b for 1-, 2- and 4-byte operands; sets flags, returns the truncated
 * result. Written without helper calls, like alu64: the carry vector is
 * shifted so the operand's top bit sits at bit 31, where CF is its top bit
 * and OF the carry into it XOR the carry out (SDM Vol. 1 §3.4.3.1).
 */
export function alu(c: Cpu, op: number, a: number, b: number, size: number): number {
  const shift = 32 - 8 * size;
  const mask = size === 4 ? -1 : (1 << (8 * size)) - 1;
  let r: number;
  switch (op) {
    case AluOp.Or: r = (a | b) & mask; c.fAux = 0; break;
    case AluOp.And: r = a & b & mask; c.fAux = 0; break;
    case AluOp.Xor: r = (a ^ b) & mask; c.fAux = 0; break;
    case AluOp.Add: case AluOp.Adc: {
      r = (a + b + (op === AluOp.Adc ? c.fAux & CF : 0)) & mask;
      const cv = (a & b) | ((a ^ b) & ~r);
      const top = cv << shift;
      c.fAux = (top >>> 31) | (((top ^ (top << 1)) >>> 31) << 11) | ((cv & 8) << 1);
      break;
    }
    default: {
      r = (a - b - (op === AluOp.Sbb ? c.fAux & CF : 0)) & mask;
      const bv = (~a & b) | (~(a ^ b) & r);
      const top = bv << shift;
      c.fAux = (top >>> 31) | (((top ^ (top << 1)) >>> 31) << 11) | ((bv & 8) << 1);
      break;
    }
  }
  // ZF/SF/PF (flags.ts setResult): the result, its sign at bit 31, its low byte.
  c.fZ = r;
  c.fS = r << shift;
  c.fP = r;
  return r;
}

/**
 * a op b on 64-bit operands given as halves; returns the low half, high half
 * in c.opHi. Written without helper calls: it is the hottest kernel of
 * 64-bit code (loop counters, pointer arithmetic).
 */
export function alu64(c: Cpu, op: number, aLo: number, aHi: number, bLo: number, bHi: number): number {
  let lo: number, hi: number;
  switch (op) {
    case AluOp.Or: lo = aLo | bLo; hi = aHi | bHi; c.fAux = 0; break;
    case AluOp.And: lo = aLo & bLo; hi = aHi & bHi; c.fAux = 0; break;
    case AluOp.Xor: lo = aLo ^ bLo; hi = aHi ^ bHi; c.fAux = 0; break;
    case AluOp.Add: case AluOp.Adc: {
      const sum = (aLo >>> 0) + (bLo >>> 0) + (op === AluOp.Adc ? c.fAux & CF : 0);
      lo = sum | 0;
      hi = (aHi + bHi + (sum > 0xffffffff ? 1 : 0)) | 0;
      const cvLo = (aLo & bLo) | ((aLo ^ bLo) & ~lo);
      const cvHi = (aHi & bHi) | ((aHi ^ bHi) & ~hi);
      c.fAux = (cvHi >>> 31) | (((cvHi ^ (cvHi << 1)) >>> 31) << 11) | ((cvLo & 8) << 1);
      break;
    }
    default: {
      const diff = (aLo >>> 0) - (bLo >>> 0) - (op === AluOp.Sbb ? c.fAux & CF : 0);
      lo = diff | 0;
      hi = (aHi - bHi - (diff < 0 ? 1 : 0)) | 0;
      const bvLo = (~aLo & bLo) | (~(aLo ^ bLo) & lo);
      const bvHi = (~aHi & bHi) | (~(aHi ^ bHi) & hi);
      c.fAux = (bvHi >>> 31) | (((bvHi ^ (bvHi << 1)) >>> 31) << 11) | ((bvLo & 8) << 1);
      break;
    }
  }
  // ZF/SF/PF of a 64-bit result (flags.ts setResult, size 8).
  c.fZ = lo | hi;
  c.fS = hi;
  c.fP = lo;
  c.opHi = hi;
  return lo;
}

/** E = E op src (src given as halves); CMP and TEST only set flags. */
function aluIntoE(c: Cpu, i: Insn, op: number, bLo: number, bHi: number): void {
  const la = addrOf(c, i);
  const size = i.opSize;
  if (op === AluOp.Cmp) {
    const a = readE(c, i, la);
    if (size === 8) alu64(c, op, a, c.opHi, bLo, bHi); else alu(c, op, a, bLo, size);
    return;
  }
  const a = readERmw(c, i, la);
  if (size === 8) {
    const lo = alu64(c, op, a, c.opHi, bLo, bHi);
    writeE(c, i, la, lo, c.opHi);
  } else {
    writeE(c, i, la, alu(c, op, a, bLo, size), 0);
  }
}

// ---- forms --------------------------------------------------------------

const aluEG: ExecFn = (c, i) => {
  const b = readG(c, i);
  aluIntoE(c, i, i.sub, b, c.opHi);
};

const aluGE: ExecFn = (c, i) => {
  const la = addrOf(c, i);
  const b = readE(c, i, la);
  const bHi = c.opHi;
  const size = i.opSize;
  const a = readG(c, i);
  if (size === 8) {
    const lo = alu64(c, i.sub, a, c.opHi, b, bHi);
    if (i.sub !== AluOp.Cmp) wr64(c, i.reg, lo, c.opHi);
  } else {
    const r = alu(c, i.sub, a, b, size);
    if (i.sub !== AluOp.Cmp) writeReg(c, i.reg, size, i.regShift, r, 0);
  }
};

const aluEI: ExecFn = (c, i) => aluIntoE(c, i, i.sub, i.imm, i.immHi);

/** AL/AX/EAX/RAX op immediate: the accumulator is register 0. */
const aluAI: ExecFn = (c, i) => {
  const size = i.opSize;
  const a = readReg(c, 0, size, 0);
  if (size === 8) {
    const lo = alu64(c, i.sub, a, c.opHi, i.imm, i.immHi);
    if (i.sub !== AluOp.Cmp) wr64(c, 0, lo, c.opHi);
  } else {
    const r = alu(c, i.sub, a, i.imm, size);
    if (i.sub !== AluOp.Cmp) writeReg(c, 0, size, 0, r, 0);
  }
};

/**
 * Register forms at 32 and 64 bits, the hot path of compiled code: the same
 * kernels as above without the operand-size and register/memory dispatch.
 */
const aluEG32reg: ExecFn = (c, i) => {
  const r = c.r, d = i.rm << 1;
  const res = alu(c, i.sub, r[d]!, r[i.reg << 1]!, 4);
  if (i.sub !== AluOp.Cmp) { r[d] = res; r[d + 1] = 0; }
};

const aluEG64reg: ExecFn = (c, i) => {
  const r = c.r, d = i.rm << 1, s = i.reg << 1;
  const lo = alu64(c, i.sub, r[d]!, r[d + 1]!, r[s]!, r[s + 1]!);
  if (i.sub !== AluOp.Cmp) { r[d] = lo; r[d + 1] = c.opHi; }
};

const aluEI32reg: ExecFn = (c, i) => {
  const r = c.r, d = i.rm << 1;
  const res = alu(c, i.sub, r[d]!, i.imm, 4);
  if (i.sub !== AluOp.Cmp) { r[d] = res; r[d + 1] = 0; }
};

const aluEI64reg: ExecFn = (c, i) => {
  const r = c.r, d = i.rm << 1;
  const lo = alu64(c, i.sub, r[d]!, r[d + 1]!, i.imm, i.immHi);
  if (i.sub !== AluOp.Cmp) { r[d] = lo; r[d + 1] = c.opHi; }
};

const selectEG = (i: Insn): ExecFn =>
  i.isMem ? aluEG : i.opSize === 4 ? aluEG32reg : i.opSize === 8 ? aluEG64reg : aluEG;
const selectEI = (i: Insn): ExecFn =>
  i.isMem ? aluEI : i.opSize === 4 ? aluEI32reg : i.opSize === 8 ? aluEI64reg : aluEI;

function testForm(getB: (c: Cpu, i: Insn) => number): ExecFn {
  return (c, i) => {
    const b = getB(c, i);
    const bHi = c.opHi;
    const a = readE(c, i, addrOf(c, i));
    if (i.opSize === 8) alu64(c, AluOp.And, a, c.opHi, b, bHi);
    else alu(c, AluOp.And, a, b, i.opSize);
  };
}
const testEG = testForm((c, i) => readG(c, i));
const testEI: ExecFn = testForm((c, i) => { c.opHi = i.immHi; return i.imm; });
const testAI: ExecFn = (c, i) => {
  const a = readReg(c, 0, i.opSize, 0);
  if (i.opSize === 8) alu64(c, AluOp.And, a, c.opHi, i.imm, i.immHi);
  else alu(c, AluOp.And, a, i.imm, i.opSize);
};

/** INC/DEC leave CF unchanged (SDM Vol. 2A INC, DEC). */
function incDec(c: Cpu, i: Insn, la: number, isMemOrReg: 'E' | 'Z', delta: 1 | -1): void {
  const size = i.opSize;
  const cf = c.fAux & CF;
  if (isMemOrReg === 'Z') {
    const k = i.reg << 1;
    if (size === 8) {
      const lo = alu64(c, delta > 0 ? AluOp.Add : AluOp.Sub, c.r[k]!, c.r[k + 1]!, 1, 0);
      c.r[k] = lo; c.r[k + 1] = c.opHi;
    } else {
      writeReg(c, i.reg, size, 0, alu(c, delta > 0 ? AluOp.Add : AluOp.Sub, readReg(c, i.reg, size, 0), 1, size), 0);
    }
  } else {
    const a = readERmw(c, i, la);
    if (size === 8) {
      const lo = alu64(c, delta > 0 ? AluOp.Add : AluOp.Sub, a, c.opHi, 1, 0);
      writeE(c, i, la, lo, c.opHi);
    } else {
      writeE(c, i, la, alu(c, delta > 0 ? AluOp.Add : AluOp.Sub, a, 1, size), 0);
    }
  }
  c.fAux = (c.fAux & ~CF) | cf;
}

const incE: ExecFn = (c, i) => incDec(c, i, addrOf(c, i), 'E', 1);
const decE: ExecFn = (c, i) => incDec(c, i, addrOf(c, i), 'E', -1);
const incZ: ExecFn = (c, i) => incDec(c, i, 0, 'Z', 1);
const decZ: ExecFn = (c, i) => incDec(c, i, 0, 'Z', -1);

/** INC/DEC of a 32- or 64-bit register (FF /0, FF /1 with mod 3): loop counters. */
const incDecReg: ExecFn = (c, i) => {
  const r = c.r, k = i.rm << 1;
  const cf = c.fAux & CF;
  if (i.opSize === 8) {
    const lo = alu64(c, i.sub, r[k]!, r[k + 1]!, 1, 0);
    r[k] = lo; r[k + 1] = c.opHi;
  } else {
    r[k] = alu(c, i.sub, r[k]!, 1, 4); r[k + 1] = 0;
  }
  c.fAux = (c.fAux & ~CF) | cf;
};

const selectIncDec = (sub: AluOp.Add | AluOp.Sub, generic: ExecFn) =>
  pickWithSub(sub, (i) => (!i.isMem && i.opSize >= 4 ? incDecReg : generic));

const negE: ExecFn = (c, i) => {
  const la = addrOf(c, i);
  const a = readERmw(c, i, la);
  if (i.opSize === 8) {
    const lo = alu64(c, AluOp.Sub, 0, 0, a, c.opHi);
    writeE(c, i, la, lo, c.opHi);
  } else {
    writeE(c, i, la, alu(c, AluOp.Sub, 0, a, i.opSize), 0);
  }
  // CF is set unless the operand was zero (SDM Vol. 2B NEG).
};

const notE: ExecFn = (c, i) => {
  const la = addrOf(c, i);
  const a = readERmw(c, i, la);
  writeE(c, i, la, ~a, ~c.opHi);
};

export const ALU_OPCODES: OpcodeDef[] = [];
for (let op = 0; op < 8; op++) {
  const m = ALU_NAMES[op]!;
  const lock = op === AluOp.Cmp ? [] : ['lock' as const];
  const b = op * 8;
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(2, '0');
  ALU_OPCODES.push(
    { op: `${hex(b)} /r`, mnemonic: m, operands: 'Eb,Gb', flags: lock, select: selectWithSub(op, aluEG) },
    { op: `${hex(b + 1)} /r`, mnemonic: m, operands: 'Ev,Gv', flags: lock, select: pickWithSub(op, selectEG) },
    { op: `${hex(b + 2)} /r`, mnemonic: m, operands: 'Gb,Eb', select: selectWithSub(op, aluGE) },
    { op: `${hex(b + 3)} /r`, mnemonic: m, operands: 'Gv,Ev', select: selectWithSub(op, aluGE) },
    { op: `${hex(b + 4)}`, mnemonic: m, operands: 'AL,Ib', select: selectWithSub(op, aluAI) },
    { op: `${hex(b + 5)}`, mnemonic: m, operands: 'rAX,Iz', select: selectWithSub(op, aluAI) },
    { op: `80 /${op}`, mnemonic: m, operands: 'Eb,Ib', flags: lock, select: selectWithSub(op, aluEI) },
    { op: `81 /${op}`, mnemonic: m, operands: 'Ev,Iz', flags: lock, select: pickWithSub(op, selectEI) },
    { op: `82 /${op}`, mnemonic: m, operands: 'Eb,Ib', flags: [...lock, 'i64'], select: selectWithSub(op, aluEI) },
    { op: `83 /${op}`, mnemonic: m, operands: 'Ev,Ibs', flags: lock, select: pickWithSub(op, selectEI) },
  );
}
ALU_OPCODES.push(
  { op: '84 /r', mnemonic: 'test', operands: 'Eb,Gb', exec: testEG },
  { op: '85 /r', mnemonic: 'test', operands: 'Ev,Gv', exec: testEG },
  { op: 'A8', mnemonic: 'test', operands: 'AL,Ib', exec: testAI },
  { op: 'A9', mnemonic: 'test', operands: 'rAX,Iz', exec: testAI },
  { op: 'F6 /0', mnemonic: 'test', operands: 'Eb,Ib', exec: testEI },
  { op: 'F6 /1', mnemonic: 'test', operands: 'Eb,Ib', exec: testEI },
  { op: 'F7 /0', mnemonic: 'test', operands: 'Ev,Iz', exec: testEI },
  { op: 'F7 /1', mnemonic: 'test', operands: 'Ev,Iz', exec: testEI },
  { op: 'F6 /2', mnemonic: 'not', operands: 'Eb', flags: ['lock'], exec: notE },
  { op: 'F7 /2', mnemonic: 'not', operands: 'Ev', flags: ['lock'], exec: notE },
  { op: 'F6 /3', mnemonic: 'neg', operands: 'Eb', flags: ['lock'], exec: negE },
  { op: 'F7 /3', mnemonic: 'neg', operands: 'Ev', flags: ['lock'], exec: negE },
  { op: 'FE /0', mnemonic: 'inc', operands: 'Eb', flags: ['lock'], exec: incE },
  { op: 'FE /1', mnemonic: 'dec', operands: 'Eb', flags: ['lock'], exec: decE },
  { op: 'FF /0', mnemonic: 'inc', operands: 'Ev', flags: ['lock'], select: selectIncDec(AluOp.Add, incE) },
  { op: 'FF /1', mnemonic: 'dec', operands: 'Ev', flags: ['lock'], select: selectIncDec(AluOp.Sub, decE) },
  { op: '40+r', mnemonic: 'inc', operands: 'Zv', flags: ['i64'], exec: incZ },
  { op: '48+r', mnemonic: 'dec', operands: 'Zv', flags: ['i64'], exec: decZ },
);
