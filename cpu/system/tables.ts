/**
 * The descriptor-table registers (SDM Vol. 3A §2.4; Vol. 2A LGDT/LIDT,
 * LLDT, LTR, Vol. 2B SGDT, SIDT, SLDT, STR). LGDT/LIDT take a 16-bit limit
 * and a base of 24 bits (16-bit operand size), 32 bits, or 64 bits in
 * 64-bit mode; SGDT/SIDT store the full 32-bit base outside 64-bit mode
 * whatever the operand size. LLDT and LTR load from the GDT only, with
 * 16-byte descriptors in IA-32e mode; LTR marks the TSS busy.
 *
 * In VMX non-root operation "descriptor-table exiting" makes all eight exit
 * (SDM Vol. 3C §26.1.3) after their #UD and CPL checks and before their
 * memory operand is touched (§26.1.1).
 */
import type { Cpu } from '../cpu.ts';
import type { ExecFn, Insn } from '../decode/insn.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import { fault, Vector } from '../exceptions.ts';
import { readMem, writeMem, writeReg } from '../exec/operands.ts';
import { isCanonical } from '../memory/canonical.ts';
import { Intercept } from '../vmxPort.ts';
import { AR_UNUSABLE, Descriptor, selectorError, SysType } from './descriptor.ts';
import { isNullSelector, markBusy, readDescriptor, readDescriptor16 } from './descriptorTable.ts';
import { inLongMode } from './mode.ts';
import { word16Form } from './operandForms.ts';
import { requireCpl0, requireProtectedMode } from './privilege.ts';
import { splitAddress } from './msrs.ts';

const scratch = new Descriptor();

/** Address of the byte after the 2-byte limit, wrapped as the instruction's addresses are. */
function baseAddress(i: Insn, la: number): number {
  return i.mode === 64 ? la + 2 : (la + 2) >>> 0;
}

/** LGDT/LIDT (CPL 0): reads the 2-byte limit and the base that follows it. */
function loadTableRegister(c: Cpu, i: Insn, idt: boolean): void {
  requireCpl0(c);
  if (c.nonRoot && c.vmx!.intercept(c, i, Intercept.DescriptorTable)) return;
  const la = i.ea(c, i);
  const limit = readMem(c, la, 2);
  let base: number;
  if (i.mode === 64) {
    const lo = readMem(c, baseAddress(i, la), 8);
    base = (c.opHi | 0) * 4294967296 + (lo >>> 0);
  } else {
    base = readMem(c, baseAddress(i, la), 4) >>> 0;
    if (i.opSize === 2) base &= 0xffffff;
  }
  if (idt) {
    c.sys.idtrLimit = limit;
    c.sys.idtrBase = base;
  } else {
    c.sys.gdtrLimit = limit;
    c.sys.gdtrBase = base;
  }
}

const lgdt: ExecFn = (c, i) => loadTableRegister(c, i, false);
const lidt: ExecFn = (c, i) => loadTableRegister(c, i, true);

function storePseudoDescriptor(c: Cpu, i: Insn, limit: number, base: number): void {
  if (c.nonRoot && c.vmx!.intercept(c, i, Intercept.DescriptorTable)) return;
  const la = i.ea(c, i);
  if (i.mode === 64) {
    const lo = splitAddress(c, base);
    c.mmu.probeWrite(la, 10);
    writeMem(c, la, 2, limit, 0);
    writeMem(c, la + 2, 8, lo, c.opHi);
  } else {
    c.mmu.probeWrite(la, 6);
    writeMem(c, la, 2, limit, 0);
    writeMem(c, baseAddress(i, la), 4, base | 0, 0);
  }
}

const sgdt: ExecFn = (c, i) => storePseudoDescriptor(c, i, c.sys.gdtrLimit, c.sys.gdtrBase);
const sidt: ExecFn = (c, i) => storePseudoDescriptor(c, i, c.sys.idtrLimit, c.sys.idtrBase);

/** The selector operand of LLDT/LTR (r/m16). */
function selectorOperand(c: Cpu, i: Insn): number {
  return i.isMem ? readMem(c, i.ea(c, i), 2) : c.r[i.rm << 1]! & 0xffff;
}

/**
 * Reads the GDT system descriptor for LLDT/LTR: TI = 1 is #GP(sel); 16-byte
 * in IA-32e mode, where the base must be canonical (#GP(sel)).
 */
function readSystemDescriptor(c: Cpu, sel: number): Descriptor {
  if ((sel & 4) !== 0) fault(Vector.GP, selectorError(sel, 0));
  if (!inLongMode(c)) return readDescriptor(c, sel, scratch);
  const d = readDescriptor16(c, sel, scratch);
  if (!d.isSystem) fault(Vector.GP, selectorError(sel, 0));
  if (!isCanonical(d.base)) fault(Vector.GP, selectorError(sel, 0));
  return d;
}

/** LLDT: a null selector leaves LDTR unusable; otherwise an LDT descriptor (#GP(sel)), present (#NP(sel)). */
const lldt: ExecFn = (c, i) => {
  requireProtectedMode(c);
  requireCpl0(c);
  if (c.nonRoot && c.vmx!.intercept(c, i, Intercept.DescriptorTable)) return;
  const sel = selectorOperand(c, i);
  if (isNullSelector(sel)) {
    c.sys.ldtrSel = sel;
    c.sys.ldtrAttr = AR_UNUSABLE;
    return;
  }
  const d = readSystemDescriptor(c, sel);
  if (!d.isSystem || d.type !== SysType.Ldt) fault(Vector.GP, selectorError(sel, 0));
  if (!d.present) fault(Vector.NP, selectorError(sel, 0));
  c.sys.ldtrSel = sel;
  c.sys.ldtrBase = d.base;
  c.sys.ldtrLimit = d.limit;
  c.sys.ldtrAttr = d.attr;
};

/**
 * LTR: null is #GP(0); the descriptor must be an available TSS (16- or
 * 32-bit outside IA-32e mode, 64-bit inside: #GP(sel)) and present
 * (#NP(sel)); it is marked busy in the GDT.
 */
const ltr: ExecFn = (c, i) => {
  requireProtectedMode(c);
  requireCpl0(c);
  if (c.nonRoot && c.vmx!.intercept(c, i, Intercept.DescriptorTable)) return;
  const sel = selectorOperand(c, i);
  if (isNullSelector(sel)) fault(Vector.GP, 0);
  const d = readSystemDescriptor(c, sel);
  const t = d.type;
  const available = d.isSystem && (t === SysType.Tss32 || (t === SysType.Tss16 && !inLongMode(c)));
  if (!available) fault(Vector.GP, selectorError(sel, 0));
  if (!d.present) fault(Vector.NP, selectorError(sel, 0));
  markBusy(c, sel, d);
  c.sys.trSel = sel;
  c.sys.trBase = d.base;
  c.sys.trLimit = d.limit;
  c.sys.trAttr = d.attr;
};

/** SLDT/STR: 16 bits to memory; a register gets the selector zero-extended to the operand size. */
function storeSelector(get: (c: Cpu) => number): ExecFn {
  return (c, i) => {
    requireProtectedMode(c);
    if (c.nonRoot && c.vmx!.intercept(c, i, Intercept.DescriptorTable)) return;
    if (i.isMem) writeMem(c, i.ea(c, i), 2, get(c), 0);
    else writeReg(c, i.rm, i.opSize, 0, get(c), 0);
  };
}

export const TABLE_OPCODES: OpcodeDef[] = [
  { op: '0F 01 /0', mnemonic: 'sgdt', operands: 'Ms', exec: sgdt },
  { op: '0F 01 /1', mnemonic: 'sidt', operands: 'Ms', exec: sidt },
  { op: '0F 01 /2', mnemonic: 'lgdt', operands: 'Ms', exec: lgdt },
  { op: '0F 01 /3', mnemonic: 'lidt', operands: 'Ms', exec: lidt },
  { op: '0F 00 /0', mnemonic: 'sldt', operands: 'Ev', exec: storeSelector((c) => c.sys.ldtrSel) },
  { op: '0F 00 /1', mnemonic: 'str', operands: 'Ev', exec: storeSelector((c) => c.sys.trSel) },
  { op: '0F 00 /2', mnemonic: 'lldt', operands: 'Ev', select: word16Form(lldt) },
  { op: '0F 00 /3', mnemonic: 'ltr', operands: 'Ev', select: word16Form(ltr) },
];
