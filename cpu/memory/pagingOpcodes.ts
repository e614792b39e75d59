import type { OpcodeDef } from '../decode/opcodeDef.ts';

// Filled in by the paging work (issue 3): INVLPG, INVPCID, STAC, CLAC.
export const PAGING_OPCODES: OpcodeDef[] = [];
