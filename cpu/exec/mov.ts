/**
 * Data movement: MOV, MOVZX/MOVSX/MOVSXD, LEA, XCHG, CMOVcc, BSWAP, MOVBE,
 * CBW/CWDE/CDQE, CWD/CDQ/CQO (SDM Vol. 2). None of these changes flags.
 */
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import type { ExecFn } from '../decode/insn.ts';
import { testCondition } from '../flags.ts';
import { TWO32 } from '../registers.ts';
import {
  addrOf, readE, readERmw, readG, readMem, readReg, signExtend, wr32, wr64, writeE, writeG, writeMem, writeReg,
} from './operands.ts';

const movEG: ExecFn = (c, i) => {
  const v = readG(c, i);
  writeE(c, i, addrOf(c, i), v, c.opHi);
};

const movGE: ExecFn = (c, i) => {
  const v = readE(c, i, addrOf(c, i));
  writeG(c, i, v, c.opHi);
};

/** MOV r64, [mem] and MOV [mem], r64 without the size switches: the hot loads and stores. */
const movG64M: ExecFn = (c, i) => {
  const la = i.ea(c, i);
  const lo = c.mmu.read64(la);
  const k = i.reg << 1;
  c.r[k] = lo;
  c.r[k + 1] = c.mmu.hi;
};

const movM64G: ExecFn = (c, i) => {
  const k = i.reg << 1;
  c.mmu.write64(i.ea(c, i), c.r[k]!, c.r[k + 1]!);
};

const movRR64: ExecFn = (c, i) => {
  const s = i.reg << 1, d = i.rm << 1;
  c.r[d] = c.r[s]!;
  c.r[d + 1] = c.r[s + 1]!;
};

const movEI: ExecFn = (c, i) => writeE(c, i, addrOf(c, i), i.imm, i.immHi);
const movZI: ExecFn = (c, i) => writeReg(c, i.reg, i.opSize, i.regShift, i.imm, i.immHi);

/** MOV with a moffs operand (A0-A3): the decoder made the offset a memory operand. */
const movAO: ExecFn = (c, i) => writeReg(c, 0, i.opSize, 0, readMem(c, i.ea(c, i), i.opSize), c.opHi);
const movOA: ExecFn = (c, i) => {
  const v = readReg(c, 0, i.opSize, 0);
  writeMem(c, i.ea(c, i), i.opSize, v, c.opHi);
};

/** MOVZX/MOVSX: the source size is the opcode's (b for B6/BE, w for B7/BF). */
function extend(signed: boolean, srcSize: number): ExecFn {
  return (c, i) => {
    const la = addrOf(c, i);
    const raw = i.isMem
      ? (srcSize === 1 ? c.mmu.read8(la) : c.mmu.read16(la))
      : (srcSize === 1 ? readReg(c, i.rm, 1, i.rmShift) : readReg(c, i.rm, 2, 0));
    const v = signed ? signExtend(raw, srcSize) : raw;
    writeReg(c, i.reg, i.opSize, 0, v, signed && v < 0 ? -1 : 0);
  };
}
const movzxB = extend(false, 1), movzxW = extend(false, 2);
const movsxB = extend(true, 1), movsxW = extend(true, 2);

/** MOVSXD r64, r/m32 (REX.W); without REX.W it moves r/m32 or, with 66, r/m16 (SDM Vol. 2B MOVSX/MOVSXD). */
const movsxd: ExecFn = (c, i) => {
  const la = addrOf(c, i);
  const v = i.isMem ? (i.opSize === 2 ? c.mmu.read16(la) : c.mmu.read32(la)) : c.r[i.rm << 1]!;
  if (i.opSize === 8) wr64(c, i.reg, v, v < 0 ? -1 : 0);
  else writeReg(c, i.reg, i.opSize, 0, v, 0);
};

/**
 * LEA: the offset only, computed at the address size and then truncated or
 * zero-extended to the operand size. LEA accesses no memory, so it applies
 * no segment base and no canonical check and never faults.
 */
const lea: ExecFn = (c, i) => {
  const r = c.r;
  let off: number;
  if (i.base < 0 && i.index < 0 && i.mode === 64 && (i.modrm & 0xc7) === 0x05) {
    off = c.rip + (i.dispLo | 0); // EIP-relative with a 67 prefix
  } else {
    off = i.dispLo;
    if (i.base >= 0) off += r[i.base << 1]!;
    if (i.index >= 0) off += Math.imul(r[i.index << 1]!, i.scale);
  }
  writeReg(c, i.reg, i.opSize, 0, i.addrSize === 2 ? off & 0xffff : off | 0, 0);
};

/** 64-bit address size: the sum is formed in 32-bit halves so it stays exact. */
const lea64: ExecFn = (c, i) => {
  const r = c.r;
  let lo = i.dispLo, hi = i.dispHi;
  if (i.base < 0 && i.index < 0 && (i.modrm & 0xc7) === 0x05) {
    const off = c.rip + (i.dispLo | 0); // RIP-relative; RIP is canonical
    lo = off >>> 0;
    hi = Math.floor(off / TWO32);
  }
  if (i.base >= 0) { lo += r[i.base << 1]! >>> 0; hi += r[(i.base << 1) + 1]!; }
  if (i.index >= 0) { lo += (r[i.index << 1]! >>> 0) * i.scale; hi += r[(i.index << 1) + 1]! * i.scale; }
  writeReg(c, i.reg, i.opSize, 0, lo | 0, (hi + Math.floor(lo / TWO32)) | 0);
};

/** XCHG with memory is locked whether or not LOCK is given. */
const xchgEG: ExecFn = (c, i) => {
  const la = addrOf(c, i);
  const a = readERmw(c, i, la);
  const aHi = c.opHi;
  const b = readG(c, i);
  writeE(c, i, la, b, c.opHi);
  writeG(c, i, a, aHi);
};

/** 90+r: XCHG rAX, r. 90 itself without REX.B is NOP (no zero-extension of EAX in 64-bit mode). */
const xchgZA: ExecFn = (c, i) => {
  const a = readReg(c, 0, i.opSize, 0);
  const aHi = c.opHi;
  const b = readReg(c, i.reg, i.opSize, 0);
  writeReg(c, 0, i.opSize, 0, b, c.opHi);
  writeReg(c, i.reg, i.opSize, 0, a, aHi);
};

/** CMOVcc reads its source even when the condition is false; a 32-bit CMOV always zero-extends. */
const cmov: ExecFn = (c, i) => {
  const v = readE(c, i, addrOf(c, i));
  if (testCondition(c, i.cond)) writeG(c, i, v, c.opHi);
  else if (i.opSize === 4) c.r[(i.reg << 1) + 1] = 0;
};

function bswap32(v: number): number {
  return ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
}

/** BSWAP r16 is undefined in the SDM; it clears the register's low word as Intel cores do. */
const bswap: ExecFn = (c, i) => {
  const k = i.reg << 1;
  if (i.opSize === 8) {
    const lo = c.r[k]!, hi = c.r[k + 1]!;
    c.r[k] = bswap32(hi);
    c.r[k + 1] = bswap32(lo);
  } else if (i.opSize === 4) {
    wr32(c, i.reg, bswap32(c.r[k]!));
  } else {
    writeReg(c, i.reg, 2, 0, 0, 0);
  }
};

function swapBytes(v: number, size: number, hi: number): number {
  if (size === 2) return ((v & 0xff) << 8) | ((v >> 8) & 0xff);
  if (size === 4) return bswap32(v);
  return bswap32(hi);
}

/** MOVBE r, m (0F 38 F0) and MOVBE m, r (0F 38 F1). */
const movbeLoad: ExecFn = (c, i) => {
  const v = readMem(c, i.ea(c, i), i.opSize);
  const hi = c.opHi;
  if (i.opSize === 8) wr64(c, i.reg, bswap32(hi), bswap32(v));
  else writeReg(c, i.reg, i.opSize, 0, swapBytes(v, i.opSize, 0), 0);
};
const movbeStore: ExecFn = (c, i) => {
  const v = readReg(c, i.reg, i.opSize, 0);
  const hi = c.opHi;
  if (i.opSize === 8) writeMem(c, i.ea(c, i), 8, bswap32(hi), bswap32(v));
  else writeMem(c, i.ea(c, i), i.opSize, swapBytes(v, i.opSize, 0), 0);
};

const nop: ExecFn = () => {};

/** CBW/CWDE/CDQE: sign-extend the lower half of the accumulator into all of it. */
const cbw: ExecFn = (c, i) => {
  const a = c.r[0]!;
  if (i.opSize === 2) writeReg(c, 0, 2, 0, (a << 24) >> 24, 0);
  else if (i.opSize === 4) wr32(c, 0, (a << 16) >> 16);
  else c.r[1] = a < 0 ? -1 : 0;
};

/** CWD/CDQ/CQO: sign of the accumulator into rDX. */
const cwd: ExecFn = (c, i) => {
  if (i.opSize === 2) writeReg(c, 2, 2, 0, (c.r[0]! << 16) >> 31, 0);
  else if (i.opSize === 4) wr32(c, 2, c.r[0]! >> 31);
  else wr64(c, 2, c.r[1]! >> 31, c.r[1]! >> 31);
};

export const MOV_OPCODES: OpcodeDef[] = [
  { op: '88 /r', mnemonic: 'mov', operands: 'Eb,Gb', exec: movEG },
  { op: '89 /r', mnemonic: 'mov', operands: 'Ev,Gv', select: (i) => (i.opSize !== 8 ? movEG : i.isMem ? movM64G : movRR64) },
  { op: '8A /r', mnemonic: 'mov', operands: 'Gb,Eb', exec: movGE },
  { op: '8B /r', mnemonic: 'mov', operands: 'Gv,Ev', select: (i) => (i.opSize === 8 && i.isMem ? movG64M : movGE) },
  { op: 'C6 /0', mnemonic: 'mov', operands: 'Eb,Ib', exec: movEI },
  { op: 'C7 /0', mnemonic: 'mov', operands: 'Ev,Iz', exec: movEI },
  { op: 'B0+r', mnemonic: 'mov', operands: 'Zb,Ib', exec: movZI },
  { op: 'B8+r', mnemonic: 'mov', operands: 'Zv,Iv', exec: movZI },
  { op: 'A0', mnemonic: 'mov', operands: 'AL,Ob', exec: movAO },
  { op: 'A1', mnemonic: 'mov', operands: 'rAX,Ov', exec: movAO },
  { op: 'A2', mnemonic: 'mov', operands: 'Ob,AL', exec: movOA },
  { op: 'A3', mnemonic: 'mov', operands: 'Ov,rAX', exec: movOA },
  { op: '0F B6 /r', mnemonic: 'movzx', operands: 'Gv,Eb', exec: movzxB },
  { op: '0F B7 /r', mnemonic: 'movzx', operands: 'Gv,Ew', exec: movzxW },
  { op: '0F BE /r', mnemonic: 'movsx', operands: 'Gv,Eb', exec: movsxB },
  { op: '0F BF /r', mnemonic: 'movsx', operands: 'Gv,Ew', exec: movsxW },
  { op: '63 /r', mnemonic: 'movsxd', operands: 'Gv,Ed', flags: ['o64'], exec: movsxd },
  { op: '8D /r', mnemonic: 'lea', operands: 'Gv,M', select: (i) => (i.addrSize === 8 ? lea64 : lea) },
  { op: '86 /r', mnemonic: 'xchg', operands: 'Eb,Gb', flags: ['lock'], exec: xchgEG },
  { op: '87 /r', mnemonic: 'xchg', operands: 'Ev,Gv', flags: ['lock'], exec: xchgEG },
  { op: '0F C8+r', mnemonic: 'bswap', operands: 'Zv', exec: bswap },
  { op: '0F 38 F0 /r', mnemonic: 'movbe', operands: 'Gv,Mv', prefix: 'NP|66', exec: movbeLoad },
  { op: '0F 38 F1 /r', mnemonic: 'movbe', operands: 'Mv,Gv', prefix: 'NP|66', exec: movbeStore },
  { op: '98', mnemonic: 'cbw', size: 'v', exec: cbw },
  { op: '99', mnemonic: 'cwd', size: 'v', exec: cwd },
];
// 90+r: XCHG rAX, r. Plain 90 is NOP (no zero-extension of EAX in 64-bit mode); with REX.B it is XCHG r8, rAX.
MOV_OPCODES.push({ op: '90+r', mnemonic: 'xchg', operands: 'Zv', select: (i) => (i.reg === 0 ? nop : xchgZA) });
for (let cc = 0; cc < 16; cc++) {
  MOV_OPCODES.push({ op: `0F 4${cc.toString(16).toUpperCase()} /r`, mnemonic: 'cmov', operands: 'Gv,Ev', exec: cmov });
}
