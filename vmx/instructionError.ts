/**
 * VM-instruction error numbers (SDM Vol. 3C §31.4 "VM Instruction Error
 * Numbers", Table 31-1). VMfailValid stores one of these in the
 * VM-instruction error field of the current VMCS. Numbers 14, 21 and 27 are
 * reserved.
 */
import { indexByNumber } from './numberedTable.ts';

export const enum VmInstructionError {
  VmcallInVmxRoot = 1,
  VmclearInvalidAddress = 2,
  VmclearVmxonPointer = 3,
  VmlaunchNonClearVmcs = 4,
  VmresumeNonLaunchedVmcs = 5,
  VmresumeAfterVmxoff = 6,
  VmentryInvalidControlFields = 7,
  VmentryInvalidHostStateFields = 8,
  VmptrldInvalidAddress = 9,
  VmptrldVmxonPointer = 10,
  VmptrldIncorrectRevisionId = 11,
  UnsupportedVmcsComponent = 12,
  VmwriteReadOnlyComponent = 13,
  VmxonInVmxRoot = 15,
  VmentryInvalidExecutiveVmcsPointer = 16,
  VmentryNonLaunchedExecutiveVmcs = 17,
  VmentryExecutiveVmcsPointerNotVmxonPointer = 18,
  VmcallNonClearVmcs = 19,
  VmcallInvalidVmExitControlFields = 20,
  VmcallIncorrectMsegRevisionId = 22,
  VmxoffUnderDualMonitor = 23,
  VmcallInvalidSmmMonitorFeatures = 24,
  VmentryInvalidExecutionControlsInExecutiveVmcs = 25,
  VmentryEventsBlockedByMovSs = 26,
  InvalidInveptInvvpidOperand = 28,
}

export interface VmInstructionErrorInfo {
  readonly error: VmInstructionError;
  /** The VmInstructionError member's name: what traces print. */
  readonly name: string;
  /** Table 31-1's description. */
  readonly description: string;
}

export const VM_INSTRUCTION_ERRORS: readonly VmInstructionErrorInfo[] = [
  { error: VmInstructionError.VmcallInVmxRoot, name: 'VmcallInVmxRoot', description: 'VMCALL executed in VMX root operation' },
  { error: VmInstructionError.VmclearInvalidAddress, name: 'VmclearInvalidAddress', description: 'VMCLEAR with invalid physical address' },
  { error: VmInstructionError.VmclearVmxonPointer, name: 'VmclearVmxonPointer', description: 'VMCLEAR with VMXON pointer' },
  { error: VmInstructionError.VmlaunchNonClearVmcs, name: 'VmlaunchNonClearVmcs', description: 'VMLAUNCH with non-clear VMCS' },
  { error: VmInstructionError.VmresumeNonLaunchedVmcs, name: 'VmresumeNonLaunchedVmcs', description: 'VMRESUME with non-launched VMCS' },
  { error: VmInstructionError.VmresumeAfterVmxoff, name: 'VmresumeAfterVmxoff', description: 'VMRESUME after VMXOFF (VMXOFF and VMXON between VMLAUNCH and VMRESUME)' },
  { error: VmInstructionError.VmentryInvalidControlFields, name: 'VmentryInvalidControlFields', description: 'VM entry with invalid control field(s)' },
  { error: VmInstructionError.VmentryInvalidHostStateFields, name: 'VmentryInvalidHostStateFields', description: 'VM entry with invalid host-state field(s)' },
  { error: VmInstructionError.VmptrldInvalidAddress, name: 'VmptrldInvalidAddress', description: 'VMPTRLD with invalid physical address' },
  { error: VmInstructionError.VmptrldVmxonPointer, name: 'VmptrldVmxonPointer', description: 'VMPTRLD with VMXON pointer' },
  { error: VmInstructionError.VmptrldIncorrectRevisionId, name: 'VmptrldIncorrectRevisionId', description: 'VMPTRLD with incorrect VMCS revision identifier' },
  { error: VmInstructionError.UnsupportedVmcsComponent, name: 'UnsupportedVmcsComponent', description: 'VMREAD/VMWRITE from/to unsupported VMCS component' },
  { error: VmInstructionError.VmwriteReadOnlyComponent, name: 'VmwriteReadOnlyComponent', description: 'VMWRITE to read-only VMCS component' },
  { error: VmInstructionError.VmxonInVmxRoot, name: 'VmxonInVmxRoot', description: 'VMXON executed in VMX root operation' },
  { error: VmInstructionError.VmentryInvalidExecutiveVmcsPointer, name: 'VmentryInvalidExecutiveVmcsPointer', description: 'VM entry with invalid executive-VMCS pointer' },
  { error: VmInstructionError.VmentryNonLaunchedExecutiveVmcs, name: 'VmentryNonLaunchedExecutiveVmcs', description: 'VM entry with non-launched executive VMCS' },
  { error: VmInstructionError.VmentryExecutiveVmcsPointerNotVmxonPointer, name: 'VmentryExecutiveVmcsPointerNotVmxonPointer', description: 'VM entry with executive-VMCS pointer not VMXON pointer (when attempting to deactivate the dual-monitor treatment of SMIs and SMM)' },
  { error: VmInstructionError.VmcallNonClearVmcs, name: 'VmcallNonClearVmcs', description: 'VMCALL with non-clear VMCS (when attempting to activate the dual-monitor treatment of SMIs and SMM)' },
  { error: VmInstructionError.VmcallInvalidVmExitControlFields, name: 'VmcallInvalidVmExitControlFields', description: 'VMCALL with invalid VM-exit control fields' },
  { error: VmInstructionError.VmcallIncorrectMsegRevisionId, name: 'VmcallIncorrectMsegRevisionId', description: 'VMCALL with incorrect MSEG revision identifier (when attempting to activate the dual-monitor treatment of SMIs and SMM)' },
  { error: VmInstructionError.VmxoffUnderDualMonitor, name: 'VmxoffUnderDualMonitor', description: 'VMXOFF under dual-monitor treatment of SMIs and SMM' },
  { error: VmInstructionError.VmcallInvalidSmmMonitorFeatures, name: 'VmcallInvalidSmmMonitorFeatures', description: 'VMCALL with invalid SMM-monitor features (when attempting to activate the dual-monitor treatment of SMIs and SMM)' },
  { error: VmInstructionError.VmentryInvalidExecutionControlsInExecutiveVmcs, name: 'VmentryInvalidExecutionControlsInExecutiveVmcs', description: 'VM entry with invalid VM-execution control fields in executive VMCS (when attempting to return from SMM)' },
  { error: VmInstructionError.VmentryEventsBlockedByMovSs, name: 'VmentryEventsBlockedByMovSs', description: 'VM entry with events blocked by MOV SS' },
  { error: VmInstructionError.InvalidInveptInvvpidOperand, name: 'InvalidInveptInvvpidOperand', description: 'Invalid operand to INVEPT/INVVPID' },
];

const byNumber = indexByNumber(VM_INSTRUCTION_ERRORS, (e) => e.error, 'VM-instruction error');

export function vmInstructionErrorInfo(error: number): VmInstructionErrorInfo | undefined {
  return byNumber[error];
}

/** Trace name, e.g. 'UnsupportedVmcsComponent'; 'Error14' for a reserved number. */
export function vmInstructionErrorName(error: number): string {
  return byNumber[error]?.name ?? `Error${error}`;
}
