/**
 * The VMX instructions in VMX non-root operation (SDM Vol. 3C ch. 31, each
 * page's operation section; §26.1.2). What the pages check before "ELSIF in
 * VMX non-root operation THEN VMexit" has priority over the exit (§26.1.1);
 * the CPL check comes after it, so every one of them exits at CPL 3 too:
 *
 *   VMCALL              nothing: it exits in every mode;
 *   VMXON               #UD if CR4.VMXE = 0, then the mode check below;
 *   INVEPT, INVVPID     #UD when the processor lacks the instruction (their
 *                       pages: no "enable EPT" / "enable VPID" in
 *                       IA32_VMX_PROCBASED_CTLS2, or IA32_VMX_EPT_VPID_CAP
 *                       bit 20 / bit 32 clear), then the mode check;
 *   VMFUNC              #UD unless "enable VM functions" is 1 and EAX < 64
 *                       (VMFUNC page; §26.5.6), then the VM function runs
 *                       without an exit if enabled and it succeeds
 *                       (vmfunc.ts), else the exit;
 *   the others          #UD in real, virtual-8086 and compatibility mode.
 *
 * VMREAD and VMWRITE do not exit when VMCS shadowing lets them run
 * (vmx/unit/shadowVmcs.ts); vmxInstructionExit returns false for them.
 * A VMFUNC that performs its function has nothing left for root operation
 * to do: vmxInstructionExit returns true for it too.
 *
 * Exit qualification (§28.2.1): for VMCLEAR, VMPTRLD, VMPTRST, VMXON,
 * VMREAD, VMWRITE, INVEPT and INVVPID, the displacement of the memory
 * operand (operandQualification.ts: sign-extended, 0 for a register
 * operand, next RIP + displacement for RIP-relative addressing); 0 for the
 * others. Instruction information (§28.2.5, instructionInformation.ts):
 * the table for VMCLEAR, VMPTRLD, VMPTRST and VMXON is the memory operand
 * alone; the tables for VMREAD/VMWRITE and INVEPT/INVVPID add Reg2, the
 * ModRM.reg register (the field encoding; the INVEPT/INVVPID type), to the
 * r/m operand (a VMREAD/VMWRITE register operand as Reg1 with bit 10 set;
 * INVEPT/INVVPID have only the memory form, cpu/exec/vmx.ts: Mdq). VMXOFF,
 * VMLAUNCH, VMRESUME, VMCALL and VMFUNC have none (the field is not written).
 */
import type { Cpu } from '../../cpu/cpu.ts';
import type { Insn } from '../../cpu/decode/insn.ts';
import { fault, Vector } from '../../cpu/exceptions.ts';
import { CR4_VMXE } from '../../cpu/system/controlRegs.ts';
import { VmxInstruction } from '../../cpu/vmxPort.ts';
import { bit, secondaryControls } from '../entry/controlFields.ts';
import { ExitReason } from '../exitReason.ts';
import { hasInvalidation } from '../unit/invalidation.ts';
import { requireVmxCapableMode } from '../unit/checks.ts';
import { shadowedAccess } from '../unit/shadowVmcs.ts';
import type { VmxState } from '../unit/vmxState.ts';
import { instructionExit } from './instructionExit.ts';
import { memoryOperand, reg2, registerOrMemory } from './instructionInformation.ts';
import { displacementQualification } from './operandQualification.ts';
import { vmFunction } from './vmfunc.ts';

const ENABLE_VM_FUNCTIONS = bit('proc2', 'enableVmFunctions');
/** VM functions are numbered 0..63 (§25.6.14). */
const VM_FUNCTION_COUNT = 64;

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

/** The exceptions of `op` that come before its VM exit, as listed in the header. */
function exceptionsBeforeExit(s: VmxState, c: Cpu, op: VmxInstruction): void {
  switch (op) {
    case VmxInstruction.Vmcall:
      return;
    case VmxInstruction.Vmfunc:
      if ((secondaryControls(s.vmcs) & ENABLE_VM_FUNCTIONS) === 0 || c.r[0]! >>> 0 >= VM_FUNCTION_COUNT) fault(Vector.UD);
      return;
    case VmxInstruction.Invept:
    case VmxInstruction.Invvpid:
      if (!hasInvalidation(s.model, op === VmxInstruction.Invept)) fault(Vector.UD);
      break;
    case VmxInstruction.Vmxon:
      if ((c.cr4 & CR4_VMXE) === 0) fault(Vector.UD);
      break;
  }
  requireVmxCapableMode(c);
}

/** The instruction-information field of `op`'s exit, or -1 for none. */
function instructionInfo(op: VmxInstruction, i: Insn): number {
  switch (op) {
    case VmxInstruction.Vmclear:
    case VmxInstruction.Vmptrld:
    case VmxInstruction.Vmptrst:
    case VmxInstruction.Vmxon:
      return memoryOperand(i);
    case VmxInstruction.Vmread:
    case VmxInstruction.Vmwrite:
    case VmxInstruction.Invept:
    case VmxInstruction.Invvpid:
      return (registerOrMemory(i) | reg2(i.reg)) >>> 0;
    default:
      return -1;
  }
}

/**
 * In non-root operation: the exceptions `op` raises first, then its VM
 * exit; returns true when it exited or (VMFUNC) performed its VM function,
 * false when VMCS shadowing lets a VMREAD or VMWRITE run.
 */
export function vmxInstructionExit(s: VmxState, c: Cpu, i: Insn, op: VmxInstruction): boolean {
  exceptionsBeforeExit(s, c, op);
  if ((op === VmxInstruction.Vmread || op === VmxInstruction.Vmwrite) && shadowedAccess(s, c, i, op === VmxInstruction.Vmwrite)) {
    return false;
  }
  if (op === VmxInstruction.Vmfunc && vmFunction(s, c)) return true;
  const info = instructionInfo(op, i);
  if (info < 0) {
    instructionExit(s, c, i, REASONS[op], 0, 0, info);
  } else {
    const qualLo = displacementQualification(c, i);
    instructionExit(s, c, i, REASONS[op], qualLo, c.opHi, info);
  }
  return true;
}
