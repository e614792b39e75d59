/**
 * MUL, IMUL (one, two and three operands), DIV, IDIV (SDM Vol. 2A/2B) at
 * every size. Dividends are steered so that most quotients fit (else every
 * random case would just raise #DE), with divide-by-zero and overflow cases
 * kept on purpose: the core must raise #DE exactly where the host does.
 */
import { regIndex, type CaseInput } from '../gen.ts';
import { reg, SIZES, type Template } from '../template.ts';
import { DIVIDE, MULTIPLY } from '../undefinedFlags.ts';

/** A bit field of a register: `bits` bits at `shift`. */
interface Field { r: number; shift: number; bits: number }

function get(x: CaseInput, f: Field): bigint {
  return (x.regs[f.r]! >> BigInt(f.shift)) & ((1n << BigInt(f.bits)) - 1n);
}

function set(x: CaseInput, f: Field, v: bigint): void {
  const m = ((1n << BigInt(f.bits)) - 1n) << BigInt(f.shift);
  x.regs[f.r] = (x.regs[f.r]! & ~m) | ((v << BigInt(f.shift)) & m);
}

/**
 * Quarter of the cases each: quotient made to fit (unsigned: high half below
 * the divisor; signed: high half the sign extension of the low half), a tiny
 * divisor (1, 2, -1, -2) with a fitting quotient, raw random inputs, and a
 * zero divisor.
 */
function steerDivision(bits: number, signed: boolean, divisor: Field) {
  const lo: Field = { r: regIndex('rax'), shift: 0, bits };
  const hi: Field = bits === 8 ? { r: regIndex('rax'), shift: 8, bits } : { r: regIndex('rdx'), shift: 0, bits };
  const all = (1n << BigInt(bits)) - 1n;
  return (x: CaseInput) => {
    const mode = x.pick % 4;
    if (mode === 3) { set(x, divisor, 0n); return; }
    if (mode === 2) return;
    if (mode === 1) set(x, divisor, [1n, 2n, all, all - 1n][(x.pick >> 2) % 4]!);
    const d = get(x, divisor);
    if (signed) set(x, hi, (get(x, lo) >> BigInt(bits - 1)) !== 0n ? all : 0n);
    else if (d !== 0n) set(x, hi, get(x, hi) % d);
  };
}

export const MULDIV_TEMPLATES: Template[] = [];
for (const op of ['mul', 'imul']) {
  for (const bits of SIZES) MULDIV_TEMPLATES.push({ family: 'muldiv', asm: `${op} ${reg('b', bits)}`, undef: () => MULTIPLY });
  MULDIV_TEMPLATES.push({ family: 'muldiv', asm: `${op} bh`, undef: () => MULTIPLY });
  MULDIV_TEMPLATES.push({ family: 'muldiv', asm: `${op} r11`, undef: () => MULTIPLY });
}
for (const bits of [16, 32, 64]) {
  MULDIV_TEMPLATES.push({ family: 'muldiv', asm: `imul ${reg('c', bits)}, ${reg('d', bits)}`, undef: () => MULTIPLY });
  MULDIV_TEMPLATES.push({ family: 'muldiv', asm: `imul ${reg('c', bits)}, ${reg('d', bits)}, IMM`, immBytes: 1, undef: () => MULTIPLY });
  MULDIV_TEMPLATES.push({
    family: 'muldiv', asm: `imul ${reg('c', bits)}, ${reg('d', bits)}, IMM`, immBytes: bits === 16 ? 2 : 4, undef: () => MULTIPLY,
  });
}
for (const op of ['div', 'idiv']) {
  const divisors: [string, number, Field][] = SIZES.map((bits) => [reg('b', bits), bits, { r: regIndex('rbx'), shift: 0, bits }]);
  divisors.push(['bh', 8, { r: regIndex('rbx'), shift: 8, bits: 8 }], ['r11', 64, { r: regIndex('r11'), shift: 0, bits: 64 }]);
  for (const [name, bits, field] of divisors) {
    MULDIV_TEMPLATES.push({ family: 'muldiv', asm: `${op} ${name}`, couple: steerDivision(bits, op === 'idiv', field), undef: () => DIVIDE });
  }
}
