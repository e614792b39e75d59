import type { OpcodeDef } from '../decode/opcodeDef.ts';

// Filled in by the bits family work (issue 2).
export const BITS_OPCODES: OpcodeDef[] = [];
