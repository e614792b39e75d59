/**
 * What INVEPT and INVVPID share (SDM Vol. 3C ch. 31, their pages'
 * "Operation" and exception sections), in their order:
 *
 *   #UD outside VMX operation, in real, virtual-8086 and compatibility
 *   mode, and when the processor lacks the instruction: no "enable EPT"
 *   (IA32_VMX_PROCBASED_CTLS2 bit 33) or no INVEPT (IA32_VMX_EPT_VPID_CAP
 *   bit 20); no "enable VPID" (bit 37) or no INVVPID (bit 32);
 *   #GP(0) at CPL > 0;
 *   VMfail(Invalid operand to INVEPT/INVVPID) when "IA32_VMX_EPT_VPID_CAP
 *   MSR indicates that processor does not support" the type in the
 *   register operand: INVEPT type 1 bit 25, type 2 bit 26; INVVPID type t
 *   (0..3) bit 40 + t; any other value is no type;
 *   only then the 128-bit descriptor, read from memory as a data read
 *   (#GP(0), #SS(0), #PF as the pages list).
 *
 * So an unsupported type fails before the memory operand is touched, and
 * the memory operand faults before any check on the descriptor.
 * (In VMX non-root operation both exit instead: vmx/exit/vmxInstructionExits.ts.)
 */
import type { Cpu } from '../../cpu/cpu.ts';
import { fault, Vector } from '../../cpu/exceptions.ts';
import { readMem } from '../../cpu/exec/operands.ts';
import { VmInstructionError } from '../instructionError.ts';
import { VMX_MSR, type VmxModel } from '../model/vmxModel.ts';
import { requireVmxRootCpl0 } from './checks.ts';
import { vmFail } from './conventions.ts';
import type { VmxState } from './vmxState.ts';

/** Bit of IA32_VMX_EPT_VPID_CAP[31:0] for INVEPT type t (1, 2) is 24 + t; of [63:32] for INVVPID type t (0..3), 8 + t. */
const INVEPT_TYPE_BIT0 = 24, INVVPID_TYPE_BIT0 = 8;
const INVEPT_BIT = 1 << 20, INVVPID_BIT = 1 << 0;

/** The 128-bit descriptor as four 32-bit words, bits 31:0 first (one per module: the instructions run to completion). */
const descriptor = new Int32Array(4);

/** IA32_VMX_EPT_VPID_CAP as the model reports it, or undefined when it has no such MSR. */
const capabilities = (m: VmxModel) => m.read(VMX_MSR.EPT_VPID_CAP);

/** The processor has INVEPT (`ept`) or INVVPID: the #UD conditions of their pages, negated. */
export function hasInvalidation(m: VmxModel, ept: boolean): boolean {
  const cap = capabilities(m);
  return ept
    ? m.supports('proc2', 'enableEpt') && cap !== undefined && (cap.lo & INVEPT_BIT) !== 0
    : m.supports('proc2', 'enableVpid') && cap !== undefined && (cap.hi & INVVPID_BIT) !== 0;
}

/** IA32_VMX_EPT_VPID_CAP says the processor supports INVEPT (`ept`) or INVVPID type `type`. */
function typeSupported(m: VmxModel, ept: boolean, type: number): boolean {
  const cap = capabilities(m);
  if (cap === undefined) return false;
  if (ept) return (type === 1 || type === 2) && ((cap.lo >>> (INVEPT_TYPE_BIT0 + type)) & 1) !== 0;
  return type >= 0 && type <= 3 && ((cap.hi >>> (INVVPID_TYPE_BIT0 + type)) & 1) !== 0;
}

/**
 * The checks of INVEPT (`ept`) or INVVPID up to the type, whose register
 * operand holds `type` (64 bits in 64-bit mode, else 32; as a number,
 * exact below 2^53 and never a type above): raises #UD or #GP(0), or
 * returns false after VMfail(28) for an unsupported type.
 */
export function invalidationTypeOk(s: VmxState, c: Cpu, ept: boolean, type: number): boolean {
  if (!s.inVmxOperation || !hasInvalidation(s.model, ept)) fault(Vector.UD);
  requireVmxRootCpl0(s, c);
  if (typeSupported(s.model, ept, type)) return true;
  invalidOperand(s, c);
  return false;
}

/** Reads the 16-byte descriptor at linear address `la` (a data read: faults as one), bits 31:0 first. */
export function readDescriptor(c: Cpu, la: number): Int32Array {
  descriptor[0] = readMem(c, la, 8);
  descriptor[1] = c.opHi;
  descriptor[2] = readMem(c, la + 8, 8);
  descriptor[3] = c.opHi;
  return descriptor;
}

/** VMfail(Invalid operand to INVEPT/INVVPID), error 28 (§31.4). */
export function invalidOperand(s: VmxState, c: Cpu): void {
  vmFail(s, c, VmInstructionError.InvalidInveptInvvpidOperand);
}
