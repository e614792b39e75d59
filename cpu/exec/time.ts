import type { OpcodeDef } from '../decode/opcodeDef.ts';

// Filled in by the time family work (issue 2).
export const TIME_OPCODES: OpcodeDef[] = [];
