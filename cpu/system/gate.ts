/**
 * What call gates and interrupt/trap gates share (SDM Vol. 3A §5.8.4-§5.8.6,
 * §6.12.1; Vol. 2A CALL and INT n "Operation"): the checks on the code
 * segment a gate names, and the inner-privilege stack a legacy TSS gives
 * with the checks on its SS. Error codes carry EXT for events external to
 * the program (0 for CALL and INT n).
 */
import type { Cpu } from '../cpu.ts';
import { fault, Vector } from '../exceptions.ts';
import { Descriptor, selectorError, TYPE_EXPAND_DOWN } from './descriptor.ts';
import { isNullSelector, readDescriptor } from './descriptorTable.ts';
import { inLongMode } from './mode.ts';
import { StackCursor } from './stackCursor.ts';
import { legacyTssStack, TssStack } from './tss.ts';

const tssStack = new TssStack();

/**
 * The code segment of a gate: not null (#GP(EXT)), within its table, a
 * code segment with DPL <= CPL (#GP(sel + EXT)), present (#NP(sel + EXT)),
 * and in IA-32e mode a 64-bit one, L = 1 and D = 0 (#GP(sel + EXT)).
 */
export function readGateTarget(c: Cpu, sel: number, d: Descriptor, ext: number): Descriptor {
  if (isNullSelector(sel)) fault(Vector.GP, ext);
  readDescriptor(c, sel, d, ext);
  const err = selectorError(sel, ext);
  if (!d.isCode || d.dpl > c.cpl) fault(Vector.GP, err);
  if (!d.present) fault(Vector.NP, err);
  if (inLongMode(c) && (!d.long || d.big)) fault(Vector.GP, err);
  return d;
}

/**
 * The stack for a transfer to inner privilege level `cpl` outside IA-32e
 * mode: SS:ESP from the TSS (#TS(TR + EXT) beyond its limit); SS must be
 * non-null (#TS(EXT)), within its table, RPL = DPL = cpl and a writable
 * data segment (#TS(SS + EXT)), present (#SS(SS + EXT)). Returns the new SS
 * selector with its descriptor in `ss`, and points `cursor` at the new
 * stack (stack faults there raise #SS(SS + EXT)).
 */
export function innerLegacyStack(c: Cpu, cpl: number, ext: number, ss: Descriptor, cursor: StackCursor): number {
  legacyTssStack(c, cpl, ext, tssStack);
  const sel = tssStack.ss;
  if (isNullSelector(sel)) fault(Vector.TS, ext);
  readDescriptor(c, sel, ss, ext, Vector.TS);
  const err = selectorError(sel, ext);
  if ((sel & 3) !== cpl || !ss.writableData || ss.dpl !== cpl) fault(Vector.TS, err);
  if (!ss.present) fault(Vector.SS, err);
  cursor.switchTo(ss.big ? 4 : 2, tssStack.sp, ss.base, ss.limit, (ss.type & TYPE_EXPAND_DOWN) !== 0, err);
  return sel;
}
