import type { OpcodeDef } from '../decode/opcodeDef.ts';

// Filled in by the nop family work (issue 2).
export const NOP_OPCODES: OpcodeDef[] = [];
