/**
 * The VMX instructions in VMX non-root operation (SDM Vol. 3C ch. 31, each
 * page's "ELSIF in VMX non-root operation THEN VM exit"; §26.1.2): after
 * the #UD for real, virtual-8086 and compatibility mode (VMCALL has none),
 * each exits with its own basic reason, whatever the CPL.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import type { Insn } from '../../cpu/decode/insn.ts';
import { VmxInstruction } from '../../cpu/vmxPort.ts';
import { ExitReason } from '../exitReason.ts';
import { requireVmxCapableMode } from '../unit/checks.ts';
import type { VmxState } from '../unit/vmxState.ts';
import { instructionExit } from './instructionExit.ts';

/** Basic exit reason of each VMX instruction, by VmxInstruction (Appendix C). */
const REASONS: Readonly<Record<VmxInstruction, ExitReason>> = {
  [VmxInstruction.Vmxon]: ExitReason.Vmxon,
  [VmxInstruction.Vmxoff]: ExitReason.Vmxoff,
  [VmxInstruction.Vmclear]: ExitReason.Vmclear,
  [VmxInstruction.Vmptrld]: ExitReason.Vmptrld,
  [VmxInstruction.Vmptrst]: ExitReason.Vmptrst,
  [VmxInstruction.Vmread]: ExitReason.Vmread,
  [VmxInstruction.Vmwrite]: ExitReason.Vmwrite,
  [VmxInstruction.Vmlaunch]: ExitReason.Vmlaunch,
  [VmxInstruction.Vmresume]: ExitReason.Vmresume,
  [VmxInstruction.Vmcall]: ExitReason.Vmcall,
  [VmxInstruction.Invept]: ExitReason.Invept,
  [VmxInstruction.Invvpid]: ExitReason.Invvpid,
  [VmxInstruction.Vmfunc]: ExitReason.Vmfunc,
};

export function vmxInstructionExit(s: VmxState, c: Cpu, i: Insn, op: VmxInstruction): void {
  if (op !== VmxInstruction.Vmcall) requireVmxCapableMode(c);
  instructionExit(s, c, i, REASONS[op]);
}
