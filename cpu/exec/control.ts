/**
 * Near control transfer: JMP, Jcc, CALL, RET, LOOP/LOOPcc, JCXZ/JECXZ/JRCXZ
 * (SDM Vol. 2). In 64-bit mode near branches are 64-bit whatever the prefix
 * (Intel ignores 66), and a non-canonical target raises #GP(0) at the
 * branch, before RIP changes. In other modes the target wraps to the
 * operand size. Far transfers change CS and belong to the system layer
 * (cpu/system/farJump.ts, farReturn.ts).
 */
import type { Cpu } from '../cpu.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import type { ExecFn, Insn } from '../decode/insn.ts';
import { fault, Vector } from '../exceptions.ts';
import { testCondition } from '../flags.ts';
import { Reg, Seg, TWO32 } from '../registers.ts';
import { addrOf, readE } from './operands.ts';
import { adjustRsp, pop, push } from './stack.ts';
import { isCanonical } from '../memory/canonical.ts';

/**
 * Sets RIP to a branch target computed as a number, applying the
 * operand-size rules; outside 64-bit mode the target must lie within the
 * CS limit (#GP(0), SDM Vol. 2A JMP/CALL/Jcc "Operation").
 */
export function branchTo(c: Cpu, target: number, opSize: number): void {
  c.rip = branchTarget(c, target, opSize);
}

/** The checked target branchTo would set, for CALL to check before it pushes. */
function branchTarget(c: Cpu, target: number, opSize: number): number {
  if (opSize === 8) {
    if (!isCanonical(target)) fault(Vector.GP, 0);
    return target;
  }
  const t = opSize === 4 ? target >>> 0 : target & 0xffff;
  if (t > c.segLimit[Seg.CS]!) fault(Vector.GP, 0);
  return t;
}

/** Target of an absolute near branch given as 64-bit halves. */
function absoluteTarget(lo: number, hi: number, opSize: number): number {
  return opSize === 8 ? (hi | 0) * TWO32 + (lo >>> 0) : lo >>> 0;
}

const jmpRel: ExecFn = (c, i) => branchTo(c, c.rip + i.imm, i.opSize);

const jccRel: ExecFn = (c, i) => {
  if (testCondition(c, i.cond)) branchTo(c, c.rip + i.imm, i.opSize);
};

/** JNZ/JNE: the loop-closing branch of most loops, without the generic condition switch. */
const jnzRel: ExecFn = (c, i) => {
  if (c.fZ !== 0) branchTo(c, c.rip + i.imm, i.opSize);
};

const jmpE: ExecFn = (c, i) => {
  const lo = readE(c, i, addrOf(c, i));
  branchTo(c, absoluteTarget(lo, c.opHi, i.opSize), i.opSize);
};

/** The return address is RIP split into halves (RIP may be negative: upper canonical half). */
function pushReturn(c: Cpu, size: number): void {
  const ret = c.rip;
  push(c, size, ret >>> 0, Math.floor(ret / TWO32) | 0);
}

const callRel: ExecFn = (c, i) => {
  // The target is checked before anything is pushed.
  const target = branchTarget(c, c.rip + i.imm, i.opSize);
  pushReturn(c, i.opSize);
  c.rip = target;
};

const callE: ExecFn = (c, i) => {
  const lo = readE(c, i, addrOf(c, i));
  const target = branchTarget(c, absoluteTarget(lo, c.opHi, i.opSize), i.opSize);
  pushReturn(c, i.opSize);
  c.rip = target;
};

function ret(c: Cpu, i: Insn, release: number): void {
  const k = Reg.RSP << 1;
  const saveLo = c.r[k]!, saveHi = c.r[k + 1]!;
  const lo = pop(c, i.opSize);
  const target = absoluteTarget(lo, c.opHi, i.opSize);
  try {
    branchTo(c, target, i.opSize);
  } catch (e) {
    c.r[k] = saveLo; c.r[k + 1] = saveHi;
    throw e;
  }
  if (release) adjustRsp(c, release);
}

const retNear: ExecFn = (c, i) => ret(c, i, 0);
const retNearImm: ExecFn = (c, i) => ret(c, i, i.imm & 0xffff);

/** The count register at the address size (CX, ECX or RCX). */
function countIsZeroAfterDec(c: Cpu, i: Insn): boolean {
  const k = Reg.RCX << 1;
  switch (i.addrSize) {
    case 2: { const v = (c.r[k]! - 1) & 0xffff; c.r[k] = (c.r[k]! & ~0xffff) | v; return v === 0; }
    case 4: { const v = (c.r[k]! - 1) | 0; c.r[k] = v; c.r[k + 1] = 0; return v === 0; }
    default: {
      const lo = c.r[k]!;
      const nlo = (lo - 1) | 0;
      const nhi = lo === 0 ? (c.r[k + 1]! - 1) | 0 : c.r[k + 1]!;
      c.r[k] = nlo; c.r[k + 1] = nhi;
      return (nlo | nhi) === 0;
    }
  }
}

/** LOOP (E2), LOOPE (E1), LOOPNE (E0): decrement the count, branch if non-zero and the ZF condition holds. */
const loop: ExecFn = (c, i) => {
  const zero = countIsZeroAfterDec(c, i);
  const op = i.opcode & 0xff;
  const zf = c.fZ === 0;
  if (!zero && (op === 0xe2 || (op === 0xe1 ? zf : !zf))) branchTo(c, c.rip + i.imm, i.opSize);
};

const jcxz: ExecFn = (c, i) => {
  const k = Reg.RCX << 1;
  const zero = i.addrSize === 2 ? (c.r[k]! & 0xffff) === 0
    : i.addrSize === 4 ? c.r[k] === 0 : (c.r[k]! | c.r[k + 1]!) === 0;
  if (zero) branchTo(c, c.rip + i.imm, i.opSize);
};

const jcc = (i: Insn): ExecFn => (i.cond === 5 ? jnzRel : jccRel);

export const CONTROL_OPCODES: OpcodeDef[] = [
  { op: 'EB', mnemonic: 'jmp', operands: 'Jb', size: 'v', flags: ['f64', 'branch'], exec: jmpRel },
  { op: 'E9', mnemonic: 'jmp', operands: 'Jz', size: 'v', flags: ['f64', 'branch'], exec: jmpRel },
  { op: 'FF /4', mnemonic: 'jmp', operands: 'Ev', flags: ['f64', 'branch'], exec: jmpE },
  { op: 'E8', mnemonic: 'call', operands: 'Jz', size: 'v', flags: ['f64', 'branch'], exec: callRel },
  { op: 'FF /2', mnemonic: 'call', operands: 'Ev', flags: ['f64', 'branch'], exec: callE },
  { op: 'C3', mnemonic: 'ret', size: 'v', flags: ['f64', 'branch'], exec: retNear },
  { op: 'C2', mnemonic: 'ret', operands: 'Iw', size: 'v', flags: ['f64', 'branch'], exec: retNearImm },
  { op: 'E0', mnemonic: 'loopne', operands: 'Jb', size: 'v', flags: ['f64', 'branch'], exec: loop },
  { op: 'E1', mnemonic: 'loope', operands: 'Jb', size: 'v', flags: ['f64', 'branch'], exec: loop },
  { op: 'E2', mnemonic: 'loop', operands: 'Jb', size: 'v', flags: ['f64', 'branch'], exec: loop },
  { op: 'E3', mnemonic: 'jrcxz', operands: 'Jb', size: 'v', flags: ['f64', 'branch'], exec: jcxz },
];
for (let cc = 0; cc < 16; cc++) {
  const h = (n: number) => n.toString(16).toUpperCase();
  CONTROL_OPCODES.push(
    { op: `7${h(cc)}`, mnemonic: 'jcc', operands: 'Jb', size: 'v', flags: ['f64', 'branch'], select: jcc },
    { op: `0F 8${h(cc)}`, mnemonic: 'jcc', operands: 'Jz', size: 'v', flags: ['f64', 'branch'], select: jcc },
  );
}
