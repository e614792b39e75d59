import type { OpcodeDef } from '../decode/opcodeDef.ts';

// Filled in by the system-architecture work (issue 3): segment loads, far transfers, IRET, MOV CR/DR, system instructions.
export const SYSTEM_OPCODES: OpcodeDef[] = [];
