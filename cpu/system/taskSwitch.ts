/**
 * The checks a task switch makes before it begins (SDM Vol. 3A §7.3 steps
 * 1-4; Vol. 2A CALL, JMP, INT n and IRET "Operation"; Table 6-6 "Invalid
 * TSS Conditions"). Task switching itself is not modelled: in VMX root
 * operation the callers raise #TS as before. In VMX non-root operation
 * these checks come first and then the task switch causes a VM exit
 * (SDM Vol. 3C §26.4.2), which the callers ask the VMX unit for.
 *
 * Errors: a JMP, CALL or event switch raises #GP(selector + EXT), an IRET
 * switch #TS(selector), for a new TSS selector with TI = 1, beyond the GDT
 * limit, or not naming an available (JMP, CALL, event) or busy (IRET) TSS;
 * #NP(selector + EXT) for a TSS not present; #TS(selector + EXT) for a
 * limit below 67H (32-bit TSS) or 2CH (16-bit TSS).
 */
import type { Cpu } from '../cpu.ts';
import type { Insn } from '../decode/insn.ts';
import { fault, Vector } from '../exceptions.ts';
import { RF } from '../flags.ts';
import type { TaskSwitchSource } from '../vmxPort.ts';
import { Descriptor, selectorError, SysType } from './descriptor.ts';
import { readDescriptor } from './descriptorTable.ts';
import { EventKind } from './eventKind.ts';
import { sysRead16, tableLinear } from './sysMemory.ts';

const tss = new Descriptor();

/** Checks the new TSS `sel` (EXT `ext`) for a switch by IRET (`iret`) or otherwise; returns `sel`. */
export function checkNewTss(c: Cpu, sel: number, ext: number, iret: boolean): number {
  const vector = iret ? Vector.TS : Vector.GP;
  const err = selectorError(sel, ext);
  if ((sel & 4) !== 0) fault(vector, err);
  readDescriptor(c, sel, tss, ext, vector);
  const t = tss.type;
  const wanted = iret ? t === SysType.Tss16Busy || t === SysType.Tss32Busy : t === SysType.Tss16 || t === SysType.Tss32;
  if (!tss.isSystem || !wanted) fault(vector, err);
  if (!tss.present) fault(Vector.NP, err);
  if (tss.limit < ((t & 8) !== 0 ? 0x67 : 0x2c)) fault(Vector.TS, err);
  return sel;
}

/**
 * JMP or CALL to `sel`, whose descriptor `d` is a TSS or a task gate:
 * DPL >= CPL and >= RPL (#GP(sel)), then for a gate its P bit (#NP(sel))
 * and the TSS it names (privilege is not checked on that TSS); for a TSS
 * the checks above. Returns the new TSS selector.
 */
export function farTaskTarget(c: Cpu, sel: number, d: Descriptor): number {
  const err = selectorError(sel, 0);
  if (d.dpl < c.cpl || d.dpl < (sel & 3)) fault(Vector.GP, err);
  if (d.type !== SysType.TaskGate) return checkNewTss(c, sel, 0, false);
  if (!d.present) fault(Vector.NP, err);
  return checkNewTss(c, d.gateSelector, 0, false);
}

/**
 * IRET with NT = 1 outside IA-32e mode: the new TSS is the back link at
 * offset 0 of the current TSS (#TS(TR) if that word lies beyond its limit),
 * a busy TSS; no privilege check. Returns its selector.
 */
export function iretTaskTarget(c: Cpu): number {
  if (c.sys.trLimit < 1) fault(Vector.TS, selectorError(c.sys.trSel, 0));
  return checkNewTss(c, sysRead16(c, tableLinear(c, c.sys.trBase, 0)), 0, true);
}

/**
 * In VMX non-root operation, CALL, JMP or IRET `i` would now switch to
 * task `sel`: the VM exit. The RFLAGS image the old TSS would receive has
 * RF = 0, which the instruction cleared when it began (SDM Vol. 3A
 * §18.3.1.1).
 */
export function instructionTaskSwitch(c: Cpu, i: Insn, sel: number, source: TaskSwitchSource): void {
  c.eflags &= ~RF;
  c.vmx!.taskSwitchExit(c, sel, source, i, -1, EventKind.Hardware, -1);
}
