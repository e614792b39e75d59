/**
 * RDRAND and RDSEED (SDM Vol. 2B), deterministic (DESIGN decision 3): both
 * draw from the core's xorshift32 generator in `c.rngState`, seeded from
 * the machine configuration, so the same seed gives the same sequence on
 * any host. They always succeed: CF = 1, and OF, SF, ZF, AF, PF = 0.
 */
import type { Cpu } from '../cpu.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import type { ExecFn } from '../decode/insn.ts';
import { CF, writeArithFlags } from '../flags.ts';
import { writeReg } from './operands.ts';

/** The next 32 bits of Marsaglia's xorshift32 (shifts 13, 17, 5); the state is never 0. */
function next32(c: Cpu): number {
  let x = c.rngState;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  c.rngState = x;
  return x;
}

/** RDRAND and RDSEED alike; a 64-bit destination takes two draws, the low half first. */
const randomInto: ExecFn = (c, i) => {
  const lo = next32(c);
  const hi = i.opSize === 8 ? next32(c) : 0;
  writeReg(c, i.rm, i.opSize, 0, lo, hi);
  writeArithFlags(c, CF);
};

// NFx in the SDM: no F2/F3 (F3 0F C7 /7 is RDPID), while 66 selects the 16-bit form.
export const RANDOM_OPCODES: OpcodeDef[] = [
  { op: '0F C7 /6', mnemonic: 'rdrand', operands: 'Rv', prefix: 'NP|66', exec: randomInto },
  { op: '0F C7 /7', mnemonic: 'rdseed', operands: 'Rv', prefix: 'NP|66', exec: randomInto },
];
