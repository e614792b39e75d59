import type { OpcodeDef } from '../decode/opcodeDef.ts';

// Filled in by the xsave family work (issue 2).
export const XSAVE_OPCODES: OpcodeDef[] = [];
