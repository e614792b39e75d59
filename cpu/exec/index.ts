/**
 * Every family's opcode rows, in one list: the single source from which the
 * decoder's tables are compiled (DESIGN decision 4).
 */
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import { PAGING_OPCODES } from '../memory/pagingOpcodes.ts';
import { SYSTEM_OPCODES } from '../system/opcodes.ts';
import { ALU_OPCODES } from './alu.ts';
import { ATOMIC_OPCODES } from './atomic.ts';
import { BITS_OPCODES } from './bits.ts';
import { CONTROL_OPCODES } from './control.ts';
import { CPUID_OPCODES } from './cpuid.ts';
import { FLAG_OPCODES } from './flagOps.ts';
import { HALT_OPCODES } from './halt.ts';
import { INTERRUPT_OPCODES } from './interrupt.ts';
import { IO_OPCODES } from './io.ts';
import { MOV_OPCODES } from './mov.ts';
import { MSR_OPCODES } from './msr.ts';
import { MULDIV_OPCODES } from './muldiv.ts';
import { NOP_OPCODES } from './nop.ts';
import { RANDOM_OPCODES } from './random.ts';
import { SHIFT_OPCODES } from './shift.ts';
import { SSE_OPCODES } from './sse.ts';
import { STACK_OPCODES } from './stack.ts';
import { STRING_OPCODES } from './string.ts';
import { TIME_OPCODES } from './time.ts';
import { VMX_OPCODES } from './vmx.ts';
import { XSAVE_OPCODES } from './xsave.ts';

/**
 * Every opcode row of the core, gathered when the opcode table is first
 * built rather than when this module loads: some families sit in an import
 * cycle with cpu.ts (MSRs → local APIC → cpu.ts), and a module of the cycle
 * may be the first one loaded.
 */
export const allOpcodes = (): readonly OpcodeDef[] => [
  ...ALU_OPCODES,
  ...MOV_OPCODES,
  ...STACK_OPCODES,
  ...CONTROL_OPCODES,
  ...FLAG_OPCODES,
  ...HALT_OPCODES,
  ...SHIFT_OPCODES,
  ...MULDIV_OPCODES,
  ...BITS_OPCODES,
  ...ATOMIC_OPCODES,
  ...STRING_OPCODES,
  ...IO_OPCODES,
  ...CPUID_OPCODES,
  ...TIME_OPCODES,
  ...RANDOM_OPCODES,
  ...INTERRUPT_OPCODES,
  ...NOP_OPCODES,
  ...SSE_OPCODES,
  ...XSAVE_OPCODES,
  ...SYSTEM_OPCODES,
  ...PAGING_OPCODES,
  ...MSR_OPCODES,
  ...VMX_OPCODES,
];
