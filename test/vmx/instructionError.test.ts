import { describe, expect, it } from 'vitest';
import {
  VM_INSTRUCTION_ERRORS, VmInstructionError, vmInstructionErrorInfo, vmInstructionErrorName,
} from '../../vmx/instructionError.ts';

/**
 * SDM Vol. 3C §31.4 "VM Instruction Error Numbers", Table 31-1; cross-checked
 * with Linux arch/x86/include/asm/vmx.h enum vm_instruction_error_number.
 */
const TABLE_31_1: [number, VmInstructionError, string, string][] = [
  [1, VmInstructionError.VmcallInVmxRoot, 'VmcallInVmxRoot', 'VMCALL executed in VMX root operation'],
  [2, VmInstructionError.VmclearInvalidAddress, 'VmclearInvalidAddress', 'VMCLEAR with invalid physical address'],
  [3, VmInstructionError.VmclearVmxonPointer, 'VmclearVmxonPointer', 'VMCLEAR with VMXON pointer'],
  [4, VmInstructionError.VmlaunchNonClearVmcs, 'VmlaunchNonClearVmcs', 'VMLAUNCH with non-clear VMCS'],
  [5, VmInstructionError.VmresumeNonLaunchedVmcs, 'VmresumeNonLaunchedVmcs', 'VMRESUME with non-launched VMCS'],
  [6, VmInstructionError.VmresumeAfterVmxoff, 'VmresumeAfterVmxoff', 'VMRESUME after VMXOFF'],
  [7, VmInstructionError.VmentryInvalidControlFields, 'VmentryInvalidControlFields', 'VM entry with invalid control field(s)'],
  [8, VmInstructionError.VmentryInvalidHostStateFields, 'VmentryInvalidHostStateFields', 'VM entry with invalid host-state field(s)'],
  [9, VmInstructionError.VmptrldInvalidAddress, 'VmptrldInvalidAddress', 'VMPTRLD with invalid physical address'],
  [10, VmInstructionError.VmptrldVmxonPointer, 'VmptrldVmxonPointer', 'VMPTRLD with VMXON pointer'],
  [11, VmInstructionError.VmptrldIncorrectRevisionId, 'VmptrldIncorrectRevisionId', 'VMPTRLD with incorrect VMCS revision identifier'],
  [12, VmInstructionError.UnsupportedVmcsComponent, 'UnsupportedVmcsComponent', 'VMREAD/VMWRITE from/to unsupported VMCS component'],
  [13, VmInstructionError.VmwriteReadOnlyComponent, 'VmwriteReadOnlyComponent', 'VMWRITE to read-only VMCS component'],
  [15, VmInstructionError.VmxonInVmxRoot, 'VmxonInVmxRoot', 'VMXON executed in VMX root operation'],
  [16, VmInstructionError.VmentryInvalidExecutiveVmcsPointer, 'VmentryInvalidExecutiveVmcsPointer', 'VM entry with invalid executive-VMCS pointer'],
  [17, VmInstructionError.VmentryNonLaunchedExecutiveVmcs, 'VmentryNonLaunchedExecutiveVmcs', 'VM entry with non-launched executive VMCS'],
  [18, VmInstructionError.VmentryExecutiveVmcsPointerNotVmxonPointer, 'VmentryExecutiveVmcsPointerNotVmxonPointer', 'VM entry with executive-VMCS pointer not VMXON pointer'],
  [19, VmInstructionError.VmcallNonClearVmcs, 'VmcallNonClearVmcs', 'VMCALL with non-clear VMCS'],
  [20, VmInstructionError.VmcallInvalidVmExitControlFields, 'VmcallInvalidVmExitControlFields', 'VMCALL with invalid VM-exit control fields'],
  [22, VmInstructionError.VmcallIncorrectMsegRevisionId, 'VmcallIncorrectMsegRevisionId', 'VMCALL with incorrect MSEG revision identifier'],
  [23, VmInstructionError.VmxoffUnderDualMonitor, 'VmxoffUnderDualMonitor', 'VMXOFF under dual-monitor treatment of SMIs and SMM'],
  [24, VmInstructionError.VmcallInvalidSmmMonitorFeatures, 'VmcallInvalidSmmMonitorFeatures', 'VMCALL with invalid SMM-monitor features'],
  [25, VmInstructionError.VmentryInvalidExecutionControlsInExecutiveVmcs, 'VmentryInvalidExecutionControlsInExecutiveVmcs', 'VM entry with invalid VM-execution control fields in executive VMCS'],
  [26, VmInstructionError.VmentryEventsBlockedByMovSs, 'VmentryEventsBlockedByMovSs', 'VM entry with events blocked by MOV SS'],
  [28, VmInstructionError.InvalidInveptInvvpidOperand, 'InvalidInveptInvvpidOperand', 'Invalid operand to INVEPT/INVVPID'],
];

describe('VM-instruction error numbers (SDM Vol. 3C §31.4, Table 31-1)', () => {
  it('each enum member has its SDM number, name and description', () => {
    for (const [n, error, name, description] of TABLE_31_1) {
      expect([name, error]).toEqual([name, n]);
      expect(vmInstructionErrorName(n)).toBe(name);
      expect(vmInstructionErrorInfo(n)?.description.startsWith(description)).toBe(true);
    }
    expect(VM_INSTRUCTION_ERRORS.length).toBe(TABLE_31_1.length);
  });

  it('reserved numbers 0, 14, 21, 27 and 29 have no entry', () => {
    for (const n of [0, 14, 21, 27, 29]) {
      expect(vmInstructionErrorInfo(n)).toBeUndefined();
      expect(vmInstructionErrorName(n)).toBe(`Error${n}`);
    }
  });
});
