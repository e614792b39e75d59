import type { OpcodeDef } from '../decode/opcodeDef.ts';

// Filled in by the cpuid family work (issue 2).
export const CPUID_OPCODES: OpcodeDef[] = [];
