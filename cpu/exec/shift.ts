import type { OpcodeDef } from '../decode/opcodeDef.ts';

// Filled in by the shift family work (issue 2).
export const SHIFT_OPCODES: OpcodeDef[] = [];
