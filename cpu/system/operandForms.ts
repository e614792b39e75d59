/**
 * Decode-time form selection for system instructions whose operand size
 * does not follow the usual rules (the opcode rows' `select`).
 */
import { raiseUD } from '../decode/decoder.ts';
import type { ExecFn, Insn } from '../decode/insn.ts';

/**
 * MOV CR/DR operate on 64 bits in 64-bit mode and on 32 bits otherwise,
 * whatever the prefixes say (SDM Vol. 2B MOV CR, MOV DR); a register
 * number `valid` does not list (bit n for register n) is #UD, before any
 * other check.
 */
export function crForm(exec: ExecFn, valid: number): (i: Insn) => ExecFn {
  return (i) => {
    i.opSize = i.mode === 64 ? 8 : 4;
    return ((valid >>> i.reg) & 1) !== 0 ? exec : raiseUD;
  };
}

/**
 * r/m16 operands of LLDT, LTR, VERR, VERW, LMSW and ARPL: a memory operand
 * is a word; a register operand is named at the operand size (r32/r64 in
 * the SDM's forms) though only its low 16 bits are used.
 */
export function word16Form(exec: ExecFn): (i: Insn) => ExecFn {
  return (i) => {
    if (i.isMem) i.opSize = 2;
    return exec;
  };
}
