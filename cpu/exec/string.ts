import type { OpcodeDef } from '../decode/opcodeDef.ts';

// Filled in by the string family work (issue 2).
export const STRING_OPCODES: OpcodeDef[] = [];
