import type { OpcodeDef } from '../decode/opcodeDef.ts';

// Filled in by the io family work (issue 2).
export const IO_OPCODES: OpcodeDef[] = [];
