/**
 * Entering and leaving VMX operation: VMXON and VMXOFF (SDM Vol. 3C
 * ch. 31, the "VMXON—Enter VMX Operation" and "VMXOFF—Leave VMX
 * Operation" pages; §24.7 "Enabling and Entering VMX Operation", §24.8
 * "Restrictions on VMX Operation"). Each operation is what the decoded
 * instruction and the TypeScript hypervisor both call (DESIGN decision 1).
 */
import type { Cpu } from '../../cpu/cpu.ts';
import { fault, Vector } from '../../cpu/exceptions.ts';
import { loadMsr } from '../../cpu/msr/platformState.ts';
import { CR4_VMXE } from '../../cpu/system/controlRegs.ts';
import { VmInstructionError } from '../instructionError.ts';
import { VMX_MSR } from '../model/vmxModel.ts';
import { vmFail, vmFailInvalid, vmSucceed } from './conventions.ts';
import { isInvalidRegionAddress, requireVmxCapableMode, requireVmxRootCpl0 } from './checks.ts';
import { INVALID_POINTER, type VmxState } from './vmxState.ts';

const IA32_FEATURE_CONTROL = 0x3a;
const FEATURE_CONTROL_LOCK = 1 << 0;
const FEATURE_CONTROL_VMX_OUTSIDE_SMX = 1 << 2;

/** "The values of CR0 and CR4 are not supported in VMX operation": IA32_VMX_CR0/CR4_FIXED0/1 (§24.8, Appendix A.7, A.8). */
function crsFitFixedBits(s: VmxState, c: Cpu): boolean {
  const fits = (v: number, f0: number, f1: number): boolean => ((v & f0) >>> 0) === f0 >>> 0 && (v & ~f1) === 0;
  const m = s.model;
  return fits(c.cr0, m.read(VMX_MSR.CR0_FIXED0)!.lo, m.read(VMX_MSR.CR0_FIXED1)!.lo)
    && fits(c.cr4, m.read(VMX_MSR.CR4_FIXED0)!.lo, m.read(VMX_MSR.CR4_FIXED1)!.lo);
}

/**
 * The exceptions of VMXON, in the page's order: #UD if CR4.VMXE = 0 or in
 * real, virtual-8086 or compatibility mode; outside VMX operation #GP(0)
 * if CPL > 0, CR0/CR4 break the fixed bits, or IA32_FEATURE_CONTROL's lock
 * or enable-VMX-outside-SMX bit is clear (there is no SMX, no A20M);
 * inside VMX (root) operation #GP(0) if CPL > 0.
 */
export function vmxonFaults(s: VmxState, c: Cpu): void {
  if ((c.cr4 & CR4_VMXE) === 0) fault(Vector.UD);
  requireVmxCapableMode(c);
  if (c.cpl > 0) fault(Vector.GP, 0);
  if (s.inVmxOperation) return;
  const fc = loadMsr(c, IA32_FEATURE_CONTROL, 0, 0);
  if (!crsFitFixedBits(s, c) || (fc & FEATURE_CONTROL_LOCK) === 0 || (fc & FEATURE_CONTROL_VMX_OUTSIDE_SMX) === 0) {
    fault(Vector.GP, 0);
  }
}

/**
 * VMXON with the VMXON pointer `pa`. Outside VMX operation: VMfailInvalid
 * for an address not 4-KByte aligned or beyond the physical-address width,
 * or a region whose revision identifier differs from IA32_VMX_BASIC[30:0]
 * or whose bit 31 is set; else enter VMX operation with no current VMCS
 * (which blocks INIT: VmxState.blocksInit) and VMsucceed. In VMX root
 * operation: VMfail(15). Address-range monitoring is not modelled.
 */
export function vmxon(s: VmxState, c: Cpu, pa: number): void {
  vmxonFaults(s, c);
  if (s.inVmxOperation) {
    vmFail(s, c, VmInstructionError.VmxonInVmxRoot);
    return;
  }
  if (isInvalidRegionAddress(c, pa) || c.phys.readSized(pa, 4) >>> 0 !== s.model.features.vmcsRevisionId) {
    vmFailInvalid(c);
    return;
  }
  s.inVmxOperation = true;
  s.vmxonPointer = pa;
  s.currentVmcs = INVALID_POINTER;
  s.currentIsShadow = false;
  vmSucceed(c);
}

/**
 * VMXOFF: #UD outside VMX operation or in real, virtual-8086 or
 * compatibility mode, #GP(0) if CPL > 0; else leave VMX operation (INIT
 * unblocked) and VMsucceed. The dual-monitor treatment of SMM (VMfail(23))
 * does not exist in the model. The current VMCS stays in the cache,
 * unwritten: software is to VMCLEAR it first (§24.11 "VMX and Software").
 */
export function vmxoff(s: VmxState, c: Cpu): void {
  requireVmxRootCpl0(s, c);
  s.inVmxOperation = false;
  s.vmxonPointer = INVALID_POINTER;
  // An INIT held off by VMX root operation is delivered now (SDM Vol. 3C §24.8).
  if (c.initPending) {
    c.eventsPending = true;
    c.exitBlock = true;
  }
  vmSucceed(c);
}
