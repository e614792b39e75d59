/**
 * Atomic read-modify-write: XADD, CMPXCHG, CMPXCHG8B/CMPXCHG16B (SDM Vol. 2A
 * "CMPXCHG", "CMPXCHG8B/CMPXCHG16B", Vol. 2B "XADD"). Cores are interleaved
 * on one thread, so every instruction is already atomic: LOCK only has to be
 * accepted on the memory forms (the rows flagged 'lock').
 *
 * Memory destinations are read as for a write (readERmw / probeWrite), so a
 * fault is raised before any register or memory changes, and are written
 * back even when the comparison fails, as the SDM's pseudocode does.
 */
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import type { ExecFn, Insn } from '../decode/insn.ts';
import { fault, Vector } from '../exceptions.ts';
import { Reg } from '../registers.ts';
import { alu, alu64, AluOp } from './alu.ts';
import { addrOf, readERmw, readG, readMem, readReg, writeE, writeG, writeMem, writeReg } from './operands.ts';

/** XADD: TEMP := SRC + DEST; SRC := DEST; DEST := TEMP; flags as ADD. */
const xadd: ExecFn = (c, i) => {
  const la = addrOf(c, i), size = i.opSize;
  const d = readERmw(c, i, la);
  const dHi = c.opHi;
  const s = readG(c, i);
  let r: number, rHi = 0;
  if (size === 8) { r = alu64(c, AluOp.Add, d, dHi, s, c.opHi); rHi = c.opHi; } else r = alu(c, AluOp.Add, d, s, size);
  // SRC first: when both operands are one register the sum is what remains.
  writeG(c, i, d, dHi);
  writeE(c, i, la, r, rHi);
};

/**
 * CMPXCHG: compares the accumulator with DEST (flags as CMP accumulator,
 * DEST). Equal: DEST := SRC. Not equal: accumulator := DEST. The SDM's
 * pseudocode also writes DEST back on failure; for memory that write is
 * real (the bus cycle is locked and the page must be writable), but a
 * register destination is left untouched by hardware, so a 32-bit register
 * keeps its upper half (checked against the host CPU in hostdiff tests).
 */
const cmpxchg: ExecFn = (c, i) => {
  const la = addrOf(c, i), size = i.opSize;
  const d = readERmw(c, i, la);
  const dHi = c.opHi;
  const a = readReg(c, Reg.RAX, size, 0);
  if (size === 8) alu64(c, AluOp.Cmp, a, c.opHi, d, dHi); else alu(c, AluOp.Cmp, a, d, size);
  if (c.fZ === 0) {
    const s = readG(c, i);
    writeE(c, i, la, s, c.opHi);
  } else {
    if (i.isMem) writeE(c, i, la, d, dHi);
    writeReg(c, Reg.RAX, size, 0, d, dHi);
  }
};

/**
 * CMPXCHG8B m64 / CMPXCHG16B m128 (REX.W): compares EDX:EAX (RDX:RAX) with
 * the memory operand. Equal: ZF=1 and memory := ECX:EBX (RCX:RBX). Not
 * equal: ZF=0, memory written back unchanged, EDX:EAX (RDX:RAX) := memory.
 * Only ZF changes. CMPXCHG16B needs a 16-byte aligned operand, else #GP(0).
 */
const cmpxchgPair: ExecFn = (c, i) => {
  const w = i.opSize === 8 ? 8 : 4; // width of each half
  const la = i.ea(c, i);
  if (w === 8 && (la & 15) !== 0) fault(Vector.GP, 0);
  c.mmu.probeWrite(la, 2 * w);
  const mLo = readMem(c, la, w), mLoHi = c.opHi;
  const mHi = readMem(c, la + w, w), mHiHi = c.opHi;
  const aLo = readReg(c, Reg.RAX, w, 0), aLoHi = c.opHi;
  const aHi = readReg(c, Reg.RDX, w, 0), aHiHi = c.opHi;
  const equal = mLo === aLo && mHi === aHi && (w === 4 || (mLoHi === aLoHi && mHiHi === aHiHi));
  c.fZ = equal ? 0 : 1;
  if (equal) {
    const bLo = readReg(c, Reg.RBX, w, 0), bLoHi = c.opHi;
    const bHi = readReg(c, Reg.RCX, w, 0), bHiHi = c.opHi;
    writeMem(c, la, w, bLo, bLoHi);
    writeMem(c, la + w, w, bHi, bHiHi);
  } else {
    writeMem(c, la, w, mLo, mLoHi);
    writeMem(c, la + w, w, mHi, mHiHi);
    writeReg(c, Reg.RAX, w, 0, mLo, mLoHi);
    writeReg(c, Reg.RDX, w, 0, mHi, mHiHi);
  }
};

function selectPair(i: Insn): ExecFn {
  if (i.opSize === 8) i.mnemonic = 'cmpxchg16b';
  return cmpxchgPair;
}

export const ATOMIC_OPCODES: OpcodeDef[] = [
  { op: '0F C0 /r', mnemonic: 'xadd', operands: 'Eb,Gb', flags: ['lock'], exec: xadd },
  { op: '0F C1 /r', mnemonic: 'xadd', operands: 'Ev,Gv', flags: ['lock'], exec: xadd },
  { op: '0F B0 /r', mnemonic: 'cmpxchg', operands: 'Eb,Gb', flags: ['lock'], exec: cmpxchg },
  { op: '0F B1 /r', mnemonic: 'cmpxchg', operands: 'Ev,Gv', flags: ['lock'], exec: cmpxchg },
  // Operand size v: REX.W selects CMPXCHG16B; a 66 prefix does not change CMPXCHG8B.
  { op: '0F C7 /1', mnemonic: 'cmpxchg8b', operands: 'M', size: 'v', flags: ['lock'], select: selectPair },
];
