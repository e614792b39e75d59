/**
 * Pointer-validation instructions (SDM Vol. 3A §5.10; Vol. 2A ARPL, LAR,
 * LSL; Vol. 2B VERR/VERW). They report through ZF instead of faulting on
 * the selector: ZF = 1 when the descriptor is visible at the current
 * privilege and of a type the instruction accepts. Other flags are kept.
 * Protected mode only (#UD in real-address and virtual-8086 mode).
 */
import type { Cpu } from '../cpu.ts';
import type { ExecFn, Insn } from '../decode/insn.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import { readMem, readMemRmw, wr16, writeMem, writeReg } from '../exec/operands.ts';
import { Descriptor } from './descriptor.ts';
import { tryReadDescriptor } from './descriptorTable.ts';
import { inLongMode } from './mode.ts';
import { word16Form } from './operandForms.ts';
import { requireProtectedMode } from './privilege.ts';

const scratch = new Descriptor();

/** System types LAR accepts: legacy 1,2,3,4,5,9,B,C; IA-32e 2,9,B,C (SDM Vol. 2A LAR, Table 3-x). */
const LAR_LEGACY = 0x1a3e, LAR_IA32E = 0x1a04;
/** System types LSL accepts: legacy 1,2,3,9,B; IA-32e 2,9,B (SDM Vol. 2A LSL). */
const LSL_LEGACY = 0x0a0e, LSL_IA32E = 0x0a04;

function setZf(c: Cpu, on: boolean): void {
  c.fZ = on ? 0 : 1;
}

function selectorOf(c: Cpu, i: Insn): number {
  return i.isMem ? readMem(c, i.ea(c, i), 2) : c.r[i.rm << 1]! & 0xffff;
}

/**
 * The descriptor LAR/LSL may report: code and data segments, and the
 * system types in `legacy`/`ia32e` (16-byte, with a zero upper type, in
 * IA-32e mode); DPL >= CPL and DPL >= RPL unless conforming code.
 */
function visible(c: Cpu, sel: number, legacy: number, ia32e: number): Descriptor | null {
  const d = scratch;
  if (!tryReadDescriptor(c, sel, d)) return null;
  if (d.isSystem) {
    const long = inLongMode(c);
    if (((long ? ia32e : legacy) & (1 << d.type)) === 0) return null;
    if (long && !tryReadDescriptor(c, sel, d, 16)) return null;
  }
  if (!d.conforming && (d.dpl < c.cpl || d.dpl < (sel & 3))) return null;
  return d;
}

/**
 * LAR: the access-rights dword masked by 00FxFF00H (16-bit operand: FF00H),
 * zero-extended for r64. Bits 19:16 are undefined in the SDM; Intel cores
 * return the limit bits there, as this does.
 */
const lar: ExecFn = (c, i) => {
  requireProtectedMode(c);
  const d = visible(c, selectorOf(c, i), LAR_LEGACY, LAR_IA32E);
  setZf(c, d !== null);
  if (d) writeReg(c, i.reg, i.opSize, 0, i.opSize === 2 ? d.hi & 0xff00 : d.hi & 0x00ffff00, 0);
};

/** LSL: the byte-granular limit (scaled by G), truncated for r16, zero-extended for r64. */
const lsl: ExecFn = (c, i) => {
  requireProtectedMode(c);
  const d = visible(c, selectorOf(c, i), LSL_LEGACY, LSL_IA32E);
  setZf(c, d !== null);
  if (d) writeReg(c, i.reg, i.opSize, 0, d.limit | 0, 0);
};

/**
 * VERR/VERW: a code or data segment readable (VERR: data or readable code)
 * or writable (VERW: writable data), with DPL >= CPL and DPL >= RPL unless
 * conforming code (VERR only).
 */
function verify(write: boolean): ExecFn {
  return (c, i) => {
    requireProtectedMode(c);
    const sel = selectorOf(c, i);
    const d = scratch;
    let ok = tryReadDescriptor(c, sel, d) && !d.isSystem && (write ? d.writableData : d.readable);
    if (ok && !d.conforming && (d.dpl < c.cpl || d.dpl < (sel & 3))) ok = false;
    setZf(c, ok);
  };
}

/**
 * ARPL r/m16, r16 (16 bits whatever the operand size, which decoders show
 * as r32 forms): raises the destination's RPL to the source's (ZF = 1), else ZF = 0.
 */
const arpl: ExecFn = (c, i) => {
  requireProtectedMode(c);
  const la = i.isMem ? i.ea(c, i) : 0;
  const dest = i.isMem ? readMemRmw(c, la, 2) : c.r[i.rm << 1]! & 0xffff;
  const src = c.r[i.reg << 1]!;
  if ((dest & 3) < (src & 3)) {
    const v = (dest & ~3) | (src & 3);
    if (i.isMem) writeMem(c, la, 2, v, 0);
    else wr16(c, i.rm, v);
    setZf(c, true);
  } else {
    setZf(c, false);
  }
};

export const PROTECTION_OPCODES: OpcodeDef[] = [
  { op: '0F 02 /r', mnemonic: 'lar', operands: 'Gv,Ew', exec: lar },
  { op: '0F 03 /r', mnemonic: 'lsl', operands: 'Gv,Ew', exec: lsl },
  { op: '0F 00 /4', mnemonic: 'verr', operands: 'Ev', select: word16Form(verify(false)) },
  { op: '0F 00 /5', mnemonic: 'verw', operands: 'Ev', select: word16Form(verify(true)) },
  { op: '63 /r', mnemonic: 'arpl', operands: 'Ev,Gv', flags: ['i64'], select: word16Form(arpl) },
];
