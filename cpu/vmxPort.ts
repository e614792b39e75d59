/**
 * Where VMX plugs into the core (DESIGN "Shape": cpu/ never imports vmx/).
 * The core decodes the VMX instructions (cpu/exec/vmx.ts) and hands each to
 * the core's VmxUnit, which vmx/ implements; a core without one raises #UD,
 * as a processor without VMX does. The unit's operations are the same
 * functions the TypeScript hypervisor calls (DESIGN decision 1).
 */
import type { Cpu } from './cpu.ts';
import type { Insn } from './decode/insn.ts';
import type { MsrDef } from './msr/msrDef.ts';

export const enum VmxInstruction {
  Vmxon, Vmxoff, Vmclear, Vmptrld, Vmptrst, Vmread, Vmwrite,
  Vmlaunch, Vmresume, Vmcall, Invept, Invvpid, Vmfunc,
}

export interface VmxUnit {
  /** MSRs the VMX unit adds to the machine's table (the IA32_VMX_* capability MSRs), by index. */
  findMsr(index: number): MsrDef | undefined;
  /** INIT is blocked in VMX root operation (SDM Vol. 3C §24.8); a pending INIT waits until this is false. */
  readonly blocksInit: boolean;
  /**
   * Executes VMX instruction `op` in its decoded form `i` on core `c`:
   * raises the SDM's exceptions by throwing, and reports VMsucceed /
   * VMfailInvalid / VMfailValid(n) through RFLAGS and the VMCS as the
   * instruction's pseudocode says.
   */
  execute(c: Cpu, i: Insn, op: VmxInstruction): void;
}
