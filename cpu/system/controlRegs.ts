/**
 * Control registers (SDM Vol. 3A §2.5; Vol. 2B "MOV—Move to/from Control
 * Registers", CLTS, LMSW, SMSW) and the mode transitions CR0.PE/PG and
 * CR4.PAE drive, including the IA-32e activation rules of SDM Vol. 3A
 * §10.8.5 (EFER.LMA follows CR0.PG when EFER.LME = 1) and their
 * consistency checks.
 */
import type { Cpu } from '../cpu.ts';
import { readCr8, writeCr8 } from '../devices/apic/cr8.ts';
import type { ExecFn } from '../decode/insn.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import { fault, Vector } from '../exceptions.ts';
import { readMem, wr32, wr64, writeMem, writeReg } from '../exec/operands.ts';
import { checkPdptes, pagingStateChanged, writeCr3 } from '../memory/paging.ts';
import type { CpuModel } from '../model/cpuidModel.ts';
import { Seg, TWO32 } from '../registers.ts';
import { Intercept } from '../vmxPort.ts';
import { AR_L } from './descriptor.ts';
import { crForm, word16Form } from './operandForms.ts';
import { requireCpl0 } from './privilege.ts';
import {
  CR0_AM, CR0_CD, CR0_EM, CR0_ET, CR0_MP, CR0_NE, CR0_NW, CR0_PE, CR0_PG, CR0_TS, CR0_WP,
  EFER_LMA, EFER_LME, updateMode,
} from './mode.ts';

/** CR0 bits software can write; the other bits of CR0[31:0] ignore writes and ET reads as 1 (Vol. 2B MOV CR). */
const CR0_WRITABLE = CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_NE | CR0_WP | CR0_AM | CR0_NW | CR0_CD | CR0_PG;

export const CR4_TSD = 1 << 2, CR4_DE = 1 << 3, CR4_PSE = 1 << 4,
  CR4_PAE = 1 << 5, CR4_MCE = 1 << 6, CR4_PGE = 1 << 7, CR4_PCE = 1 << 8, CR4_OSFXSR = 1 << 9,
  CR4_OSXMMEXCPT = 1 << 10, CR4_VMXE = 1 << 13, CR4_PCIDE = 1 << 17, CR4_OSXSAVE = 1 << 18,
  CR4_SMEP = 1 << 20, CR4_SMAP = 1 << 21;

/**
 * CR4 bits the model lets software set; every other bit is reserved (#GP).
 * TSD, DE, MCE and PCE exist on every Intel 64 processor (CPUID does not
 * report DE and MCE here, which is allowed: they have no effect beyond
 * MOV DR4/DR5, and no machine check is ever raised); the rest follow the
 * CPUID feature that enumerates them (SDM Vol. 3A §2.5, Figure 2-7 and the
 * CPUID feature flags of Vol. 2A). VME/PVI, UMIP, LA57, SMXE, FSGSBASE,
 * PKE, CET and PKS are not modelled, so reserved.
 */
export function cr4Settable(m: CpuModel): number {
  let v = CR4_TSD | CR4_DE | CR4_MCE | CR4_PCE;
  if (m.has('pse')) v |= CR4_PSE;
  if (m.has('pae')) v |= CR4_PAE;
  if (m.has('pge')) v |= CR4_PGE;
  if (m.has('fxsr')) v |= CR4_OSFXSR;
  if (m.has('sse')) v |= CR4_OSXMMEXCPT;
  if (m.has('vmx')) v |= CR4_VMXE;
  if (m.has('pcid')) v |= CR4_PCIDE;
  if (m.has('xsave')) v |= CR4_OSXSAVE;
  if (m.has('smep')) v |= CR4_SMEP;
  if (m.has('smap')) v |= CR4_SMAP;
  return v;
}

/**
 * MOV to CR0 (and LMSW, CLTS): #GP(0) for PG without PE, NW without CD,
 * enabling paging with EFER.LME = 1 but CR4.PAE = 0, or with CS.L = 1 or a
 * 16-bit TSS in TR (§10.8.5 consistency checks), and for clearing PG in
 * 64-bit mode or while CR4.PCIDE = 1. Setting PG with LME = 1 activates
 * IA-32e mode (LMA = 1); clearing PG deactivates it.
 */
export function writeCr0(c: Cpu, value: number): void {
  const v = ((value & CR0_WRITABLE) | CR0_ET) >>> 0;
  const old = c.cr0;
  if ((v & CR0_PG) !== 0 && (v & CR0_PE) === 0) fault(Vector.GP, 0);
  if ((v & CR0_NW) !== 0 && (v & CR0_CD) === 0) fault(Vector.GP, 0);
  const pgOn = (v & CR0_PG) !== 0 && (old & CR0_PG) === 0;
  const pgOff = (v & CR0_PG) === 0 && (old & CR0_PG) !== 0;
  if (pgOn && (c.efer & EFER_LME) !== 0) {
    const trType = c.sys.trAttr & 0xf;
    if ((c.cr4 & CR4_PAE) === 0 || (c.segAttr[Seg.CS]! & AR_L) !== 0 || trType === 1 || trType === 3) fault(Vector.GP, 0);
  }
  if (pgOff && (c.codeSize === 64 || (c.cr4 & CR4_PCIDE) !== 0)) fault(Vector.GP, 0);
  checkPdptes(c, v, c.cr4);
  c.cr0 = v;
  if (pgOn && (c.efer & EFER_LME) !== 0) c.efer |= EFER_LMA;
  if (pgOff) c.efer &= ~EFER_LMA;
  if (old !== v) pagingStateChanged(c);
  if (((old ^ v) & (CR0_PE | CR0_PG)) !== 0) updateMode(c);
}

/**
 * MOV to CR4: #GP(0) for a reserved bit, clearing PAE in IA-32e mode,
 * setting PCIDE outside IA-32e mode or while CR3[11:0] != 0 (SDM Vol. 3A
 * §4.10.1), or invalid PDPTEs to load under PAE paging (§4.4.1, the paging
 * unit's check).
 */
export function writeCr4(c: Cpu, v: number): void {
  const old = c.cr4;
  const lma = (c.efer & EFER_LMA) !== 0;
  if ((v & ~cr4Settable(c.model)) !== 0) fault(Vector.GP, 0);
  if (lma && (v & CR4_PAE) === 0) fault(Vector.GP, 0);
  if ((v & CR4_PCIDE) !== 0 && (old & CR4_PCIDE) === 0 && (!lma || c.cr3 % 4096 !== 0)) fault(Vector.GP, 0);
  checkPdptes(c, c.cr0, v >>> 0);
  c.cr4 = v >>> 0;
  if (old !== c.cr4) pagingStateChanged(c);
}

/**
 * In VMX non-root operation CR0 and CR4 read through the guest/host mask
 * and read shadow (SDM Vol. 3C §26.3): bits 31:0 returned, 63:32 in c.opHi.
 */
function guestView(c: Cpu, n: number, v: number): number {
  if (c.nonRoot) return c.vmx!.shadowCr(c, n, v);
  c.opHi = 0;
  return v;
}

/**
 * The value CLTS, LMSW or MOV to CR0/CR4 (`n`) loads: in VMX operation the
 * VMX unit keeps the guest/host-masked bits (non-root, §26.3) and raises
 * #GP(0) for a fixed bit (§24.8). Bits 63:32 in c.opHi.
 */
function vmxView(c: Cpu, n: number, lo: number, hi: number): number {
  if (c.vmx !== null) return c.vmx.loadCr(c, n, lo, hi);
  c.opHi = hi;
  return lo;
}

/**
 * MOV r, CRn: 64 bits in 64-bit mode, else 32 (whatever the operand-size
 * prefix). In VMX non-root operation the exit check comes after the CPL
 * check (SDM Vol. 3C §26.1.1).
 */
const movFromCr: ExecFn = (c, i) => {
  requireCpl0(c);
  if (c.nonRoot && c.vmx!.intercept(c, i, Intercept.MovFromCr)) return;
  let v: number, hi: number;
  switch (i.reg) {
    case 0: v = guestView(c, 0, c.cr0); hi = c.opHi; break;
    case 2: v = c.cr2; hi = Math.floor(v / TWO32) | 0; break;
    case 3: v = c.cr3; hi = Math.floor(v / TWO32) | 0; break;
    case 4: v = guestView(c, 4, c.cr4); hi = c.opHi; break;
    default: v = readCr8(c); hi = 0; break;
  }
  if (i.mode === 64) wr64(c, i.rm, v >>> 0, hi);
  else wr32(c, i.rm, v >>> 0);
};

/** In VMX non-root operation the exit check comes after the CPL check and before any check of the value (SDM Vol. 3C §26.1.1). */
const movToCr: ExecFn = (c, i) => {
  const n = i.reg;
  requireCpl0(c);
  if (c.nonRoot && c.vmx!.intercept(c, i, Intercept.MovToCr)) return;
  const lo = c.r[i.rm << 1]!, hi = i.mode === 64 ? c.r[(i.rm << 1) + 1]! : 0;
  switch (n) {
    case 0:
    case 4: {
      const v = vmxView(c, n, lo, hi);
      // Bits 63:32 of CR0 and CR4 are reserved (#GP(0)).
      if (c.opHi !== 0) fault(Vector.GP, 0);
      if (n === 0) writeCr0(c, v);
      else writeCr4(c, v);
      break;
    }
    case 2:
      c.cr2 = (hi | 0) * TWO32 + (lo >>> 0);
      break;
    case 3:
      // The paging unit checks the reserved bits (and bit 63, the PCID no-flush bit) and loads PDPTEs.
      writeCr3(c, lo, hi);
      break;
    default:
      // CR8 is the TPR (SDM Vol. 3A §11.8.6): bits 63:4 reserved; the local APIC takes the value.
      if (hi !== 0 || (lo & ~0xf) !== 0) fault(Vector.GP, 0);
      writeCr8(c, lo);
      break;
  }
};

/** CR0, CR2, CR3, CR4, and CR8 (64-bit mode, REX.R). */
const VALID_CRS = (1 << 0) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 8);

/** CLTS: CR0.TS = 0 (CPL 0). */
const clts: ExecFn = (c, i) => {
  requireCpl0(c);
  if (c.nonRoot && c.vmx!.intercept(c, i, Intercept.Clts)) return;
  writeCr0(c, vmxView(c, 0, c.cr0 & ~CR0_TS, 0));
};

/**
 * LMSW: loads CR0[3:0] (PE, MP, EM, TS) from a 16-bit source; it can set
 * PE but never clear it. In VMX non-root operation the VMX unit reads the
 * operand for its exit check, so operand faults come first (§26.1.1).
 */
const lmsw: ExecFn = (c, i) => {
  requireCpl0(c);
  if (c.nonRoot && c.vmx!.intercept(c, i, Intercept.Lmsw)) return;
  const src = (i.isMem ? readMem(c, i.ea(c, i), 2) : c.r[i.rm << 1]!) & 0xf;
  writeCr0(c, vmxView(c, 0, (c.cr0 & ~0xe) | src | (c.cr0 & CR0_PE), 0));
};

/**
 * SMSW: a memory destination gets CR0[15:0]; a register gets CR0 at the
 * operand size (bits above 15 are "undefined" for r32 in the SDM; Intel
 * cores store CR0[31:0], and zero-extend for r64). In VMX non-root
 * operation it reads CR0 through the guest/host mask and read shadow, all
 * 64 bits for r64 (SDM Vol. 3C §26.3).
 */
const smsw: ExecFn = (c, i) => {
  const v = guestView(c, 0, c.cr0);
  if (i.isMem) writeMem(c, i.ea(c, i), 2, v & 0xffff, 0);
  else writeReg(c, i.rm, i.opSize, 0, v | 0, c.opHi);
};

export const CONTROL_REGISTER_OPCODES: OpcodeDef[] = [
  { op: '0F 20 /r', mnemonic: 'mov', operands: 'Rd,Cd', select: crForm(movFromCr, VALID_CRS) },
  { op: '0F 22 /r', mnemonic: 'mov', operands: 'Cd,Rd', flags: ['stop'], select: crForm(movToCr, VALID_CRS) },
  { op: '0F 06', mnemonic: 'clts', exec: clts },
  { op: '0F 01 /6', mnemonic: 'lmsw', operands: 'Ev', flags: ['stop'], select: word16Form(lmsw) },
  { op: '0F 01 /4', mnemonic: 'smsw', operands: 'Ev', exec: smsw },
];
