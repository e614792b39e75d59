/**
 * The paging instructions: INVLPG, INVPCID (SDM Vol. 2B) and STAC/CLAC
 * (Vol. 2B; Vol. 3A §4.6.1 on SMAP and RFLAGS.AC).
 */
import type { Cpu } from '../cpu.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import type { ExecFn } from '../decode/insn.ts';
import { CpuException, fault, Vector } from '../exceptions.ts';
import { AC, VM } from '../flags.ts';
import { Intercept } from '../vmxPort.ts';
import { isCanonical } from './canonical.ts';
import { invalidatePage, invalidatePcid } from './paging.ts';
import { CR4_PCIDE } from './pagingUnit.ts';

const TWO32 = 4294967296;

/**
 * INVLPG m: CPL 0 only (#GP(0)); no memory is accessed, so no #PF. A
 * non-canonical address in 64-bit mode makes it a NOP, so the address
 * check's #GP/#SS is swallowed here. In VMX non-root operation "INVLPG
 * exiting" makes it exit after the CPL check (SDM Vol. 3C §26.1.3).
 */
const invlpg: ExecFn = (c, i) => {
  if (c.cpl !== 0) fault(Vector.GP, 0);
  if (c.nonRoot && c.vmx!.intercept(c, i, Intercept.Invlpg)) return;
  let la: number;
  try {
    la = i.ea(c, i);
  } catch (e) {
    if (e instanceof CpuException) return;
    throw e;
  }
  invalidatePage(c, la);
};

/**
 * INVPCID r64/r32, m128: the register gives the type (64 bits in 64-bit
 * mode, else 32), the memory operand the descriptor: PCID in bits 11:0,
 * bits 63:12 reserved, the linear address in bits 127:64. #UD without the
 * CPUID feature or in virtual-8086 mode; #GP(0) at CPL > 0, for a type
 * above 3, reserved descriptor bits, a non-canonical address with type 0,
 * or a PCID other than 000H with type 0 or 1 while CR4.PCIDE = 0. The type
 * is checked before the descriptor is read (an order the SDM leaves open).
 * In VMX non-root operation the VMX unit comes next: "enable INVPCID" = 0
 * is #UD ahead of every other exception, and the exit ("INVLPG exiting")
 * follows the CPL check (SDM Vol. 3C §26.3, §26.1.1).
 */
const invpcid: ExecFn = (c, i) => {
  if (!c.model.has('invpcid') || (c.eflags & VM) !== 0) fault(Vector.UD);
  if (c.nonRoot && c.vmx!.intercept(c, i, Intercept.Invpcid)) return;
  if (c.cpl !== 0) fault(Vector.GP, 0);
  const typeLo = c.r[i.reg << 1]!;
  const typeHi = i.mode === 64 ? c.r[(i.reg << 1) + 1]! : 0;
  if (typeHi !== 0 || typeLo >>> 0 > 3) fault(Vector.GP, 0);
  const ea = i.ea(c, i);
  const descLo = c.mmu.read64(ea);
  const descHi = c.mmu.hi;
  const laLo = c.mmu.read64(ea + 8);
  const la = (c.mmu.hi | 0) * TWO32 + (laLo >>> 0);
  if ((descLo & ~0xfff) !== 0 || descHi !== 0) fault(Vector.GP, 0);
  const pcid = descLo & 0xfff;
  if (typeLo === 0 && !isCanonical(la)) fault(Vector.GP, 0);
  if (typeLo <= 1 && pcid !== 0 && (c.cr4 & CR4_PCIDE) === 0) fault(Vector.GP, 0);
  invalidatePcid(c, typeLo, pcid, la);
};

/** STAC/CLAC: #UD without the CPUID SMAP feature or at CPL > 0 (virtual-8086 mode included). */
function smapCheck(c: Cpu): void {
  if (!c.model.has('smap') || c.cpl !== 0) fault(Vector.UD);
}

const stac: ExecFn = (c) => {
  smapCheck(c);
  c.eflags |= AC;
};

const clac: ExecFn = (c) => {
  smapCheck(c);
  c.eflags &= ~AC;
};

export const PAGING_OPCODES: OpcodeDef[] = [
  { op: '0F 01 /7', mnemonic: 'invlpg', operands: 'M', flags: ['stop'], exec: invlpg },
  { op: '0F 38 82 /r', mnemonic: 'invpcid', operands: 'Gy,M', size: 'm', prefix: '66', flags: ['stop'], exec: invpcid },
  { op: '0F 01 CB', mnemonic: 'stac', prefix: 'NP', exec: stac },
  { op: '0F 01 CA', mnemonic: 'clac', prefix: 'NP', exec: clac },
];
