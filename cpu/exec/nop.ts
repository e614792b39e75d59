/**
 * Instructions that do nothing architecturally visible on this machine:
 * the multi-byte NOP and the reserved-NOP hint space, prefetches, fences,
 * PAUSE, ENDBR32/64, and cache-line flushes (which still translate their
 * address). SDM Vol. 2B NOP, PREFETCHh, PREFETCHW, PAUSE, LFENCE, MFENCE,
 * SFENCE, CLFLUSH, CLFLUSHOPT; Vol. 2D ENDBR32/ENDBR64.
 *
 * None of these computes its memory operand except the flushes: a prefetch
 * is a hint and never faults, and NOP Ev does not access memory.
 */
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import type { ExecFn } from '../decode/insn.ts';
import { Access } from '../memory/access.ts';
import { Intercept } from '../vmxPort.ts';

const nop: ExecFn = () => {};

/** PAUSE: a NOP, except that in VMX non-root operation it may exit ("PAUSE exiting", PAUSE-loop exiting: SDM Vol. 3C §26.1.3). */
const pause: ExecFn = (c, i) => {
  if (c.nonRoot) c.vmx!.intercept(c, i, Intercept.Pause);
};

/**
 * CLFLUSH/CLFLUSHOPT are checked like a one-byte load (SDM Vol. 2A CLFLUSH:
 * same permission checks and faults), so the address is translated for a
 * read; nothing is read, so an MMIO device sees no access. There are no
 * caches to flush: memory is always coherent here.
 */
const clflush: ExecFn = (c, i) => {
  c.mmu.translate(i.ea(c, i), Access.Read);
};

export const NOP_OPCODES: OpcodeDef[] = [
  // 0F 1F /0 is the documented multi-byte NOP (SDM Vol. 2B NOP, Table 4-12); compilers pad it
  // with 66 and 2E prefixes. 0F 18-0F 1F /r is the reserved-NOP hint space: Intel cores execute
  // every form not otherwise defined as a NOP, and CPUID reports none of MPX or CET that would
  // give some of them meaning (0F 1A/1B, 0F 1E).
  { op: '0F 18 /r', mnemonic: 'nop', operands: 'Ev', exec: nop },
  { op: '0F 18 /0', mnemonic: 'prefetchnta', operands: 'Mb', exec: nop },
  { op: '0F 18 /1', mnemonic: 'prefetcht0', operands: 'Mb', exec: nop },
  { op: '0F 18 /2', mnemonic: 'prefetcht1', operands: 'Mb', exec: nop },
  { op: '0F 18 /3', mnemonic: 'prefetcht2', operands: 'Mb', exec: nop },
  // 0F 0D: PREFETCHW is /1; the rest of the group (AMD's PREFETCH /0, register forms) is NOP too.
  { op: '0F 0D /r', mnemonic: 'nop', operands: 'Ev', exec: nop },
  { op: '0F 0D /1', mnemonic: 'prefetchw', operands: 'Mb', exec: nop },
  // ENDBR32/64 (CET indirect-branch tracking) decode as their own instructions; CET is not
  // enabled, so they are NOPs that end nothing (SDM Vol. 2D ENDBR64).
  { op: '0F 1E FA', mnemonic: 'endbr64', prefix: 'F3', exec: nop },
  { op: '0F 1E FB', mnemonic: 'endbr32', prefix: 'F3', exec: nop },
  // PAUSE is a spin-loop hint; F3 as a mandatory prefix outscores 90's XCHG/NOP row.
  { op: '90', mnemonic: 'pause', prefix: 'F3', exec: pause },
  // One core runs at a time in program order, so every load and store is already globally
  // ordered: the fences have nothing to wait for. Any rm value is the fence (register form).
  { op: '0F AE /5', mnemonic: 'lfence', operands: 'Rd', prefix: 'NP', exec: nop },
  { op: '0F AE /6', mnemonic: 'mfence', operands: 'Rd', prefix: 'NP', exec: nop },
  { op: '0F AE /7', mnemonic: 'sfence', operands: 'Rd', prefix: 'NP', exec: nop },
  { op: '0F AE /7', mnemonic: 'clflush', operands: 'Mb', prefix: 'NP', exec: clflush },
  { op: '0F AE /7', mnemonic: 'clflushopt', operands: 'Mb', prefix: '66', exec: clflush },
];
for (let op = 0x19; op <= 0x1f; op++) {
  NOP_OPCODES.push({ op: `0F ${op.toString(16).toUpperCase()} /r`, mnemonic: 'nop', operands: 'Ev', exec: nop });
}
