/**
 * A VM exit caused by an instruction (SDM Vol. 3C §26.1.2, §26.1.3): the
 * instruction does not execute, the saved guest RIP is its own address
 * (§28.3.3), and the VM-exit instruction-length field holds its length
 * (§28.2.5). The core's RIP is already past the instruction when its exec
 * runs, so the address is RIP minus the length, wrapped to the code size.
 */
import type { Cpu } from '../../cpu/cpu.ts';
import type { Insn } from '../../cpu/decode/insn.ts';
import { RF } from '../../cpu/flags.ts';
import type { ExitReason } from '../exitReason.ts';
import type { VmxState } from '../unit/vmxState.ts';
import { vmExit } from '../transition/vmExit.ts';

/** The address of instruction `i` whose exec is running. */
export function instructionRip(c: Cpu, i: Insn): number {
  const rip = c.rip - i.len;
  return c.codeSize === 64 ? rip : c.codeSize === 32 ? rip >>> 0 : rip & 0xffff;
}

/**
 * Exit with `reason` instead of executing `i`; `info` is the VM-exit
 * instruction-information field (§28.2.5) for the instructions that have
 * one, or -1.
 */
export function instructionExit(s: VmxState, c: Cpu, i: Insn, reason: ExitReason, qualLo = 0, qualHi = 0, info = -1): void {
  // An instruction-caused exit saves RF = 0 (§28.3.3); the core keeps an RF that VM entry loaded until now.
  c.eflags &= ~RF;
  s.exitInfo.instructionLength = i.len;
  if (info >= 0) s.exitInfo.instructionInfo = info;
  vmExit(s, c, reason, qualLo, qualHi, instructionRip(c, i));
}
