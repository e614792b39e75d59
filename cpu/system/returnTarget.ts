/**
 * The checks RET far and IRET make on the CS:RIP and SS:RSP they pop in
 * protected mode (SDM Vol. 2B RET "Operation", Vol. 2A IRET
 * "PROTECTED-MODE-RETURN", "RETURN-TO-OUTER-PRIVILEGE-LEVEL"), and the
 * commit of the outer stack.
 */
import type { Cpu } from '../cpu.ts';
import { fault, Vector } from '../exceptions.ts';
import { Seg } from '../registers.ts';
import { type Descriptor, selectorError } from './descriptor.ts';
import { isNullSelector, markAccessed, readDescriptor } from './descriptorTable.ts';
import { inLongMode } from './mode.ts';
import { loadNullSegment, loadSegmentCache } from './segmentLoad.ts';
import { loadStackPointer } from './stackCursor.ts';

/**
 * The return code segment: non-null (#GP(0)); within its table, code,
 * RPL >= CPL, DPL <= RPL if conforming else DPL = RPL, and not L = D = 1
 * in IA-32e mode (#GP(sel)); present (#NP(sel)). Returns whether the
 * target is 64-bit code.
 */
export function checkReturnCode(c: Cpu, sel: number, d: Descriptor): boolean {
  if (isNullSelector(sel)) fault(Vector.GP, 0);
  readDescriptor(c, sel, d);
  const rpl = sel & 3, err = selectorError(sel, 0);
  if (!d.isCode || rpl < c.cpl || (d.conforming ? d.dpl > rpl : d.dpl !== rpl)) fault(Vector.GP, err);
  if (!d.present) fault(Vector.NP, err);
  const long = inLongMode(c);
  if (long && d.long && d.big) fault(Vector.GP, err);
  return long && d.long;
}

/**
 * The return stack segment for CPL = rpl: null only when returning to
 * 64-bit code at RPL < 3 (else #GP(0)); otherwise within its table,
 * RPL = DPL = rpl, writable data (#GP(sel)), present (#SS(sel)).
 */
export function checkReturnStack(c: Cpu, sel: number, d: Descriptor, rpl: number, target64: boolean): void {
  if (isNullSelector(sel)) {
    if (!target64 || rpl === 3) fault(Vector.GP, 0);
    return;
  }
  readDescriptor(c, sel, d);
  const err = selectorError(sel, 0);
  if ((sel & 3) !== rpl || !d.writableData || d.dpl !== rpl) fault(Vector.GP, err);
  if (!d.present) fault(Vector.SS, err);
}

/** Loads the checked SS and the stack pointer at the width the new stack uses. */
export function loadReturnStack(c: Cpu, sel: number, d: Descriptor, rpl: number, rsp: number, target64: boolean): void {
  if (isNullSelector(sel)) {
    loadNullSegment(c, Seg.SS, sel, rpl);
  } else {
    markAccessed(c, sel, d);
    loadSegmentCache(c, Seg.SS, sel, d);
  }
  loadStackPointer(c, rsp, target64 ? 8 : d.big ? 4 : 2);
}
