/**
 * Instructions that move segment selectors (SDM Vol. 2B MOV "Move to/from
 * segment registers", PUSH, POP; Vol. 2A LDS/LES/LFS/LGS/LSS). Loads go
 * through segmentLoad.ts with every check. A load of SS blocks interrupts,
 * NMIs and debug traps until the next instruction retires (SDM Vol. 3A
 * §6.8.3): c.inhibitUntil = this instruction's count + 2.
 */
import type { Cpu } from '../cpu.ts';
import { raiseUD } from '../decode/decoder.ts';
import type { ExecFn, Insn } from '../decode/insn.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import { addrOf, readE, readMem, writeMem, writeReg } from '../exec/operands.ts';
import { adjustRsp, stackLinear } from '../exec/stack.ts';
import { Seg } from '../registers.ts';
import { loadSegment } from './segmentLoad.ts';

/** Loads a data or stack segment register; SS opens the MOV SS / POP SS interrupt shadow. */
function load(c: Cpu, s: number, sel: number): void {
  loadSegment(c, s, sel);
  if (s === Seg.SS) {
    c.inhibitUntil = c.icount + 2;
    c.inhibitByMovSs = true;
    c.exitBlock = true;
  }
}

/** MOV Sreg, r/m16: ModRM.reg names the register (REX.R ignored). */
const movToSreg: ExecFn = (c, i) => load(c, i.reg & 7, readE(c, i, addrOf(c, i)));

/** ModRM.reg 6 and 7 name no segment register, and MOV to CS does not exist: #UD at decode. */
const sregForm = (exec: ExecFn, toSreg: boolean) => (i: Insn): ExecFn => {
  const s = i.reg & 7;
  return s > Seg.GS || (toSreg && s === Seg.CS) ? raiseUD : exec;
};

/**
 * MOV r/m, Sreg: a memory destination is always 16 bits; a register gets
 * the selector zero-extended to the operand size (SDM Vol. 2B MOV: the
 * processors of the Intel 64 era clear the upper bits).
 */
const movFromSreg: ExecFn = (c, i) => {
  const sel = c.segSel[i.reg & 7]!;
  if (i.isMem) writeMem(c, i.ea(c, i), 2, sel, 0);
  else writeReg(c, i.rm, i.opSize, 0, sel, 0);
};

/**
 * PUSH Sreg: the stack pointer moves by the operand size; current Intel
 * processors write only the 16-bit selector, leaving the rest of the slot
 * unchanged (SDM Vol. 2B PUSH).
 */
function pushSreg(s: number): ExecFn {
  return (c, i) => {
    writeMem(c, stackLinear(c, -i.opSize, i.opSize), 2, c.segSel[s]!, 0);
    adjustRsp(c, -i.opSize);
  };
}

/** POP Sreg: the selector is the low 16 bits of the slot; RSP moves only once the load succeeded. */
function popSreg(s: number): ExecFn {
  return (c, i) => {
    const sel = readMem(c, stackLinear(c, 0, i.opSize), 2);
    load(c, s, sel);
    adjustRsp(c, i.opSize);
  };
}

/** LDS/LES/LFS/LGS/LSS r, m16:16/32/64: the offset first, the selector after it; the register is written last. */
function loadFarPointer(s: number): ExecFn {
  return (c, i) => {
    const la = i.ea(c, i);
    const off = readMem(c, la, i.opSize);
    const offHi = c.opHi;
    const sel = readMem(c, i.mode === 64 ? la + i.opSize : (la + i.opSize) >>> 0, 2);
    load(c, s, sel);
    writeReg(c, i.reg, i.opSize, 0, off, offHi);
  };
}

export const SEGMENT_OPCODES: OpcodeDef[] = [
  { op: '8E /r', mnemonic: 'mov', operands: 'Sw,Ew', select: sregForm(movToSreg, true) },
  { op: '8C /r', mnemonic: 'mov', operands: 'Ev,Sw', select: sregForm(movFromSreg, false) },
  { op: '06', mnemonic: 'push', size: 'v', flags: ['i64'], exec: pushSreg(Seg.ES) },
  { op: '0E', mnemonic: 'push', size: 'v', flags: ['i64'], exec: pushSreg(Seg.CS) },
  { op: '16', mnemonic: 'push', size: 'v', flags: ['i64'], exec: pushSreg(Seg.SS) },
  { op: '1E', mnemonic: 'push', size: 'v', flags: ['i64'], exec: pushSreg(Seg.DS) },
  { op: '0F A0', mnemonic: 'push', size: 'v', flags: ['d64'], exec: pushSreg(Seg.FS) },
  { op: '0F A8', mnemonic: 'push', size: 'v', flags: ['d64'], exec: pushSreg(Seg.GS) },
  { op: '07', mnemonic: 'pop', size: 'v', flags: ['i64'], exec: popSreg(Seg.ES) },
  { op: '17', mnemonic: 'pop', size: 'v', flags: ['i64'], exec: popSreg(Seg.SS) },
  { op: '1F', mnemonic: 'pop', size: 'v', flags: ['i64'], exec: popSreg(Seg.DS) },
  { op: '0F A1', mnemonic: 'pop', size: 'v', flags: ['d64'], exec: popSreg(Seg.FS) },
  { op: '0F A9', mnemonic: 'pop', size: 'v', flags: ['d64'], exec: popSreg(Seg.GS) },
  { op: 'C4 /r', mnemonic: 'les', operands: 'Gv,Mp', flags: ['i64'], exec: loadFarPointer(Seg.ES) },
  { op: 'C5 /r', mnemonic: 'lds', operands: 'Gv,Mp', flags: ['i64'], exec: loadFarPointer(Seg.DS) },
  { op: '0F B2 /r', mnemonic: 'lss', operands: 'Gv,Mp', exec: loadFarPointer(Seg.SS) },
  { op: '0F B4 /r', mnemonic: 'lfs', operands: 'Gv,Mp', exec: loadFarPointer(Seg.FS) },
  { op: '0F B5 /r', mnemonic: 'lgs', operands: 'Gv,Mp', exec: loadFarPointer(Seg.GS) },
];
