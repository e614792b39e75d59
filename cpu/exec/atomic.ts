import type { OpcodeDef } from '../decode/opcodeDef.ts';

// Filled in by the atomic family work (issue 2).
export const ATOMIC_OPCODES: OpcodeDef[] = [];
