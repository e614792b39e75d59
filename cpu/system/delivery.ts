/**
 * One attempt to deliver an event through the IVT or IDT (SDM Vol. 3A
 * §6.12, §6.14, §20.1.4; Vol. 2A INT n "Operation"). It either completes,
 * or raises the fault it met with no register changed (memory written on
 * the new stack may stay, as on silicon), for doubleFault.ts to combine.
 *
 * The return address is c.rip: the faulting instruction for faults, the
 * next one for traps, software interrupts and external events. RF in the
 * RFLAGS image follows §18.3.1.1 (flagsImage).
 *
 * Not modelled: task gates (hardware task switching) raise #TS with the
 * gate's TSS selector; virtual-8086 mode is never entered, so delivery
 * from it does not arise. In VMX non-root operation a task gate makes the
 * checks before the task switch (taskSwitch.ts) and hands its TSS
 * selector back, for the caller to take the VM exit (SDM Vol. 3C §26.4.2).
 */
import type { Cpu } from '../cpu.ts';
import { fault, Vector } from '../exceptions.ts';
import { IF, NT, readRflags, RF, TF, VM } from '../flags.ts';
import { cpuLog } from '../log.ts';
import { isCanonical } from '../memory/canonical.ts';
import { Reg, Seg, TWO32 } from '../registers.ts';
import { Descriptor, idtError, selectorError, SysType } from './descriptor.ts';
import { markAccessed } from './descriptorTable.ts';
import { EventKind, extBit, isSoftwareEvent } from './eventKind.ts';
import { innerLegacyStack, readGateTarget } from './gate.ts';
import { CR0_PE, inLongMode, updateMode } from './mode.ts';
import { loadCodeSegment, loadNullSegment, loadRealSegment, loadSegmentCache } from './segmentLoad.ts';
import { StackCursor } from './stackCursor.ts';
import { sysRead16, sysRead32, tableLinear } from './sysMemory.ts';
import { checkNewTss } from './taskSwitch.ts';
import { longTssStack } from './tss.ts';

const gate = new Descriptor();
const code = new Descriptor();
const stack = new Descriptor();
const cursor = new StackCursor();

/**
 * The RFLAGS image an event saves (§18.3.1.1): RF = 1 for a hardware
 * exception (all those the core raises are fault-class), 0 for INT n,
 * INT3, INTO and INT1 (the instruction cleared it when it began), RF as it
 * is for interrupts and NMIs. An event injected by VM entry saves RF as the
 * guest-state area loaded it, whatever its type (SDM Vol. 3C §27.6.1.1).
 */
export function flagsImage(c: Cpu, kind: EventKind, injected: boolean): number {
  const v = readRflags(c);
  if (injected || kind === EventKind.External || kind === EventKind.Nmi) return v;
  return kind === EventKind.Hardware ? v | RF : v & ~RF;
}

/** Flags every gate clears, and IF for interrupt gates (§6.12.1.3). */
function enterHandlerFlags(c: Cpu, interruptGate: boolean): void {
  c.eflags &= ~(TF | NT | RF | VM | (interruptGate ? IF : 0));
}

/** Real-address mode (§20.1.4): the 4-byte IVT entry, FLAGS/CS/IP pushed, IF, TF, AC cleared. */
function deliverReal(c: Cpu, vector: number): void {
  if (vector * 4 + 3 > c.sys.idtrLimit) fault(Vector.GP, 0);
  const la = tableLinear(c, c.sys.idtrBase, vector * 4);
  const ip = sysRead16(c, la);
  const cs = sysRead16(c, tableLinear(c, la, 2));
  cursor.current(c);
  cursor.push(c, 2, readRflags(c));
  cursor.push(c, 2, c.segSel[Seg.CS]!);
  cursor.push(c, 2, c.rip);
  cursor.commit(c, false);
  c.eflags &= ~(IF | TF | RF | 0x40000);
  loadRealSegment(c, Seg.CS, cs);
  updateMode(c);
  c.rip = ip;
}

/** Reads the IDT gate for `vector` (8 or 16 bytes) and checks it (#GP/#NP with the IDT error code). */
function readGate(c: Cpu, vector: number, kind: EventKind, long: boolean): Descriptor {
  const size = long ? 16 : 8;
  const err = idtError(vector, extBit(kind));
  if (vector * size + size - 1 > c.sys.idtrLimit) fault(Vector.GP, err);
  const la = tableLinear(c, c.sys.idtrBase, vector * size);
  gate.set(sysRead32(c, la), sysRead32(c, tableLinear(c, la, 4)), long ? sysRead32(c, tableLinear(c, la, 8)) : 0);
  const t = gate.type;
  const valid = long
    ? t === SysType.IntGate32 || t === SysType.TrapGate32
    : t === SysType.TaskGate || t === SysType.IntGate16 || t === SysType.TrapGate16 || t === SysType.IntGate32 || t === SysType.TrapGate32;
  if (!gate.isSystem || !valid) fault(Vector.GP, err);
  if (isSoftwareEvent(kind) && gate.dpl < c.cpl) fault(Vector.GP, err);
  if (!gate.present) fault(Vector.NP, err);
  return gate;
}

/** Pushes the return frame through the cursor: [SS, ESP,] EFLAGS, CS, EIP, [error code]. */
function pushFrame(c: Cpu, size: number, kind: EventKind, errorCode: number, injected: boolean, withStack: boolean): void {
  const k = Reg.RSP << 1;
  if (withStack) {
    cursor.push(c, size, c.segSel[Seg.SS]!);
    cursor.push(c, size, c.r[k]!, c.r[k + 1]!);
  }
  cursor.push(c, size, flagsImage(c, kind, injected));
  cursor.push(c, size, c.segSel[Seg.CS]!);
  cursor.push(c, size, c.rip >>> 0, Math.floor(c.rip / TWO32) | 0);
  if (errorCode >= 0) cursor.push(c, size, errorCode);
}

/**
 * Protected mode outside IA-32e (§6.12.1): 16/32-bit interrupt and trap
 * gates, stack switch from the TSS. Returns -1, or in VMX non-root
 * operation the TSS selector of a task gate that passed its checks.
 */
function deliverProtected(c: Cpu, vector: number, kind: EventKind, errorCode: number, injected: boolean): number {
  const ext = extBit(kind);
  const g = readGate(c, vector, kind, false);
  if (g.type === SysType.TaskGate) {
    // readGate checked the gate's P bit and, for INT n, INT3 and INTO, its DPL (§6.12.1.1).
    if (c.nonRoot) return checkNewTss(c, g.gateSelector, ext, false);
    cpuLog.debug(`core ${c.id}: vector ${vector} through a task gate: task switching is not modelled, #TS`);
    fault(Vector.TS, selectorError(g.gateSelector, ext));
  }
  const sel = g.gateSelector, offset = g.gateOffset;
  const size = g.type === SysType.IntGate16 || g.type === SysType.TrapGate16 ? 2 : 4;
  const d = readGateTarget(c, sel, code, ext);
  const inner = !d.conforming && d.dpl < c.cpl;
  const cpl = inner ? d.dpl : c.cpl;
  let ssSel = 0;
  if (inner) ssSel = innerLegacyStack(c, cpl, ext, stack, cursor);
  else cursor.current(c, ext);
  if (offset > d.limit) fault(Vector.GP, ext);
  pushFrame(c, size, kind, errorCode, injected, inner);
  markAccessed(c, sel, d);
  if (inner) {
    markAccessed(c, ssSel, stack);
    loadSegmentCache(c, Seg.SS, ssSel, stack);
  }
  cursor.commit(c, inner);
  enterHandlerFlags(c, (g.type & 1) === 0);
  loadCodeSegment(c, sel, d, cpl);
  c.rip = offset;
  return -1;
}

/**
 * IA-32e mode (§6.14): 16-byte gates, 64-bit target code, RSP from the
 * TSS on a privilege change or from the IST, aligned down to 16 bytes,
 * and SS:RSP always pushed; a privilege change loads SS with a null
 * selector whose RPL is the new CPL.
 */
function deliverLong(c: Cpu, vector: number, kind: EventKind, errorCode: number, injected: boolean): void {
  const ext = extBit(kind);
  const g = readGate(c, vector, kind, true);
  const sel = g.gateSelector, offset = g.gateOffset, ist = g.ist;
  const d = readGateTarget(c, sel, code, ext);
  const cpl = d.conforming ? c.cpl : d.dpl;
  const inner = cpl < c.cpl;
  let rsp: number;
  if (inner || ist !== 0) {
    rsp = longTssStack(c, cpl, ist, ext);
    if (!isCanonical(rsp)) fault(Vector.SS, ext);
  } else {
    const k = Reg.RSP << 1;
    rsp = c.r[k + 1]! * TWO32 + (c.r[k]! >>> 0);
  }
  if (!isCanonical(offset)) fault(Vector.GP, ext);
  cursor.switchTo(8, rsp - ((rsp >>> 0) & 0xf), 0, 0, false, ext);
  cursor.supervisor = cpl < 3;
  pushFrame(c, 8, kind, errorCode, injected, true);
  markAccessed(c, sel, d);
  if (inner) loadNullSegment(c, Seg.SS, cpl, cpl);
  cursor.commit(c, true);
  enterHandlerFlags(c, (g.type & 1) === 0);
  loadCodeSegment(c, sel, d, cpl);
  c.rip = offset;
}

/**
 * Delivers `vector` once in the current mode; errorCode < 0 pushes none,
 * `injected`: VM entry injects it. Returns -1, or in VMX non-root
 * operation the selector of the new TSS when a task gate would switch
 * tasks, nothing having been delivered.
 */
export function deliverOnce(c: Cpu, vector: number, kind: EventKind, errorCode: number, injected: boolean): number {
  if ((c.cr0 & CR0_PE) === 0) deliverReal(c, vector);
  else if (inLongMode(c)) deliverLong(c, vector, kind, errorCode, injected);
  else return deliverProtected(c, vector, kind, errorCode, injected);
  return -1;
}
