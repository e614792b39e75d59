import type { OpcodeDef } from '../decode/opcodeDef.ts';

// Filled in by the random family work (issue 2).
export const RANDOM_OPCODES: OpcodeDef[] = [];
