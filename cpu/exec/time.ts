/**
 * Reading time: RDTSC, RDTSCP, RDPID (SDM Vol. 2B). The counter itself is
 * defined in cpu/tsc.ts: a function of retired instructions.
 */
import type { Cpu } from '../cpu.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import type { ExecFn } from '../decode/insn.ts';
import { fault, Vector } from '../exceptions.ts';
import { Reg, TWO32 } from '../registers.ts';
import { readTsc } from '../tsc.ts';
import { wr32, wr64 } from './operands.ts';

const CR4_TSD = 1 << 2;

/**
 * EDX:EAX := TSC, unless CR4.TSD restricts it to CPL 0 in protected mode
 * (#GP(0)). The 32-bit writes zero the upper halves of RAX and RDX.
 */
function tscToEdxEax(c: Cpu): void {
  if ((c.cr4 & CR4_TSD) !== 0 && c.cpl !== 0 && (c.cr0 & 1) !== 0) fault(Vector.GP, 0);
  const t = readTsc(c);
  wr32(c, Reg.RAX, t >>> 0); // ToUint32 is the value modulo 2^32, also below zero
  wr32(c, Reg.RDX, Math.floor(t / TWO32) | 0);
}

const rdtsc: ExecFn = (c) => tscToEdxEax(c);

/** RDTSCP adds ECX := IA32_TSC_AUX[31:0] (upper half of RCX cleared). */
const rdtscp: ExecFn = (c) => {
  tscToEdxEax(c);
  wr32(c, Reg.RCX, c.tscAux);
};

/**
 * RDPID r: IA32_TSC_AUX, zero-extended to 64 bits in 64-bit mode, whatever
 * REX.W says; CR4.TSD does not apply (SDM Vol. 2B RDPID).
 */
const rdpid: ExecFn = (c, i) => {
  if (i.mode === 64) wr64(c, i.rm, c.tscAux, 0);
  else wr32(c, i.rm, c.tscAux);
};

export const TIME_OPCODES: OpcodeDef[] = [
  { op: '0F 31', mnemonic: 'rdtsc', exec: rdtsc },
  { op: '0F 01 F9', mnemonic: 'rdtscp', exec: rdtscp },
  { op: '0F C7 /7', mnemonic: 'rdpid', operands: 'Rd', prefix: 'F3', exec: rdpid },
];
