import type { OpcodeDef } from '../decode/opcodeDef.ts';

// Filled in by the interrupt family work (issue 2).
export const INTERRUPT_OPCODES: OpcodeDef[] = [];
