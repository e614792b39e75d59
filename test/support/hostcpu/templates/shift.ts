/**
 * SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR (SDM Vol. 2B) by 1, by CL and by imm8 at
 * every size, and SHLD/SHRD (Vol. 2B) by CL and imm8. Counts cluster around
 * 0, 1, the operand size and the 5/6-bit masks.
 */
import { countByte, countReg, regIndex, type CaseInput } from '../gen.ts';
import { reg, SIZES, type Template } from '../template.ts';
import { rotate, shift, shiftDouble } from '../undefinedFlags.ts';

type Count = 'one' | 'cl' | 'imm';

function countOf(how: Count, x: CaseInput): bigint {
  return how === 'one' ? 1n : how === 'cl' ? x.regs[regIndex('rcx')]! & 0xffn : x.imm;
}

function operand(how: Count): string {
  return how === 'one' ? '1' : how === 'cl' ? 'cl' : 'IMM';
}

function inputs(how: Count, bits: number) {
  return how === 'cl' ? { regs: { rcx: countReg(bits) } } : how === 'imm' ? { imm: countByte(bits) } : {};
}

export const SHIFT_TEMPLATES: Template[] = [];
for (const kind of ['shl', 'shr', 'sar', 'rol', 'ror', 'rcl', 'rcr'] as const) {
  const undef = (bits: number, how: Count) => (x: CaseInput) =>
    kind === 'shl' || kind === 'shr' || kind === 'sar' ? shift(kind, bits, countOf(how, x)) : rotate(bits, countOf(how, x));
  for (const how of ['one', 'cl', 'imm'] as const) {
    const dests: [string, number][] = SIZES.map((bits) => [reg('d', bits), bits]);
    if (how !== 'one') dests.push(['bh', 8], ['r9', 64]);
    for (const [dest, bits] of dests) {
      SHIFT_TEMPLATES.push({
        family: 'shift',
        asm: `${kind} ${dest}, ${operand(how)}`,
        immBytes: how === 'imm' ? 1 : undefined,
        inputs: inputs(how, bits),
        undef: undef(bits, how),
      });
    }
  }
}
for (const kind of ['shld', 'shrd']) {
  for (const how of ['cl', 'imm'] as const) {
    for (const bits of [16, 32, 64]) {
      SHIFT_TEMPLATES.push({
        family: 'shift',
        asm: `${kind} ${reg('d', bits)}, ${reg('b', bits)}, ${operand(how)}`,
        immBytes: how === 'imm' ? 1 : undefined,
        inputs: inputs(how, bits),
        undef: (x) => shiftDouble(bits, countOf(how, x), regIndex('rdx')),
      });
    }
  }
}
