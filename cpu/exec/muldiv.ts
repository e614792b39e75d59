import type { OpcodeDef } from '../decode/opcodeDef.ts';

// Filled in by the muldiv family work (issue 2).
export const MULDIV_OPCODES: OpcodeDef[] = [];
