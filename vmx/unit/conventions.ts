/**
 * How VMX instructions report their outcome (SDM Vol. 3C §31.2
 * "Conventions"): VMsucceed clears CF, PF, AF, ZF, SF and OF;
 * VMfailInvalid sets CF and clears the others; VMfailValid(n) sets ZF,
 * clears the others and stores n in the current VMCS's VM-instruction
 * error field. VMfail(n) is VMfailValid(n) when there is a current VMCS,
 * else VMfailInvalid.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import { CF, writeArithFlags, ZF } from '../../cpu/flags.ts';
import type { VmInstructionError } from '../instructionError.ts';
import { vmcs } from '../vmcs/fields.ts';
import { fieldSlot } from './vmcsRegion.ts';
import { INVALID_POINTER, type VmxState } from './vmxState.ts';

const ERROR_SLOT = fieldSlot(vmcs.vmInstructionError.encoding);

export function vmSucceed(c: Cpu): void {
  writeArithFlags(c, 0);
}

export function vmFailInvalid(c: Cpu): void {
  writeArithFlags(c, CF);
}

export function vmFailValid(s: VmxState, c: Cpu, error: VmInstructionError): void {
  writeArithFlags(c, ZF);
  s.vmcs.lo[ERROR_SLOT] = error;
  s.vmcs.hi[ERROR_SLOT] = 0;
}

export function vmFail(s: VmxState, c: Cpu, error: VmInstructionError): void {
  if (s.currentVmcs === INVALID_POINTER) vmFailInvalid(c);
  else vmFailValid(s, c, error);
}
