/**
 * The system-architecture instruction rows (issue 3): segment loads, far
 * transfers, IRET, fast system calls, control and debug registers, the
 * descriptor-table and pointer-validation instructions, and the
 * privileged no-ops. Registered with the decoder through cpu/exec/index.ts.
 */
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import { CONTROL_REGISTER_OPCODES } from './controlRegs.ts';
import { DEBUG_REGISTER_OPCODES } from './debugRegs.ts';
import { FAR_JUMP_OPCODES } from './farJump.ts';
import { FAR_RETURN_OPCODES } from './farReturn.ts';
import { FAST_CALL_OPCODES } from './fastCalls.ts';
import { IRET_OPCODES } from './iret.ts';
import { PROCESSOR_CONTROL_OPCODES } from './processorControl.ts';
import { PROTECTION_OPCODES } from './protection.ts';
import { SEGMENT_OPCODES } from './segmentOps.ts';
import { TABLE_OPCODES } from './tables.ts';

export const SYSTEM_OPCODES: OpcodeDef[] = [
  ...SEGMENT_OPCODES,
  ...FAR_JUMP_OPCODES,
  ...FAR_RETURN_OPCODES,
  ...IRET_OPCODES,
  ...FAST_CALL_OPCODES,
  ...CONTROL_REGISTER_OPCODES,
  ...DEBUG_REGISTER_OPCODES,
  ...TABLE_OPCODES,
  ...PROTECTION_OPCODES,
  ...PROCESSOR_CONTROL_OPCODES,
];
