/**
 * The checks on the host-state area at VM entry, SDM Vol. 3C §27.2.2-§27.2.4
 * (§26.2.2-§26.2.4 in older editions), in the SDM's order. They run after
 * the checks on VMX controls (§27.2.1); the first that fails makes
 * VMLAUNCH/VMRESUME VMfailValid(8) "VM entry with invalid host-state
 * field(s)", and the failure names the predicate for traces and logs.
 */
import { VmInstructionError } from '../instructionError.ts';
import { checkRunner, type EntryCheck } from './checkResult.ts';
import { HOST_ADDRESS_SPACE_CHECKS } from './hostAddressSpaceChecks.ts';
import { HOST_CONTROL_REGISTER_CHECKS } from './hostControlRegisterChecks.ts';
import { HOST_SEGMENT_CHECKS } from './hostSegmentChecks.ts';

/** The VM-instruction error a failed host-state check gives (§31.4 Table 31-1). */
export const HOST_STATE_CHECK_ERROR = VmInstructionError.VmentryInvalidHostStateFields;

export const HOST_STATE_CHECKS: readonly EntryCheck[] = [
  ...HOST_CONTROL_REGISTER_CHECKS,
  ...HOST_SEGMENT_CHECKS,
  ...HOST_ADDRESS_SPACE_CHECKS,
];

/** The first host-state check the VMCS fails, or null when all hold. */
export const checkHostState = checkRunner(HOST_STATE_CHECKS);
