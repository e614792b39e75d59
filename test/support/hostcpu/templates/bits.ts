/**
 * Bit instructions: BT/BTS/BTR/BTC (SDM Vol. 2A) with register and imm8 bit
 * offsets on registers and on memory (where a register offset reaches
 * outside the addressed word), BSF/BSR (Vol. 2A), TZCNT (Vol. 2B), LZCNT
 * (Vol. 2A), POPCNT (Vol. 2B), and SETcc (Vol. 2B) for every condition.
 */
import fc from 'fast-check';
import { edgy, MASK64, pointer, regIndex } from '../gen.ts';
import { ptr, reg, type Template } from '../template.ts';
import { BIT_TEST, bitScan, COUNT_ZEROS, DEFINED, type Undefined } from '../undefinedFlags.ts';

export const CONDITIONS = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];

/** A source for the scans and counts: zero often, a single set bit, or anything. */
const scanSource = fc.oneof(
  { weight: 1, arbitrary: fc.constant(0n) },
  { weight: 1, arbitrary: fc.nat(63).map((k) => 1n << BigInt(k)) },
  { weight: 2, arbitrary: edgy },
);

/** A signed bit offset in [-2048, 2047] at `bits` bits, random above: memory forms stay within scratch. */
function bitOffset(bits: number) {
  return fc.tuple(fc.integer({ min: -2048, max: 2047 }), fc.bigInt(0n, MASK64)).map(([off, junk]) =>
    bits === 64 ? BigInt(off) & MASK64 : ((junk >> BigInt(bits)) << BigInt(bits)) | (BigInt(off) & ((1n << BigInt(bits)) - 1n)));
}

export const BITS_TEMPLATES: Template[] = [];
const bits = (asm: string, undef: Undefined, rest: Partial<Template> = {}): Template =>
  ({ family: 'bits', asm, undef: () => undef, ...rest });
const mem = { rdi: pointer() };

for (const op of ['bt', 'bts', 'btr', 'btc']) {
  for (const size of [16, 32, 64]) {
    BITS_TEMPLATES.push(bits(`${op} ${reg('c', size)}, ${reg('d', size)}`, BIT_TEST));
    BITS_TEMPLATES.push(bits(`${op} ${reg('c', size)}, IMM`, BIT_TEST, { immBytes: 1 }));
    BITS_TEMPLATES.push(bits(`${op} ${ptr(size)} [rdi], ${reg('d', size)}`, BIT_TEST,
      { inputs: { regs: { ...mem, rdx: bitOffset(size) }, scratch: true } }));
    BITS_TEMPLATES.push(bits(`${op} ${ptr(size)} [rdi], IMM`, BIT_TEST, { immBytes: 1, inputs: { regs: mem, scratch: true } }));
  }
}
for (const size of [16, 32, 64]) {
  for (const op of ['bsf', 'bsr']) {
    BITS_TEMPLATES.push({
      family: 'bits',
      asm: `${op} ${reg('c', size)}, ${reg('d', size)}`,
      inputs: { regs: { rdx: scanSource } },
      undef: (x) => bitScan((x.regs[regIndex('rdx')]! & ((1n << BigInt(size)) - 1n)) === 0n, regIndex('rcx'), size),
    });
  }
  const counts: [string, Undefined, string][] = [['tzcnt', COUNT_ZEROS, 'bmi1'], ['lzcnt', COUNT_ZEROS, 'abm'], ['popcnt', DEFINED, 'popcnt']];
  for (const [op, undef, needs] of counts) {
    BITS_TEMPLATES.push(bits(`${op} ${reg('c', size)}, ${reg('d', size)}`, undef, { needs, inputs: { regs: { rdx: scanSource } } }));
  }
}
for (const cc of CONDITIONS) BITS_TEMPLATES.push(bits(`set${cc} cl`, DEFINED));
BITS_TEMPLATES.push(bits('sete bh', DEFINED), bits('setl r9b', DEFINED), bits(`setb ${ptr(8)} [rdi]`, DEFINED, { inputs: { regs: mem, scratch: true } }));
