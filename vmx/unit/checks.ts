/**
 * The exception and address checks the VMX instruction pages of SDM Vol.
 * 3C ch. 31 share, in their order: #UD first (mode, VMX operation), then
 * #GP(0) (CPL), then the VMfail checks on physical addresses.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import { fault, Vector } from '../../cpu/exceptions.ts';
import { VM } from '../../cpu/flags.ts';
import { CR0_PE, EFER_LMA } from '../../cpu/system/mode.ts';
import type { VmxState } from './vmxState.ts';

/**
 * #UD when "(CR0.PE = 0) or (RFLAGS.VM = 1) or (IA32_EFER.LMA = 1 and
 * CS.L = 0)": real mode, virtual-8086 mode and compatibility mode.
 */
export function requireVmxCapableMode(c: Cpu): void {
  if ((c.cr0 & CR0_PE) === 0 || (c.eflags & VM) !== 0 || ((c.efer & EFER_LMA) !== 0 && c.codeSize !== 64)) fault(Vector.UD);
}

/**
 * The checks of every VMX instruction but VMXON before its operation:
 * #UD outside VMX operation or in the modes above; #GP(0) if CPL > 0.
 * (In VMX non-root operation the instructions exit before these checks: vmx/exit/vmxInstructionExits.ts.)
 */
export function requireVmxRootCpl0(s: VmxState, c: Cpu): void {
  if (!s.inVmxOperation) fault(Vector.UD);
  requireVmxCapableMode(c);
  if (c.cpl > 0) fault(Vector.GP, 0);
}

/** "addr is not 4KB-aligned or addr sets any bits beyond the physical-address width". */
export function isInvalidRegionAddress(c: Cpu, pa: number): boolean {
  return pa < 0 || pa % 4096 !== 0 || pa >= 2 ** c.model.physAddrBits;
}
