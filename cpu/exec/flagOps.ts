/**
 * Instructions on RFLAGS itself: CLC STC CMC CLD STD CLI STI LAHF SAHF
 * (SDM Vol. 2). CLI/STI follow the IOPL rule of protected mode; STI opens
 * the one-instruction interrupt shadow (SDM Vol. 3A §6.8.3).
 */
import type { Cpu } from '../cpu.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import type { ExecFn } from '../decode/insn.ts';
import { fault, Vector } from '../exceptions.ts';
import { AF, CF, DF, IF, IOPL, PF, readRflags, SF, VM, writeRflags, ZF } from '../flags.ts';

const clc: ExecFn = (c) => { c.fAux &= ~CF; };
const stc: ExecFn = (c) => { c.fAux |= CF; };
const cmc: ExecFn = (c) => { c.fAux ^= CF; };
const cld: ExecFn = (c) => { c.eflags &= ~DF; };
const std: ExecFn = (c) => { c.eflags |= DF; };

/** In protected mode CLI/STI need CPL <= IOPL; in real mode they always work. */
function checkIopl(c: Cpu): void {
  const protectedMode = (c.cr0 & 1) !== 0;
  if (protectedMode && (c.cpl > ((c.eflags & IOPL) >> 12) || (c.eflags & VM) !== 0)) fault(Vector.GP, 0);
}

const cli: ExecFn = (c) => { checkIopl(c); c.eflags &= ~IF; };

const sti: ExecFn = (c) => {
  checkIopl(c);
  if (!(c.eflags & IF)) {
    c.eflags |= IF;
    c.inhibitUntil = c.icount + 2; // this STI and the instruction after it
    c.inhibitByMovSs = false;
    c.exitBlock = true;
  }
};

const SAHF_MASK = SF | ZF | AF | PF | CF;
const lahf: ExecFn = (c) => {
  const k = 0;
  c.r[k] = (c.r[k]! & ~0xff00) | ((readRflags(c) & 0xff) << 8);
};
const sahf: ExecFn = (c) => writeRflags(c, (c.r[0]! >> 8) & 0xff, SAHF_MASK);

export const FLAG_OPCODES: OpcodeDef[] = [
  { op: 'F8', mnemonic: 'clc', exec: clc },
  { op: 'F9', mnemonic: 'stc', exec: stc },
  { op: 'F5', mnemonic: 'cmc', exec: cmc },
  { op: 'FC', mnemonic: 'cld', exec: cld },
  { op: 'FD', mnemonic: 'std', exec: std },
  { op: 'FA', mnemonic: 'cli', exec: cli },
  { op: 'FB', mnemonic: 'sti', flags: ['stop'], exec: sti },
  // LAHF/SAHF in 64-bit mode need CPUID.80000001H:ECX.LAHF-SAHF[0], which the model reports.
  { op: '9F', mnemonic: 'lahf', exec: lahf },
  { op: '9E', mnemonic: 'sahf', exec: sahf },
];
