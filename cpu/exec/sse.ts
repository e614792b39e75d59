import type { OpcodeDef } from '../decode/opcodeDef.ts';

// Filled in by the sse family work (issue 2).
export const SSE_OPCODES: OpcodeDef[] = [];
