/**
 * The shape of one row of the non-root intercept table (intercepts.ts):
 * which instruction, and the function that decides from the VMX controls
 * whether it exits, takes the exit if so, and says whether it did.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import type { Insn } from '../../cpu/decode/insn.ts';
import type { Intercept } from '../../cpu/vmxPort.ts';
import type { VmxState } from '../unit/vmxState.ts';

export type InterceptFn = (s: VmxState, c: Cpu, i: Insn) => boolean;
export type InterceptRow = readonly [Intercept, InterceptFn];
