/**
 * Instructions that exit on their own VM-execution control (SDM Vol. 3C
 * §26.1.3), other than HLT (basicExits.ts), the control-register, debug-
 * register, I/O and MSR accesses (accessExits.ts) and the VMX instructions.
 */
import type { InterceptRow } from './interceptRow.ts';

export const INSTRUCTION_INTERCEPTS: readonly InterceptRow[] = [];
