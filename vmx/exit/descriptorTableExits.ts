/**
 * "Descriptor-table exiting" (SDM Vol. 3C §26.1.3): LGDT, LIDT, SGDT and
 * SIDT exit with reason 46 (access to GDTR or IDTR), LLDT, LTR, SLDT and
 * STR with reason 47 (access to LDTR or TR). The qualification is the
 * displacement (§28.2.1); the instruction information follows §28.2.5's
 * two tables for these instructions, whose "instruction identity" (bits
 * 29:28) is the ModRM reg field of 0F 01 /0-/3 (SGDT, SIDT, LGDT, LIDT)
 * and 0F 00 /0-/3 (SLDT, STR, LLDT, LTR).
 */
import type { Insn } from '../../cpu/decode/insn.ts';
import { Intercept } from '../../cpu/vmxPort.ts';
import { bit, secondaryControls } from '../entry/controlFields.ts';
import { ExitReason } from '../exitReason.ts';
import { identity, memoryOperand, registerOrMemory } from './instructionInformation.ts';
import { instructionExit } from './instructionExit.ts';
import type { InterceptRow } from './interceptRow.ts';
import { displacementQualification } from './operandQualification.ts';

const DESCRIPTOR_TABLE_EXITING = bit('proc2', 'descriptorTableExiting');

/** 0F 01 is the GDTR/IDTR group; 0F 00 the LDTR/TR group. */
const GDTR_IDTR_GROUP = 0x0f01;

/** Bit 11 of the GDTR/IDTR format: operand size 0 = 16-bit, 1 = 32-bit (undefined from 64-bit mode). */
const operandSize32 = (i: Insn): number => (i.opSize === 2 ? 0 : 1) << 11;

export const DESCRIPTOR_TABLE_INTERCEPTS: readonly InterceptRow[] = [
  [Intercept.DescriptorTable, (s, c, i) => {
    if ((secondaryControls(s.vmcs) & DESCRIPTOR_TABLE_EXITING) === 0) return false;
    const which = identity((i.modrm >> 3) & 3);
    const gdtrIdtr = i.opcode === GDTR_IDTR_GROUP;
    const info = gdtrIdtr ? memoryOperand(i) | operandSize32(i) | which : registerOrMemory(i) | which;
    const qualLo = displacementQualification(c, i);
    instructionExit(s, c, i, gdtrIdtr ? ExitReason.GdtrIdtrAccess : ExitReason.LdtrTrAccess, qualLo, c.opHi, info >>> 0);
    return true;
  }],
];
