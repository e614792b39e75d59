/**
 * String instructions (SDM Vol. 2B MOVS, STOS, LODS, CMPS, SCAS; REP/REPE/
 * REPNE in Vol. 2B "REP/REPE/REPZ/REPNE/REPNZ") at every size, without and
 * with repeat prefixes, DF clear and set, small counts in RCX, RSI/RDI
 * inside the scratch buffer, and a few 32-bit address-size forms (67h: ESI,
 * EDI and ECX, with junk above them). A REP instruction counts one retired
 * instruction per iteration in the core, so the core runs until the HLT
 * placed after it.
 */
import fc from 'fast-check';
import { MASK64, pointer } from '../gen.ts';
import type { Template } from '../template.ts';

const OPS: [string, number][] = [['movs', 0xa4], ['cmps', 0xa6], ['stos', 0xaa], ['lods', 0xac], ['scas', 0xae]];
const SUFFIX = ['b', 'w', 'd', 'q'];
const hex = (b: number) => `0x${b.toString(16).padStart(2, '0')}`;

/** RAX: a repetition of one scratch-alphabet byte (so SCAS often matches) or anything. */
const accumulator = fc.oneof(
  fc.constantFrom(0n, 0x4141414141414141n, MASK64),
  fc.bigInt(0n, MASK64),
);
const count = fc.integer({ min: 0, max: 5 }).map(BigInt);
/** A 32-bit address-size register: its low half points into scratch, its high half is junk. */
const junkAbove = (low: fc.Arbitrary<bigint>) =>
  fc.tuple(fc.bigInt(0n, 0xffffffffn), low).map(([hi, lo]) => (hi << 32n) | lo);

function stringTemplate(op: string, opcode: number, size: number, prefix: string, addr32: boolean): Template {
  const bytes = [
    ...(size === 1 ? [0x66] : []), ...(prefix === 'rep' || prefix === 'repe' ? [0xf3] : prefix === 'repne' ? [0xf2] : []),
    ...(addr32 ? [0x67] : []), ...(size === 3 ? [0x48] : []), opcode + (size === 0 ? 0 : 1),
  ];
  const repeated = prefix !== '';
  // At most 5 iterations of 8 bytes from 24 bytes either side of the middle: well inside the buffer.
  const ptrArb = pointer(-24, 24);
  return {
    family: 'string',
    name: `${addr32 ? 'addr32 ' : ''}${prefix ? prefix + ' ' : ''}${op}${SUFFIX[size]}`,
    asm: `.byte ${bytes.map(hex).join(', ')}`,
    inputs: {
      regs: {
        rsi: addr32 ? junkAbove(ptrArb) : ptrArb,
        rdi: addr32 ? junkAbove(ptrArb) : ptrArb,
        rax: accumulator,
        ...(repeated ? { rcx: addr32 ? junkAbove(count) : count } : {}),
      },
      scratch: true,
    },
  };
}

export const STRING_TEMPLATES: Template[] = [];
for (const [op, opcode] of OPS) {
  const prefixes = op === 'cmps' || op === 'scas' ? ['', 'repe', 'repne'] : ['', 'rep'];
  for (let size = 0; size < 4; size++) {
    for (const prefix of prefixes) STRING_TEMPLATES.push(stringTemplate(op, opcode, size, prefix, false));
  }
}
STRING_TEMPLATES.push(
  stringTemplate('movs', 0xa4, 0, 'rep', true),
  stringTemplate('stos', 0xaa, 2, 'rep', true),
  stringTemplate('cmps', 0xa6, 1, 'repe', true),
  stringTemplate('scas', 0xae, 0, 'repne', true),
  stringTemplate('lods', 0xac, 3, '', true),
);
