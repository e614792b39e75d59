import type { OpcodeDef } from '../decode/opcodeDef.ts';

// Filled in by the MSR work (issue 3): RDMSR, WRMSR.
export const MSR_OPCODES: OpcodeDef[] = [];
