/**
 * RDRAND and RDSEED (SDM Vol. 2B), deterministic (DESIGN decision 3): both
 * draw from the core's xorshift32 generator in `c.rngState`, seeded from
 * the machine configuration, so the same seed gives the same sequence on
 * any host. They always succeed: CF = 1, and OF, SF, ZF, AF, PF = 0.
 */
import type { Cpu } from '../cpu.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import type { ExecFn, Insn } from '../decode/insn.ts';
import { CF, writeArithFlags } from '../flags.ts';
import { Intercept } from '../vmxPort.ts';
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

/** Fills the destination: a 64-bit one takes two draws, the low half first. */
function draw(c: Cpu, i: Insn): void {
  const lo = next32(c);
  const hi = i.opSize === 8 ? next32(c) : 0;
  writeReg(c, i.rm, i.opSize, 0, lo, hi);
  writeArithFlags(c, CF);
}

/** RDRAND and RDSEED alike; in VMX non-root operation each may exit on its own control (SDM Vol. 3C §26.1.3). */
function randomInto(what: Intercept): ExecFn {
  return (c, i) => {
    if (c.nonRoot && c.vmx!.intercept(c, i, what)) return;
    draw(c, i);
  };
}

// NFx in the SDM: no F2/F3 (F3 0F C7 /7 is RDPID), while 66 selects the 16-bit form.
export const RANDOM_OPCODES: OpcodeDef[] = [
  { op: '0F C7 /6', mnemonic: 'rdrand', operands: 'Rv', prefix: 'NP|66', exec: randomInto(Intercept.Rdrand) },
  { op: '0F C7 /7', mnemonic: 'rdseed', operands: 'Rv', prefix: 'NP|66', exec: randomInto(Intercept.Rdseed) },
];
