/**
 * The checks on VMX controls of VM entry (SDM Vol. 3C §27.2.1 "Checks on
 * VMX Controls", §26.2.1 in older editions): the execution-, exit- and
 * entry-control checks in the SDM's order. A failure makes VMLAUNCH or
 * VMRESUME fail with VMfailValid(7) "VM entry with invalid control
 * field(s)"; the failure record names the predicate for traces and logs.
 */
import { VmInstructionError } from '../instructionError.ts';
import { checkRunner } from './checkResult.ts';
import { ENTRY_CONTROL_CHECKS } from './controlEntry.ts';
import { EXECUTION_CONTROL_CHECKS } from './controlExecution.ts';
import { EXIT_CONTROL_CHECKS } from './controlExit.ts';
import type { ControlCheck } from './controlFields.ts';

export type { ControlCheck, ControlCheckContext } from './controlFields.ts';

/** The error number VMfailValid stores when a check on VMX controls fails. */
export const CONTROL_CHECK_ERROR = VmInstructionError.VmentryInvalidControlFields;

/** Every check on VMX controls, in the SDM's order (§27.2.1.1, then .2, then .3). */
export const CONTROL_CHECKS: readonly ControlCheck[] = [
  ...EXECUTION_CONTROL_CHECKS,
  ...EXIT_CONTROL_CHECKS,
  ...ENTRY_CONTROL_CHECKS,
];

/** The first check on VMX controls the VMCS fails, or null when all hold. */
export const checkVmxControls = checkRunner(CONTROL_CHECKS);
