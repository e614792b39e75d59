/**
 * Far JMP and far CALL (SDM Vol. 2A JMP and CALL "Operation"; Vol. 3A
 * §5.8.3-§5.8.6): direct ptr16:16/32 (not in 64-bit mode) and indirect
 * m16:16/32/64, to a code segment or through a call gate; a CALL through
 * a gate to a more privileged non-conforming segment switches to the
 * stack the TSS gives (copying the gate's parameter count of words or
 * dwords outside IA-32e mode; in IA-32e mode SS becomes null with RPL = new
 * CPL). Every check happens before any state changes.
 *
 * Not modelled: task switches. A JMP/CALL naming a TSS or a task gate
 * raises #TS with that selector outside IA-32e mode (#GP(sel) inside, as
 * the SDM gives). In VMX non-root operation the task switch makes its
 * first checks and causes a VM exit instead (SDM Vol. 3C §26.4.2,
 * taskSwitch.ts).
 */
import type { Cpu } from '../cpu.ts';
import type { ExecFn, Insn } from '../decode/insn.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import { fault, Vector } from '../exceptions.ts';
import { cpuLog } from '../log.ts';
import { readMem } from '../exec/operands.ts';
import { isCanonical } from '../memory/canonical.ts';
import { Reg, Seg, TWO32 } from '../registers.ts';
import { Descriptor, selectorError, SysType } from './descriptor.ts';
import { isNullSelector, markAccessed, readDescriptor, readDescriptor16 } from './descriptorTable.ts';
import { innerLegacyStack, readGateTarget } from './gate.ts';
import { inLongMode, inProtectedMode, updateMode } from './mode.ts';
import { loadCodeSegment, loadNullSegment, loadRealSegment, loadSegmentCache } from './segmentLoad.ts';
import { StackCursor } from './stackCursor.ts';
import { farTaskTarget, instructionTaskSwitch } from './taskSwitch.ts';
import { longTssStack } from './tss.ts';
import { TaskSwitchSource } from '../vmxPort.ts';

const desc = new Descriptor();
const code = new Descriptor();
const ss = new Descriptor();
const cursor = new StackCursor();
const caller = new StackCursor();

/** The offset operand at the operand size: 16 or 32 bits zero-extended, or 64. */
function maskOffset(lo: number, hi: number, size: number): number {
  return size === 2 ? lo & 0xffff : size === 4 ? lo >>> 0 : (hi | 0) * TWO32 + (lo >>> 0);
}

/** #GP(0) unless the target offset is canonical (64-bit code) or within the code segment's limit. */
export function checkTargetOffset(offset: number, d: Descriptor, long: boolean): void {
  if (long ? !isCanonical(offset) : offset > d.limit) fault(Vector.GP, 0);
}

/** Pushes the return CS:RIP at `size` bytes onto the cursor's stack. */
function pushReturn(c: Cpu, size: number): void {
  cursor.push(c, size, c.segSel[Seg.CS]!);
  cursor.push(c, size, c.rip >>> 0, Math.floor(c.rip / TWO32) | 0);
}

/** Real-address mode: CS = sel, base = sel × 16; the offset must lie within the CS limit. */
function farReal(c: Cpu, sel: number, offset: number, size: number, call: boolean): void {
  if (offset > c.segLimit[Seg.CS]!) fault(Vector.GP, 0);
  if (call) {
    cursor.current(c);
    pushReturn(c, size);
    cursor.commit(c, false);
  }
  loadRealSegment(c, Seg.CS, sel);
  updateMode(c);
  c.rip = offset;
}

/** To a code segment: conforming DPL <= CPL, non-conforming RPL <= CPL and DPL = CPL; CPL is kept. */
function toCodeSegment(c: Cpu, sel: number, d: Descriptor, offset: number, size: number, call: boolean): void {
  const err = selectorError(sel, 0);
  if (d.conforming ? d.dpl > c.cpl : (sel & 3) > c.cpl || d.dpl !== c.cpl) fault(Vector.GP, err);
  if (!d.present) fault(Vector.NP, err);
  const long = inLongMode(c) && d.long;
  if (long && d.big) fault(Vector.GP, err);
  checkTargetOffset(offset, d, long);
  if (call) {
    cursor.current(c);
    pushReturn(c, size);
    markAccessed(c, sel, d);
    cursor.commit(c, false);
  }
  loadCodeSegment(c, sel, d, c.cpl);
  c.rip = offset;
}

/**
 * CALL through a gate to an inner privilege level. IA-32e: RSP from the
 * TSS, SS:RSP and CS:RIP pushed as quadwords, SS null. Legacy: SS:ESP from
 * the TSS, then old SS:ESP, the parameters and CS:EIP at the gate's size.
 */
function callInner(c: Cpu, target: number, d: Descriptor, offset: number, gate: Descriptor): void {
  const cpl = d.dpl;
  const k = Reg.RSP << 1;
  const oldSs = c.segSel[Seg.SS]!;
  let ssSel = 0;
  if (inLongMode(c)) {
    const rsp = longTssStack(c, cpl, 0, 0);
    if (!isCanonical(rsp)) fault(Vector.SS, 0);
    cursor.switchTo(8, rsp, 0, 0, false, 0);
    cursor.push(c, 8, oldSs);
    cursor.push(c, 8, c.r[k]!, c.r[k + 1]!);
    pushReturn(c, 8);
  } else {
    ssSel = innerLegacyStack(c, cpl, 0, ss, cursor);
    const size = gate.type === SysType.CallGate16 ? 2 : 4;
    cursor.push(c, size, oldSs);
    cursor.push(c, size, c.r[k]!);
    caller.current(c);
    const n = gate.paramCount;
    for (let p = n - 1; p >= 0; p--) cursor.push(c, size, caller.peek(c, p * size, size));
    pushReturn(c, size);
    markAccessed(c, ssSel, ss);
  }
  markAccessed(c, target, d);
  if (inLongMode(c)) loadNullSegment(c, Seg.SS, cpl, cpl);
  else loadSegmentCache(c, Seg.SS, ssSel, ss);
  cursor.commit(c, true);
  loadCodeSegment(c, target, d, cpl);
  c.rip = offset;
}

/** Through a call gate (§5.8.5): gate DPL >= max(CPL, RPL), present; its code segment checked per gateTarget. */
function throughCallGate(c: Cpu, sel: number, gate: Descriptor, call: boolean): void {
  const err = selectorError(sel, 0);
  if (gate.dpl < c.cpl || gate.dpl < (sel & 3)) fault(Vector.GP, err);
  if (!gate.present) fault(Vector.NP, err);
  if (inLongMode(c)) readDescriptor16(c, sel, gate);
  const target = gate.gateSelector, offset = gate.gateOffset;
  const d = readGateTarget(c, target, code, 0);
  const inner = !d.conforming && d.dpl < c.cpl;
  // A JMP never changes privilege: a non-conforming target must have DPL = CPL.
  if (!call && inner) fault(Vector.GP, selectorError(target, 0));
  checkTargetOffset(offset, d, inLongMode(c));
  if (call && inner) {
    callInner(c, target, d, offset, gate);
    return;
  }
  if (call) {
    cursor.current(c);
    pushReturn(c, inLongMode(c) ? 8 : gate.type === SysType.CallGate16 ? 2 : 4);
    markAccessed(c, target, d);
    cursor.commit(c, false);
  }
  loadCodeSegment(c, target, d, c.cpl);
  c.rip = offset;
}

/** Far JMP or CALL `i` to sel:offset (offset as halves, at operand size `size`). */
export function farTransfer(c: Cpu, i: Insn, sel: number, lo: number, hi: number, size: number, call: boolean): void {
  const offset = maskOffset(lo, hi, size);
  if (!inProtectedMode(c)) {
    farReal(c, sel, offset, size, call);
    return;
  }
  if (isNullSelector(sel)) fault(Vector.GP, 0);
  const d = readDescriptor(c, sel, desc);
  if (d.isCode) {
    toCodeSegment(c, sel, d, offset, size, call);
    return;
  }
  const err = selectorError(sel, 0);
  if (!d.isSystem) fault(Vector.GP, err);
  const t = d.type;
  if (t === SysType.CallGate32 || (t === SysType.CallGate16 && !inLongMode(c))) {
    throughCallGate(c, sel, d, call);
    return;
  }
  const task = t === SysType.TaskGate || t === SysType.Tss16 || t === SysType.Tss32;
  if (task && !inLongMode(c)) {
    if (c.nonRoot) {
      instructionTaskSwitch(c, i, farTaskTarget(c, sel, d), call ? TaskSwitchSource.Call : TaskSwitchSource.Jmp);
      return;
    }
    cpuLog.debug(`core ${c.id}: far ${call ? 'CALL' : 'JMP'} to a task (selector ${sel}): task switching is not modelled, #TS`);
    fault(Vector.TS, err);
  }
  fault(Vector.GP, err);
}

/** JMP/CALL ptr16:16/32: the offset is the first immediate, the selector imm2. */
const farDirect = (call: boolean): ExecFn => (c, i) => farTransfer(c, i, i.imm2 & 0xffff, i.imm, 0, i.opSize, call);

/** JMP/CALL m16:16/32/64: the offset at the operand size, then the selector. */
function farIndirect(call: boolean): ExecFn {
  return (c: Cpu, i: Insn) => {
    const la = i.ea(c, i);
    const lo = readMem(c, la, i.opSize);
    const hi = c.opHi;
    const sel = readMem(c, i.mode === 64 ? la + i.opSize : (la + i.opSize) >>> 0, 2);
    farTransfer(c, i, sel, lo, hi, i.opSize, call);
  };
}

export const FAR_JUMP_OPCODES: OpcodeDef[] = [
  { op: 'EA', mnemonic: 'jmp', operands: 'Ap', flags: ['i64', 'branch'], exec: farDirect(false) },
  { op: '9A', mnemonic: 'call', operands: 'Ap', flags: ['i64', 'branch'], exec: farDirect(true) },
  { op: 'FF /5', mnemonic: 'jmp', operands: 'Mp', flags: ['branch'], exec: farIndirect(false) },
  { op: 'FF /3', mnemonic: 'call', operands: 'Mp', flags: ['branch'], exec: farIndirect(true) },
];
