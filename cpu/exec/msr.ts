/**
 * RDMSR and WRMSR (SDM Vol. 2B): ECX selects the MSR, EDX:EAX carry the
 * value. Privileged: CPL > 0 (which includes virtual-8086 mode) raises
 * #GP(0), and so does an index the model does not have; the MSR's own row
 * raises #GP(0) for values it forbids (reserved bits...), before anything
 * changes. In 64-bit mode the upper halves of RCX, RAX and RDX are ignored,
 * and RDMSR clears those of RAX and RDX.
 */
import type { Cpu } from '../cpu.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import type { ExecFn } from '../decode/insn.ts';
import { fault, Vector } from '../exceptions.ts';
import { findMsr } from '../msr/index.ts';
import type { MsrDef } from '../msr/msrDef.ts';
import { Reg } from '../registers.ts';
import { wr32 } from './operands.ts';

function msrInEcx(c: Cpu): MsrDef {
  if (c.cpl !== 0) fault(Vector.GP, 0);
  const index = c.r[Reg.RCX << 1]!;
  return findMsr(index) ?? c.vmx?.findMsr(index) ?? fault(Vector.GP, 0);
}

const rdmsr: ExecFn = (c) => {
  const lo = msrInEcx(c).read(c);
  const hi = c.opHi;
  wr32(c, Reg.RAX, lo);
  wr32(c, Reg.RDX, hi);
};

/** WRMSR is serializing and may change the mode (EFER), so it ends the decoded block. */
const wrmsr: ExecFn = (c) => {
  const m = msrInEcx(c);
  if (!m.write) fault(Vector.GP, 0);
  m.write(c, c.r[Reg.RAX << 1]!, c.r[Reg.RDX << 1]!);
};

export const MSR_OPCODES: OpcodeDef[] = [
  { op: '0F 32', mnemonic: 'rdmsr', exec: rdmsr },
  { op: '0F 30', mnemonic: 'wrmsr', flags: ['stop'], exec: wrmsr },
];
