/**
 * RET far, with an optional imm16 of parameter bytes to release (SDM
 * Vol. 2B RET "Operation"; Vol. 3A §5.8.6): pops RIP and CS at the operand
 * size (16, 32 or 64 with REX.W). To the same privilege level the imm16 is
 * released from the one stack; to an outer level (RPL > CPL) it is
 * released from both, the outer SS:RSP popped after it, and ES, DS, FS, GS
 * more privileged than the new CPL become null.
 */
import type { Cpu } from '../cpu.ts';
import type { ExecFn } from '../decode/insn.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import { fault, Vector } from '../exceptions.ts';
import { Seg, TWO32 } from '../registers.ts';
import { Descriptor } from './descriptor.ts';
import { markAccessed } from './descriptorTable.ts';
import { checkTargetOffset } from './farJump.ts';
import { inProtectedMode, updateMode } from './mode.ts';
import { checkReturnCode, checkReturnStack, loadReturnStack } from './returnTarget.ts';
import { invalidateOuterSegments, loadCodeSegment, loadRealSegment } from './segmentLoad.ts';
import { StackCursor } from './stackCursor.ts';

const code = new Descriptor();
const ss = new Descriptor();
const cursor = new StackCursor();

/** Pops an offset of `size` bytes as a number (zero-extended, or 64-bit). */
function popOffset(c: Cpu, size: number): number {
  const lo = cursor.pop(c, size);
  return size === 8 ? (c.opHi | 0) * TWO32 + (lo >>> 0) : size === 4 ? lo >>> 0 : lo;
}

function retFar(c: Cpu, size: number, release: number): void {
  cursor.current(c);
  const offset = popOffset(c, size);
  const sel = cursor.pop(c, size) & 0xffff;
  if (!inProtectedMode(c)) {
    if (offset > c.segLimit[Seg.CS]!) fault(Vector.GP, 0);
    cursor.skip(release);
    cursor.commit(c, false);
    loadRealSegment(c, Seg.CS, sel);
    updateMode(c);
    c.rip = offset;
    return;
  }
  const target64 = checkReturnCode(c, sel, code);
  const rpl = sel & 3;
  if (rpl === c.cpl) {
    checkTargetOffset(offset, code, target64);
    cursor.skip(release);
    markAccessed(c, sel, code);
    cursor.commit(c, false);
    loadCodeSegment(c, sel, code, rpl);
    c.rip = offset;
    return;
  }
  cursor.skip(release);
  const rsp = popOffset(c, size);
  const ssSel = cursor.pop(c, size) & 0xffff;
  checkReturnStack(c, ssSel, ss, rpl, target64);
  checkTargetOffset(offset, code, target64);
  markAccessed(c, sel, code);
  loadReturnStack(c, ssSel, ss, rpl, rsp + release, target64);
  loadCodeSegment(c, sel, code, rpl);
  invalidateOuterSegments(c);
  updateMode(c);
  c.rip = offset;
}

const retf: ExecFn = (c, i) => retFar(c, i.opSize, 0);
const retfImm: ExecFn = (c, i) => retFar(c, i.opSize, i.imm & 0xffff);

export const FAR_RETURN_OPCODES: OpcodeDef[] = [
  { op: 'CB', mnemonic: 'retf', size: 'v', flags: ['branch'], exec: retf },
  { op: 'CA', mnemonic: 'retf', operands: 'Iw', size: 'v', flags: ['branch'], exec: retfImm },
];
