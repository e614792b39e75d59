/**
 * String instructions: MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS (SDM Vol. 2
 * each page, and Vol. 1 §7.3.9 "String Operations"), with the REP, REPE and
 * REPNE prefixes (SDM Vol. 2B "REP/REPE/REPZ/REPNE/REPNZ").
 *
 * The source is seg:rSI, DS unless overridden; the destination is always
 * ES:rDI. rSI, rDI and the count rCX are used at the ADDRESS size, and step
 * by the operand size, up when DF=0 and down when DF=1.
 *
 * Time is retired instructions (DESIGN decision 3): each iteration of a
 * REP-prefixed instruction retires as one instruction. The state is
 * architecturally consistent between iterations, so when the run's budget
 * (`c.stopAt`) runs out with iterations left, RIP goes back to the
 * instruction and the next run resumes it, as after an interrupt between
 * iterations. A fault in an iteration leaves the registers as the previous
 * iteration left them, with RIP at the instruction.
 */
import type { Cpu } from '../cpu.ts';
import type { OpcodeDef } from '../decode/opcodeDef.ts';
import type { ExecFn, Insn } from '../decode/insn.ts';
import { DF } from '../flags.ts';
import { Access } from '../memory/access.ts';
import { PAGE_SIZE } from '../memory/physical.ts';
import { Reg, Seg, TWO32 } from '../registers.ts';
import { alu, alu64, AluOp } from './alu.ts';
import { checkIoPermission, portInDx } from './io.ts';
import { readMem, readReg, writeMem, writeReg } from './operands.ts';
import { checkCanonical } from '../memory/canonical.ts';
import { limitCheckedLinear } from '../decode/effectiveAddress.ts';
import { Intercept } from '../vmxPort.ts';

// ---- addresses and registers at the address size ----------------------------

/**
 * Linear address of seg:reg. 16- and 32-bit offsets wrap at their size and
 * outside 64-bit mode are checked against the segment's limit (null
 * segments included); in 64-bit mode the address must be canonical (SDM
 * Vol. 1 §3.3.7.1: #SS(0) for an SS reference, else #GP(0)).
 */
function linear(c: Cpu, i: Insn, seg: number, reg: number): number {
  const k = reg << 1;
  const base = c.segBase[seg]!;
  let la: number;
  switch (i.addrSize) {
    case 2: return limitCheckedLinear(c, seg, c.r[k]! & 0xffff);
    case 4:
      if (i.mode !== 64) return limitCheckedLinear(c, seg, c.r[k]! >>> 0);
      la = base + (c.r[k]! >>> 0);
      break;
    default: la = c.r[k + 1]! * TWO32 + (c.r[k]! >>> 0) + base;
  }
  checkCanonical(la, seg);
  return la;
}

const srcLinear = (c: Cpu, i: Insn): number => linear(c, i, i.seg, Reg.RSI);
/** ES:rDI: a segment override never applies to the destination. */
const dstLinear = (c: Cpu, i: Insn): number => linear(c, i, Seg.ES, Reg.RDI);

/** Adds `delta` (|delta| < 2^32: steps stay within a page) to a register at the address size; a 32-bit write zeroes the upper half. */
function advance(c: Cpu, reg: number, addrSize: number, delta: number): void {
  const k = reg << 1;
  const lo = c.r[k]!;
  switch (addrSize) {
    case 2: c.r[k] = (lo & ~0xffff) | ((lo + delta) & 0xffff); break;
    case 4: c.r[k] = (lo + delta) | 0; c.r[k + 1] = 0; break;
    default: {
      const sum = (lo >>> 0) + delta;
      c.r[k] = sum | 0;
      if (sum < 0) c.r[k + 1] = (c.r[k + 1]! - 1) | 0;
      else if (sum >= TWO32) c.r[k + 1] = (c.r[k + 1]! + 1) | 0;
    }
  }
}

/** The step of one iteration: +size, or -size when DF=1. */
function stepOf(c: Cpu, size: number): number {
  return (c.eflags & DF) !== 0 ? -size : size;
}

/** rCX at the address size. A 64-bit count above 2^53 is inexact but still far above any budget. */
function readCount(c: Cpu, addrSize: number): number {
  const lo = c.r[Reg.RCX << 1]!;
  if (addrSize === 2) return lo & 0xffff;
  if (addrSize === 4) return lo >>> 0;
  return (c.r[(Reg.RCX << 1) + 1]! >>> 0) * TWO32 + (lo >>> 0);
}

/** Elements of `size` bytes that fit between `la` and its page end. */
function elementsInPage(la: number, size: number): number {
  return Math.floor((PAGE_SIZE - (la & 0xfff)) / size);
}

/** Elements before a 16/32-bit offset register wraps (DF=0); unbounded at 64 bits. */
function elementsBeforeWrap(c: Cpu, reg: number, addrSize: number, size: number): number {
  if (addrSize === 8) return Infinity;
  const off = addrSize === 2 ? c.r[reg << 1]! & 0xffff : c.r[reg << 1]! >>> 0;
  return Math.floor(((addrSize === 2 ? 0x10000 : TWO32) - off) / size);
}

// ---- the REP driver ---------------------------------------------------------------

/**
 * Runs between 1 and `max` iterations and returns how many it ran. It may
 * fault only before changing anything, so every iteration it reports is
 * complete. It updates rSI/rDI; the driver updates rCX and the clock.
 */
type Step = (c: Cpu, i: Insn, max: number) => number;

/**
 * REP/REPE/REPNE: iterate while rCX != 0, and for CMPS/SCAS (`conditional`)
 * while ZF = 1 under REPE (F3) or ZF = 0 under REPNE (F2). rCX is tested
 * before the first iteration and decremented after each (SDM Vol. 2B REP).
 */
function repeat(c: Cpu, i: Insn, step: Step, conditional: boolean): void {
  let count = readCount(c, i.addrSize);
  if (count === 0) return;
  let budget = c.stopAt - c.icount;
  if (budget < 1) budget = 1;
  const first = c.icount;
  const untilZf = i.rep !== 0xf3; // REPE stops when ZF becomes 0, REPNE when it becomes 1
  for (;;) {
    const n = step(c, i, count < budget ? count : budget);
    advance(c, Reg.RCX, i.addrSize, -n);
    c.icount += n;
    count -= n;
    budget -= n;
    if (count === 0 || (conditional && (c.fZ === 0) === untilZf)) break;
    if (budget === 0) {
      c.rip -= i.len; // resume here: the budget ended between two iterations
      c.exitBlock = true;
      break;
    }
  }
  // The run loop retires the last iteration; the others were counted here.
  c.icount--;
  if (c.icount !== first) c.exitBlock = true; // the block's budget was computed before them
}

/** A step that always runs one iteration. */
function once(fn: ExecFn): Step {
  return (c, i) => { fn(c, i); return 1; };
}

// ---- one iteration of each instruction --------------------------------------------

function movsAt(c: Cpu, i: Insn, src: number, dst: number): void {
  const size = i.opSize;
  const v = readMem(c, src, size);
  writeMem(c, dst, size, v, c.opHi);
  const d = stepOf(c, size);
  advance(c, Reg.RSI, i.addrSize, d);
  advance(c, Reg.RDI, i.addrSize, d);
}

const movs: ExecFn = (c, i) => movsAt(c, i, srcLinear(c, i), dstLinear(c, i));

function stosAt(c: Cpu, i: Insn, dst: number): void {
  const v = readReg(c, Reg.RAX, i.opSize, 0);
  writeMem(c, dst, i.opSize, v, c.opHi);
  advance(c, Reg.RDI, i.addrSize, stepOf(c, i.opSize));
}

const stos: ExecFn = (c, i) => stosAt(c, i, dstLinear(c, i));

const lods: ExecFn = (c, i) => {
  const v = readMem(c, srcLinear(c, i), i.opSize);
  writeReg(c, Reg.RAX, i.opSize, 0, v, c.opHi);
  advance(c, Reg.RSI, i.addrSize, stepOf(c, i.opSize));
};

/** Flags of a - b (CMP), both given as halves. */
function compare(c: Cpu, size: number, a: number, aHi: number, b: number, bHi: number): void {
  if (size === 8) alu64(c, AluOp.Cmp, a, aHi, b, bHi);
  else alu(c, AluOp.Cmp, a, b, size);
}

/** CMPS compares [rSI] - [rDI]: the source first (SDM Vol. 2A CMPS). */
const cmps: ExecFn = (c, i) => {
  const size = i.opSize;
  const a = readMem(c, srcLinear(c, i), size);
  const aHi = c.opHi;
  const b = readMem(c, dstLinear(c, i), size);
  compare(c, size, a, aHi, b, c.opHi);
  const d = stepOf(c, size);
  advance(c, Reg.RSI, i.addrSize, d);
  advance(c, Reg.RDI, i.addrSize, d);
};

/** SCAS compares rAX - [rDI] (SDM Vol. 2B SCAS). */
const scas: ExecFn = (c, i) => {
  const size = i.opSize;
  const b = readMem(c, dstLinear(c, i), size);
  const bHi = c.opHi;
  const a = readReg(c, Reg.RAX, size, 0);
  compare(c, size, a, c.opHi, b, bHi);
  advance(c, Reg.RDI, i.addrSize, stepOf(c, size));
};

/**
 * INS: the destination is checked for a write before the port is read, so
 * a faulting INS has no device side effect (the handler rule: nothing
 * changes before a fault).
 */
const ins: ExecFn = (c, i) => {
  const size = i.opSize;
  const port = portInDx(c);
  checkIoPermission(c, port, size);
  const dst = dstLinear(c, i);
  c.mmu.probeWrite(dst, size);
  writeMem(c, dst, size, c.io.read(port, size), 0);
  advance(c, Reg.RDI, i.addrSize, stepOf(c, size));
};

const outs: ExecFn = (c, i) => {
  const size = i.opSize;
  const port = portInDx(c);
  checkIoPermission(c, port, size);
  c.io.write(port, size, readMem(c, srcLinear(c, i), size));
  advance(c, Reg.RSI, i.addrSize, stepOf(c, size));
};

// ---- bulk steps for REP MOVS and REP STOS -----------------------------------------

/**
 * Up to `max` MOVS iterations with DF=0 that stay inside one source and one
 * destination page of RAM (and before an offset wraps) run as one copy;
 * anything else (DF=1, MMIO, an element straddling pages) goes one
 * iteration at a time through the MMU. Both pages are translated before any
 * byte moves, so a fault still happens at an iteration boundary.
 */
const movsStep: Step = (c, i, max) => {
  const size = i.opSize;
  const src = srcLinear(c, i), dst = dstLinear(c, i);
  let n = 0;
  if (max > 1 && (c.eflags & DF) === 0) {
    n = Math.min(max, elementsInPage(src, size), elementsInPage(dst, size),
      elementsBeforeWrap(c, Reg.RSI, i.addrSize, size), elementsBeforeWrap(c, Reg.RDI, i.addrSize, size));
  }
  if (n > 1) {
    const sp = c.mmu.hostPage(src, Access.Read);
    const dp = sp && c.mmu.hostPage(dst, Access.Write);
    if (sp && dp) {
      copyForward(sp, src & 0xfff, dp, dst & 0xfff, n, size);
      advance(c, Reg.RSI, i.addrSize, n * size);
      advance(c, Reg.RDI, i.addrSize, n * size);
      return n;
    }
  }
  movsAt(c, i, src, dst);
  return 1;
};

/**
 * Copies n elements forward as the iterations would one after another. When
 * the destination starts inside the source range on the same page, each
 * element reads bytes an earlier element wrote (the classic pattern fill),
 * so it goes element by element; otherwise 4-byte words give the same bytes.
 */
function copyForward(sp: DataView, so: number, dp: DataView, d: number, n: number, size: number): void {
  const bytes = n * size;
  if (sp === dp && d > so && d < so + bytes) {
    for (let e = 0; e < bytes; e += size) {
      if (size === 1) dp.setUint8(d + e, sp.getUint8(so + e));
      else if (size === 2) dp.setUint16(d + e, sp.getUint16(so + e, true), true);
      else if (size === 4) dp.setInt32(d + e, sp.getInt32(so + e, true), true);
      else {
        const lo = sp.getInt32(so + e, true), hi = sp.getInt32(so + e + 4, true);
        dp.setInt32(d + e, lo, true);
        dp.setInt32(d + e + 4, hi, true);
      }
    }
    return;
  }
  let k = 0;
  for (; k + 4 <= bytes; k += 4) dp.setInt32(d + k, sp.getInt32(so + k, true), true);
  for (; k < bytes; k++) dp.setUint8(d + k, sp.getUint8(so + k));
}

const stosStep: Step = (c, i, max) => {
  const size = i.opSize;
  const dst = dstLinear(c, i);
  let n = 0;
  if (max > 1 && (c.eflags & DF) === 0) {
    n = Math.min(max, elementsInPage(dst, size), elementsBeforeWrap(c, Reg.RDI, i.addrSize, size));
  }
  const dp = n > 1 ? c.mmu.hostPage(dst, Access.Write) : undefined;
  if (!dp) {
    stosAt(c, i, dst);
    return 1;
  }
  const v = readReg(c, Reg.RAX, size, 0);
  fill(dp, dst & 0xfff, n, size, v, c.opHi);
  advance(c, Reg.RDI, i.addrSize, n * size);
  return n;
};

/** Writes n copies of the element (lo, hi halves) from page offset d. */
function fill(dp: DataView, d: number, n: number, size: number, lo: number, hi: number): void {
  const bytes = n * size;
  let k = 0;
  if (size === 8) {
    for (; k < bytes; k += 8) {
      dp.setInt32(d + k, lo, true);
      dp.setInt32(d + k + 4, hi, true);
    }
    return;
  }
  // The element repeated to 32 bits, then stored a word at a time; the tail takes its bytes in order.
  const word = size === 1 ? (lo & 0xff) * 0x01010101 : size === 2 ? (lo & 0xffff) * 0x10001 : lo;
  for (; k + 4 <= bytes; k += 4) dp.setInt32(d + k, word, true);
  for (; k < bytes; k++) dp.setUint8(d + k, word >>> ((k & 3) * 8));
}

// ---- rows -------------------------------------------------------------------------

/** A row whose REP form runs `step`; any of F2/F3 repeats, and CMPS/SCAS also test ZF. */
function row(op: string, mnemonic: string, operands: string, size: string, one: ExecFn, step: Step, conditional = false): OpcodeDef {
  const rep: ExecFn = (c, i) => repeat(c, i, step, conditional);
  return { op, mnemonic, operands, size, select: (i) => (i.rep === 0 ? one : rep) };
}

/**
 * INS/OUTS in VMX non-root operation (SDM Vol. 3C §26.1.1): the
 * I/O-permission #GP comes first, then the I/O-instruction exit, before
 * the segment, limit, canonical, alignment and paging checks of the
 * memory operand and before any iteration. A REP form with rCX = 0 makes
 * no access, so neither checks nor exits (the SDM is silent on this case).
 */
function ioRow(op: string, mnemonic: string, operands: string, size: string, one: ExecFn, step: Step): OpcodeDef {
  const guard = (exec: ExecFn): ExecFn => (c, i) => {
    if (c.nonRoot && (i.rep === 0 || readCount(c, i.addrSize) !== 0)) {
      checkIoPermission(c, portInDx(c), i.opSize);
      if (c.vmx!.intercept(c, i, Intercept.Io)) return;
    }
    exec(c, i);
  };
  const single = guard(one), repeated = guard((c, i) => repeat(c, i, step, false));
  return { op, mnemonic, operands, size, select: (i) => (i.rep === 0 ? single : repeated) };
}

const lodsStep = once(lods), cmpsStep = once(cmps), scasStep = once(scas), insStep = once(ins), outsStep = once(outs);

// INS/OUTS move at most 32 bits ('z'): REX.W does not make a 64-bit port access.
export const STRING_OPCODES: OpcodeDef[] = [
  row('A4', 'movs', 'Yb,Xb', 'b', movs, movsStep),
  row('A5', 'movs', 'Yv,Xv', 'v', movs, movsStep),
  row('A6', 'cmps', 'Xb,Yb', 'b', cmps, cmpsStep, true),
  row('A7', 'cmps', 'Xv,Yv', 'v', cmps, cmpsStep, true),
  row('AA', 'stos', 'Yb,AL', 'b', stos, stosStep),
  row('AB', 'stos', 'Yv,rAX', 'v', stos, stosStep),
  row('AC', 'lods', 'AL,Xb', 'b', lods, lodsStep),
  row('AD', 'lods', 'rAX,Xv', 'v', lods, lodsStep),
  row('AE', 'scas', 'AL,Yb', 'b', scas, scasStep, true),
  row('AF', 'scas', 'rAX,Yv', 'v', scas, scasStep, true),
  ioRow('6C', 'ins', 'Yb,DX', 'b', ins, insStep),
  ioRow('6D', 'ins', 'Yz,DX', 'z', ins, insStep),
  ioRow('6E', 'outs', 'DX,Xb', 'b', outs, outsStep),
  ioRow('6F', 'outs', 'DX,Xz', 'z', outs, outsStep),
];
