/**
 * IRET/IRETD/IRETQ (SDM Vol. 2A IRET "Operation"; Vol. 3A §6.12.1,
 * §6.14.3). Any IRET ends blocking by NMI (§6.7.1), even one that then
 * faults. Real mode pops IP, CS and FLAGS. Protected mode pops RIP, CS and
 * RFLAGS and, to an outer privilege level or always in 64-bit mode, RSP
 * and SS. RFLAGS bits are restored as the old CPL allows: IOPL, VIF and VIP
 * only at CPL 0, IF at CPL <= IOPL.
 *
 * RF is not restored: instruction breakpoints are not modelled, and RF
 * would be cleared after the next instruction anyway. Not modelled either:
 * the return to virtual-8086 mode (EFLAGS.VM = 1 at CPL 0 outside IA-32e
 * mode) raises #GP(0), and the task return of NT = 1 outside IA-32e mode
 * raises #TS with the TSS back link (in IA-32e mode NT = 1 is #GP(0)). In
 * VMX non-root operation that task return checks the back link and causes
 * a VM exit instead (SDM Vol. 3C §26.4.2, taskSwitch.ts).
 *
 * In VMX non-root operation the flag IRET clears may stand for virtual-NMI
 * blocking, and with "NMI exiting" but not "virtual NMIs" IRET must leave
 * NMI blocking alone (SDM Vol. 3C §26.3): the VMX unit settles that at the
 * next boundary (or at the fault IRET raises), which IRET asks for. The
 * instruction count of an IRET that ended blocking marks a fault it raises
 * as "NMI unblocking due to IRET" (§28.2.2).
 */
import type { Cpu } from '../cpu.ts';
import type { ExecFn, Insn } from '../decode/insn.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import { fault, Vector } from '../exceptions.ts';
import {
  AC, AF, CF, DF, ID, IF, IOPL, NT, OF, PF, SF, TF, VIF, VIP, VM, ZF, writeRflags,
} from '../flags.ts';
import { cpuLog } from '../log.ts';
import { Seg, TWO32 } from '../registers.ts';
import { Descriptor, selectorError } from './descriptor.ts';
import { markAccessed } from './descriptorTable.ts';
import { checkTargetOffset } from './farJump.ts';
import { CR0_PE, inLongMode, updateMode } from './mode.ts';
import { checkReturnCode, checkReturnStack, loadReturnStack } from './returnTarget.ts';
import { invalidateOuterSegments, loadCodeSegment, loadRealSegment } from './segmentLoad.ts';
import { StackCursor } from './stackCursor.ts';
import { sysRead16, tableLinear } from './sysMemory.ts';
import { instructionTaskSwitch, iretTaskTarget } from './taskSwitch.ts';
import { TaskSwitchSource } from '../vmxPort.ts';

const code = new Descriptor();
const ss = new Descriptor();
const cursor = new StackCursor();

const BASE_FLAGS = CF | PF | AF | ZF | SF | TF | DF | OF | NT;

/** Which RFLAGS bits IRET loads at operand size `size` from CPL `cpl` (protected mode). */
function flagsMask(c: Cpu, size: number, cpl: number): number {
  let m = BASE_FLAGS;
  if (size !== 2) m |= AC | ID;
  if (cpl <= (c.eflags & IOPL) >> 12) m |= IF;
  if (cpl === 0) m |= IOPL | (size !== 2 ? VIF | VIP : 0);
  return m;
}

function popValue(c: Cpu, size: number): number {
  const lo = cursor.pop(c, size);
  return size === 8 ? (c.opHi | 0) * TWO32 + (lo >>> 0) : size === 4 ? lo >>> 0 : lo;
}

/** Real-address mode: FLAGS image bits VM, VIF and VIP are kept (EFLAGS AND 1A0000H). */
function iretReal(c: Cpu, size: number): void {
  cursor.current(c);
  const ip = popValue(c, size);
  const cs = cursor.pop(c, size) & 0xffff;
  const flags = cursor.pop(c, size);
  if (ip > c.segLimit[Seg.CS]!) fault(Vector.GP, 0);
  cursor.commit(c, false);
  writeRflags(c, flags, size === 2 ? BASE_FLAGS | IF | IOPL : BASE_FLAGS | IF | IOPL | AC | ID);
  loadRealSegment(c, Seg.CS, cs);
  updateMode(c);
  c.rip = ip;
}

function iretProtected(c: Cpu, i: Insn): void {
  const size = i.opSize;
  const long = inLongMode(c);
  if ((c.eflags & NT) !== 0) {
    if (long) fault(Vector.GP, 0);
    if (c.nonRoot) {
      instructionTaskSwitch(c, i, iretTaskTarget(c), TaskSwitchSource.Iret);
      return;
    }
    const backLink = c.sys.trLimit >= 1 ? sysRead16(c, tableLinear(c, c.sys.trBase, 0)) : 0;
    cpuLog.debug(`core ${c.id}: IRET with NT = 1: task return is not modelled, #TS`);
    fault(Vector.TS, selectorError(backLink, 0));
  }
  cursor.current(c);
  const rip = popValue(c, size);
  const sel = cursor.pop(c, size) & 0xffff;
  const flags = cursor.pop(c, size);
  if (!long && (flags & VM) !== 0 && c.cpl === 0) fault(Vector.GP, 0);
  const target64 = checkReturnCode(c, sel, code);
  const rpl = sel & 3;
  const popStack = rpl > c.cpl || (long && c.codeSize === 64);
  let rsp = 0, ssSel = 0;
  if (popStack) {
    rsp = popValue(c, size);
    ssSel = cursor.pop(c, size) & 0xffff;
    checkReturnStack(c, ssSel, ss, rpl, target64);
  }
  checkTargetOffset(rip, code, target64);
  const oldCpl = c.cpl;
  markAccessed(c, sel, code);
  if (popStack) loadReturnStack(c, ssSel, ss, rpl, rsp, target64);
  else cursor.commit(c, false);
  writeRflags(c, flags, flagsMask(c, size, oldCpl) & (size === 2 ? 0xffff : -1));
  loadCodeSegment(c, sel, code, rpl);
  if (rpl > oldCpl) invalidateOuterSegments(c);
  updateMode(c);
  c.rip = rip;
}

const iret: ExecFn = (c, i) => {
  if (c.sys.nmiBlocked) {
    c.sys.nmiBlocked = false;
    c.nmiUnblockedAt = c.icount;
    if (c.nonRoot) c.vmxBoundary = true;
    if (c.nmiPending) c.eventsPending = true;
  }
  if ((c.cr0 & CR0_PE) === 0) iretReal(c, i.opSize);
  else if ((c.eflags & VM) !== 0) fault(Vector.GP, 0);
  else iretProtected(c, i);
};

export const IRET_OPCODES: OpcodeDef[] = [
  { op: 'CF', mnemonic: 'iret', size: 'v', flags: ['branch'], exec: iret },
];
