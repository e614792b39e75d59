/**
 * The stack: PUSH, POP, PUSHF/POPF, PUSHA/POPA, ENTER, LEAVE and the push/pop
 * primitives CALL, RET and interrupt delivery share (SDM Vol. 1 §6.2).
 * The stack-pointer width comes from the mode (64-bit) or SS.B; a stack
 * reference outside the canonical range raises #SS(0).
 */
import type { Cpu } from '../cpu.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import type { ExecFn } from '../decode/insn.ts';
import { fault, Vector } from '../exceptions.ts';
import { AC, DF, ID, IF, IOPL, NT, OF, readRflags, RF, TF, VIF, VIP, VM, writeRflags, ARITH_FLAGS } from '../flags.ts';
import { Reg, Seg, TWO32 } from '../registers.ts';
import { addrOf, readE, readMem, readReg, wr16, writeE, writeMem, writeReg } from './operands.ts';
import { checkCanonical } from '../memory/canonical.ts';

/**
 * Linear address of the `size`-byte stack slot at RSP + delta (delta may be
 * negative). Outside 64-bit mode the slot must lie within the SS limit
 * (SDM Vol. 3A §5.3: #SS(0)).
 */
export function stackLinear(c: Cpu, delta: number, size: number): number {
  const lo = c.r[Reg.RSP << 1]!, hi = c.r[(Reg.RSP << 1) + 1]!;
  switch (c.stackSize) {
    case 8: {
      return checkCanonical(hi * TWO32 + (lo >>> 0) + delta, Seg.SS);
    }
    case 4: return ssLinear(c, (lo + delta) >>> 0, size);
    default: return ssLinear(c, (lo + delta) & 0xffff, size);
  }
}

/** SS base + offset for a `size`-byte access at a 16/32-bit stack offset, after the SS limit check. */
export function ssLinear(c: Cpu, off: number, size: number): number {
  if (off < c.sys.segLo[Seg.SS]! || off + size - 1 > c.sys.segHi[Seg.SS]!) fault(Vector.SS, 0);
  return (c.segBase[Seg.SS]! + off) >>> 0;
}

/** Adds delta to RSP at the stack-pointer width. */
export function adjustRsp(c: Cpu, delta: number): void {
  const k = Reg.RSP << 1;
  const lo = c.r[k]!;
  switch (c.stackSize) {
    case 8: {
      const sum = (lo >>> 0) + delta;
      c.r[k] = sum | 0;
      c.r[k + 1] = (c.r[k + 1]! + Math.floor(sum / TWO32)) | 0;
      break;
    }
    case 4: c.r[k] = (lo + delta) | 0; break;
    default: wr16(c, Reg.RSP, lo + delta);
  }
}

/** Pushes `size` bytes (lo, hi halves); faults leave RSP unchanged. */
export function push(c: Cpu, size: number, lo: number, hi: number): void {
  if (size === 8 && c.stackSize === 8) {
    // 64-bit mode's common case without the width dispatch.
    const r = c.r, k = Reg.RSP << 1;
    const sp = (r[k]! >>> 0) - 8;
    const la = r[k + 1]! * TWO32 + sp;
    checkCanonical(la, Seg.SS);
    c.mmu.write64(la, lo, hi);
    r[k] = sp | 0;
    if (sp < 0) r[k + 1] = (r[k + 1]! - 1) | 0;
    return;
  }
  writeMem(c, stackLinear(c, -size, size), size, lo, hi);
  adjustRsp(c, -size);
}

/** Pops `size` bytes: returns the low half, high half in c.opHi. */
export function pop(c: Cpu, size: number): number {
  if (size === 8 && c.stackSize === 8) {
    const r = c.r, k = Reg.RSP << 1;
    const spLo = r[k]! >>> 0;
    const la = r[k + 1]! * TWO32 + spLo;
    checkCanonical(la, Seg.SS);
    const v = c.mmu.read64(la);
    c.opHi = c.mmu.hi;
    const next = spLo + 8;
    r[k] = next | 0;
    if (next > 0xffffffff) r[k + 1] = (r[k + 1]! + 1) | 0;
    return v;
  }
  const v = readMem(c, stackLinear(c, 0, size), size);
  adjustRsp(c, size);
  return v;
}

const pushZ: ExecFn = (c, i) => {
  const v = readReg(c, i.reg, i.opSize, 0);
  push(c, i.opSize, v, c.opHi);
};

const popZ: ExecFn = (c, i) => {
  const v = pop(c, i.opSize);
  writeReg(c, i.reg, i.opSize, 0, v, c.opHi);
};

const pushE: ExecFn = (c, i) => {
  const v = readE(c, i, addrOf(c, i));
  push(c, i.opSize, v, c.opHi);
};

/** POP to memory computes the address after incrementing RSP (SDM Vol. 2B POP). */
const popE: ExecFn = (c, i) => {
  const size = i.opSize;
  const v = readMem(c, stackLinear(c, 0, size), size);
  const hi = c.opHi;
  if (!i.isMem) {
    adjustRsp(c, size);
    writeReg(c, i.rm, size, 0, v, hi);
    return;
  }
  const saved0 = c.r[Reg.RSP << 1]!, saved1 = c.r[(Reg.RSP << 1) + 1]!;
  adjustRsp(c, size);
  try {
    writeE(c, i, i.ea(c, i), v, hi);
  } catch (e) {
    c.r[Reg.RSP << 1] = saved0;
    c.r[(Reg.RSP << 1) + 1] = saved1;
    throw e;
  }
};

const pushI: ExecFn = (c, i) => push(c, i.opSize, i.imm, i.immHi);

/**
 * PUSHF/POPF (SDM Vol. 2B). PUSHF stores RFLAGS with VM and RF cleared.
 * POPF at CPL 0 may change IOPL and IF; at CPL <= IOPL, IF; VIP, VIF, VM
 * and RF are never changed by POPF in protected mode.
 */
const pushf: ExecFn = (c, i) => {
  if ((c.eflags & VM) && ((c.eflags & IOPL) >> 12) < 3) fault(Vector.GP, 0);
  push(c, i.opSize, readRflags(c) & ~(VM | RF), 0);
};

const popf: ExecFn = (c, i) => {
  if ((c.eflags & VM) && ((c.eflags & IOPL) >> 12) < 3) fault(Vector.GP, 0);
  const v = pop(c, i.opSize);
  let mask = ARITH_FLAGS | TF | DF | NT | OF | AC | ID;
  if (c.cpl === 0) mask |= IOPL | IF;
  else if (c.cpl <= ((c.eflags & IOPL) >> 12)) mask |= IF;
  if (i.opSize === 2) mask &= 0xffff;
  mask &= ~(VIP | VIF | VM | RF);
  const before = c.eflags;
  writeRflags(c, v, mask);
  // A change of IF or TF is seen only from the next instruction on.
  if ((before ^ c.eflags) & (IF | TF)) c.exitBlock = true;
};

const pusha: ExecFn = (c, i) => {
  const size = i.opSize;
  const sp = readReg(c, Reg.RSP, size, 0);
  const vals = [0, 1, 2, 3, 4, 5, 6, 7].map((n) => (n === Reg.RSP ? sp : readReg(c, n, size, 0)));
  // Check the whole area first so a fault leaves memory and ESP unchanged.
  c.mmu.probeWrite(stackLinear(c, -8 * size, 8 * size), 8 * size);
  for (const v of vals) push(c, size, v, 0);
};

const popa: ExecFn = (c, i) => {
  const size = i.opSize;
  stackLinear(c, 0, 8 * size);
  const vals: number[] = [];
  for (let n = 0; n < 8; n++) vals.push(readMem(c, stackLinear(c, n * size, size), size));
  adjustRsp(c, 8 * size);
  for (let n = 0; n < 8; n++) {
    const reg = 7 - n;
    if (reg !== Reg.RSP) writeReg(c, reg, size, 0, vals[n]!, 0);
  }
};

/** ENTER imm16, imm8 (SDM Vol. 2A ENTER): the nesting level is taken modulo 32. */
const enter: ExecFn = (c, i) => {
  const size = i.opSize;
  const level = i.imm2 & 31;
  const rbp = readReg(c, Reg.RBP, c.stackSize, 0);
  const rbpHi = c.stackSize === 8 ? c.opHi : 0;
  push(c, size, readReg(c, Reg.RBP, size, 0), c.opHi);
  const frame = readReg(c, Reg.RSP, c.stackSize, 0);
  const frameHi = c.stackSize === 8 ? c.opHi : 0;
  if (level > 0) {
    for (let n = 1; n < level; n++) {
      // The enclosing frames' pointers, at [RBP - n*size] in the stack segment.
      const off = rbpHi * TWO32 + (rbp >>> 0) - n * size;
      const la = c.stackSize === 8 ? checkCanonical(off, Seg.SS) : ssLinear(c, c.stackSize === 4 ? off >>> 0 : off & 0xffff, size);
      const v = readMem(c, la, size);
      push(c, size, v, c.opHi);
    }
    push(c, size, frame, frameHi);
  }
  writeReg(c, Reg.RBP, c.stackSize, 0, frame, frameHi);
  adjustRsp(c, -(i.imm & 0xffff));
};

/** LEAVE: RSP = RBP, then pop RBP. */
const leave: ExecFn = (c, i) => {
  const k = Reg.RSP << 1, b = Reg.RBP << 1;
  const saveLo = c.r[k]!, saveHi = c.r[k + 1]!;
  if (c.stackSize === 8) { c.r[k] = c.r[b]!; c.r[k + 1] = c.r[b + 1]!; }
  else if (c.stackSize === 4) c.r[k] = c.r[b]!;
  else wr16(c, Reg.RSP, c.r[b]!);
  try {
    const v = pop(c, i.opSize);
    writeReg(c, Reg.RBP, i.opSize, 0, v, c.opHi);
  } catch (e) {
    c.r[k] = saveLo; c.r[k + 1] = saveHi;
    throw e;
  }
};

export const STACK_OPCODES: OpcodeDef[] = [
  { op: '50+r', mnemonic: 'push', operands: 'Zv', flags: ['d64'], exec: pushZ },
  { op: '58+r', mnemonic: 'pop', operands: 'Zv', flags: ['d64'], exec: popZ },
  { op: 'FF /6', mnemonic: 'push', operands: 'Ev', flags: ['d64'], exec: pushE },
  { op: '8F /0', mnemonic: 'pop', operands: 'Ev', flags: ['d64'], exec: popE },
  { op: '68', mnemonic: 'push', operands: 'Iz', size: 'v', flags: ['d64'], exec: pushI },
  { op: '6A', mnemonic: 'push', operands: 'Ibs', size: 'v', flags: ['d64'], exec: pushI },
  { op: '9C', mnemonic: 'pushf', size: 'v', flags: ['d64'], exec: pushf },
  { op: '9D', mnemonic: 'popf', size: 'v', flags: ['d64', 'stop'], exec: popf },
  { op: '60', mnemonic: 'pusha', size: 'v', flags: ['i64'], exec: pusha },
  { op: '61', mnemonic: 'popa', size: 'v', flags: ['i64'], exec: popa },
  { op: 'C8', mnemonic: 'enter', operands: 'Iw,Ib', size: 'v', flags: ['d64'], exec: enter },
  { op: 'C9', mnemonic: 'leave', size: 'v', flags: ['d64'], exec: leave },
];

