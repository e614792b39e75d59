/**
 * ADD ADC SUB SBB AND OR XOR CMP TEST, INC DEC NEG NOT (SDM Vol. 2A/2B, each
 * instruction's page): register-register, register-immediate and
 * accumulator-immediate forms at every size, AH..BH, REX byte registers,
 * and a few memory destinations in the scratch buffer.
 */
import { pointer } from '../gen.ts';
import { ptr, reg, SIZES, type Template } from '../template.ts';
import { DEFINED, LOGIC } from '../undefinedFlags.ts';

const ARITH = ['add', 'adc', 'sub', 'sbb', 'cmp'];
const LOGICAL = ['and', 'or', 'xor', 'test'];

function alu(op: string, asm: string, immBytes?: 1 | 2 | 4): Template {
  const undef = LOGICAL.includes(op) ? () => LOGIC : () => DEFINED;
  return { family: 'alu', asm, immBytes, undef };
}

export const ALU_TEMPLATES: Template[] = [];
for (const op of [...ARITH, ...LOGICAL]) {
  for (const bits of SIZES) {
    ALU_TEMPLATES.push(alu(op, `${op} ${reg('c', bits)}, ${reg('d', bits)}`));
    // Full-width immediate (80/81 /n, F6/F7 /0 for TEST) and the accumulator form (04/05, A8/A9).
    const wide = bits === 8 ? 1 : bits === 16 ? 2 : 4;
    ALU_TEMPLATES.push(alu(op, `${op} ${reg('b', bits)}, IMM`, wide));
    ALU_TEMPLATES.push(alu(op, `${op} ${reg('a', bits)}, IMM`, wide));
    // Sign-extended imm8 (83 /n); TEST has no such form.
    if (bits > 8 && op !== 'test') ALU_TEMPLATES.push(alu(op, `${op} ${reg('si', bits)}, IMM`, 1));
  }
  // Byte registers: AH..BH without REX, SIL/R9B with it.
  ALU_TEMPLATES.push(alu(op, `${op} ah, bh`));
  ALU_TEMPLATES.push(alu(op, `${op} ch, dl`));
  ALU_TEMPLATES.push(alu(op, `${op} sil, r9b`));
  ALU_TEMPLATES.push(alu(op, `${op} r10, r11`));
  // Both operands the same register (SUB/XOR zeroing idioms, ADC doubling).
  ALU_TEMPLATES.push(alu(op, `${op} ecx, ecx`));
  ALU_TEMPLATES.push(alu(op, `${op} r8w, r8w`));
  // Memory operands in the scratch buffer, both directions.
  const mem = { regs: { rdi: pointer(-8, 8) }, scratch: true };
  ALU_TEMPLATES.push({ ...alu(op, `${op} ${ptr(32)} [rdi], edx`), inputs: mem });
  if (op !== 'test') ALU_TEMPLATES.push({ ...alu(op, `${op} rdx, ${ptr(64)} [rdi]`), inputs: mem });
  ALU_TEMPLATES.push({ ...alu(op, `${op} ${ptr(8)} [rdi], IMM`, 1), inputs: mem });
  if (op !== 'test') ALU_TEMPLATES.push({ ...alu(op, `${op} ${ptr(16)} [rdi], IMM`, 1), inputs: mem });
  if (op !== 'test' && op !== 'cmp') ALU_TEMPLATES.push({ ...alu(op, `lock ${op} ${ptr(64)} [rdi], rdx`), inputs: mem });
}
ALU_TEMPLATES.push(alu('test', 'test ah, IMM', 1));
for (const op of ['inc', 'dec', 'neg', 'not']) {
  for (const bits of SIZES) ALU_TEMPLATES.push(alu(op, `${op} ${reg('c', bits)}`));
  ALU_TEMPLATES.push(alu(op, `${op} bh`));
  ALU_TEMPLATES.push(alu(op, `${op} r9b`));
  ALU_TEMPLATES.push(alu(op, `${op} r12`));
  ALU_TEMPLATES.push({ ...alu(op, `${op} ${ptr(16)} [rdi]`), inputs: { regs: { rdi: pointer(-8, 8) }, scratch: true } });
}
