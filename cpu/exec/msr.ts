/**
 * RDMSR and WRMSR (SDM Vol. 2B): ECX selects the MSR, EDX:EAX carry the
 * value. Privileged: CPL > 0 (which includes virtual-8086 mode) raises
 * #GP(0), and so does an index the model does not have; the MSR's own row
 * raises #GP(0) for values it forbids (reserved bits...), before anything
 * changes. In 64-bit mode the upper halves of RCX, RAX and RDX are ignored,
 * and RDMSR clears those of RAX and RDX.
 *
 * In VMX non-root operation the MSR-bitmap exit comes after the CPL check
 * and before the MSR is looked up (SDM Vol. 3C §26.1.1, §26.1.3); a WRMSR
 * to IA32_BIOS_UPDATE_TRIG (79H) that does not exit loads no microcode
 * update and passes control to the next instruction (§26.3).
 */
import type { Cpu } from '../cpu.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import type { ExecFn, Insn } from '../decode/insn.ts';
import { fault, Vector } from '../exceptions.ts';
import { findMsr } from '../msr/index.ts';
import type { MsrDef } from '../msr/msrDef.ts';
import { Reg } from '../registers.ts';
import { Intercept } from '../vmxPort.ts';
import { wr32 } from './operands.ts';

const IA32_BIOS_UPDATE_TRIG = 0x79;

/** #GP(0) at CPL > 0, then in VMX non-root operation the exit check; true when it exited. */
function privilegedExit(c: Cpu, i: Insn, what: Intercept): boolean {
  if (c.cpl !== 0) fault(Vector.GP, 0);
  return c.nonRoot && c.vmx!.intercept(c, i, what);
}

/** The MSR `index` as RDMSR and WRMSR find it: #GP(0) for one the model does not have. */
function msrAt(c: Cpu, index: number): MsrDef {
  return findMsr(index) ?? c.vmx?.findMsr(index) ?? fault(Vector.GP, 0);
}

/** The WRMSR operation after its checks: #GP(0) for a read-only MSR or a value it refuses. */
function store(c: Cpu, index: number, lo: number, hi: number): void {
  const m = msrAt(c, index);
  if (!m.write) fault(Vector.GP, 0);
  m.write(c, lo, hi);
}

const rdmsr: ExecFn = (c, i) => {
  if (privilegedExit(c, i, Intercept.Rdmsr)) return;
  const lo = msrAt(c, c.r[Reg.RCX << 1]!).read(c);
  const hi = c.opHi;
  wr32(c, Reg.RAX, lo);
  wr32(c, Reg.RDX, hi);
};

/** WRMSR is serializing and may change the mode (EFER), so it ends the decoded block. */
const wrmsr: ExecFn = (c, i) => {
  if (privilegedExit(c, i, Intercept.Wrmsr)) return;
  if (c.nonRoot && c.r[Reg.RCX << 1] === IA32_BIOS_UPDATE_TRIG) return;
  store(c, c.r[Reg.RCX << 1]!, c.r[Reg.RAX << 1]!, c.r[Reg.RDX << 1]!);
};

/**
 * RDMSR of `index` as root software on core `c` (the TypeScript hypervisor,
 * DESIGN decision 1): the instruction's checks and read, without the
 * registers. Returns bits 31:0, bits 63:32 in c.opHi; #GP(0) is a throw.
 */
export function readMsr(c: Cpu, index: number): number {
  if (c.cpl !== 0) fault(Vector.GP, 0);
  return msrAt(c, index).read(c);
}

/** WRMSR of hi:lo to `index` as root software on core `c`: the instruction's checks and write. */
export function writeMsr(c: Cpu, index: number, lo: number, hi: number): void {
  if (c.cpl !== 0) fault(Vector.GP, 0);
  store(c, index, lo, hi);
}

export const MSR_OPCODES: OpcodeDef[] = [
  { op: '0F 32', mnemonic: 'rdmsr', exec: rdmsr },
  { op: '0F 30', mnemonic: 'wrmsr', flags: ['stop'], exec: wrmsr },
];
