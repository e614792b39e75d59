/**
 * Operand access shared by every family. Values travel as 32-bit numbers;
 * a 64-bit value is its low half plus `c.opHi` for the high half. Reads of
 * 8- and 16-bit operands return them zero-extended, 32-bit ones as int32.
 * Register writes follow SDM Vol. 1 §3.4.1.1: 32-bit writes zero the upper
 * half, 8- and 16-bit writes leave the rest of the register alone.
 */
import type { Cpu } from '../cpu.ts';
import type { ExecFn, Insn } from '../decode/insn.ts';

export function rd8(c: Cpu, n: number, shift: number): number {
  return (c.r[n << 1]! >>> shift) & 0xff;
}

export function wr8(c: Cpu, n: number, shift: number, v: number): void {
  const k = n << 1;
  c.r[k] = (c.r[k]! & ~(0xff << shift)) | ((v & 0xff) << shift);
}

export function wr16(c: Cpu, n: number, v: number): void {
  const k = n << 1;
  c.r[k] = (c.r[k]! & ~0xffff) | (v & 0xffff);
}

export function wr32(c: Cpu, n: number, v: number): void {
  const k = n << 1;
  c.r[k] = v;
  c.r[k + 1] = 0;
}

export function wr64(c: Cpu, n: number, lo: number, hi: number): void {
  const k = n << 1;
  c.r[k] = lo;
  c.r[k + 1] = hi;
}

/** Reads register n at `size` bytes (shift 8 selects AH..BH for size 1). */
export function readReg(c: Cpu, n: number, size: number, shift: number): number {
  const k = n << 1;
  switch (size) {
    case 1: return (c.r[k]! >>> shift) & 0xff;
    case 2: return c.r[k]! & 0xffff;
    case 4: return c.r[k]!;
    default: c.opHi = c.r[k + 1]!; return c.r[k]!;
  }
}

export function writeReg(c: Cpu, n: number, size: number, shift: number, lo: number, hi: number): void {
  switch (size) {
    case 1: wr8(c, n, shift, lo); break;
    case 2: wr16(c, n, lo); break;
    case 4: wr32(c, n, lo); break;
    default: wr64(c, n, lo, hi); break;
  }
}

export function readMem(c: Cpu, la: number, size: number): number {
  switch (size) {
    case 1: return c.mmu.read8(la);
    case 2: return c.mmu.read16(la);
    case 4: return c.mmu.read32(la);
    default: { const lo = c.mmu.read64(la); c.opHi = c.mmu.hi; return lo; }
  }
}

/** Read of a read-modify-write destination: faults as a write would. */
export function readMemRmw(c: Cpu, la: number, size: number): number {
  switch (size) {
    case 1: return c.mmu.rmw8(la);
    case 2: return c.mmu.rmw16(la);
    case 4: return c.mmu.rmw32(la);
    default: { const lo = c.mmu.rmw64(la); c.opHi = c.mmu.hi; return lo; }
  }
}

export function writeMem(c: Cpu, la: number, size: number, lo: number, hi: number): void {
  switch (size) {
    case 1: c.mmu.write8(la, lo); break;
    case 2: c.mmu.write16(la, lo); break;
    case 4: c.mmu.write32(la, lo); break;
    default: c.mmu.write64(la, lo, hi); break;
  }
}

/** Operand E (ModRM.rm) at the instruction's operand size; `la` is its address when in memory. */
export function readE(c: Cpu, i: Insn, la: number): number {
  return i.isMem ? readMem(c, la, i.opSize) : readReg(c, i.rm, i.opSize, i.rmShift);
}

export function readERmw(c: Cpu, i: Insn, la: number): number {
  return i.isMem ? readMemRmw(c, la, i.opSize) : readReg(c, i.rm, i.opSize, i.rmShift);
}

export function writeE(c: Cpu, i: Insn, la: number, lo: number, hi: number): void {
  if (i.isMem) writeMem(c, la, i.opSize, lo, hi);
  else writeReg(c, i.rm, i.opSize, i.rmShift, lo, hi);
}

/** Operand G (ModRM.reg, or the register in the opcode). */
export function readG(c: Cpu, i: Insn): number {
  return readReg(c, i.reg, i.opSize, i.regShift);
}

export function writeG(c: Cpu, i: Insn, lo: number, hi: number): void {
  writeReg(c, i.reg, i.opSize, i.regShift, lo, hi);
}

/** Address of the memory operand, or 0 for a register operand. */
export function addrOf(c: Cpu, i: Insn): number {
  return i.isMem ? i.ea(c, i) : 0;
}

/** Masks a value to `size` bytes (sizes below 8; a 32-bit value stays int32). */
export function truncate(v: number, size: number): number {
  return size === 1 ? v & 0xff : size === 2 ? v & 0xffff : v | 0;
}

/** Sign-extends the low `size` bytes of v to int32. */
export function signExtend(v: number, size: number): number {
  return size === 1 ? (v << 24) >> 24 : size === 2 ? (v << 16) >> 16 : v | 0;
}

/** An opcode row's `select` that records the family operation in i.sub, then picks the handler for the form. */
export function pickWithSub(sub: number, pick: (i: Insn) => ExecFn): (i: Insn) => ExecFn {
  return (i) => { i.sub = sub; return pick(i); };
}

/** An opcode row's `select` that records the family operation in i.sub and always picks `exec`. */
export function selectWithSub(sub: number, exec: ExecFn): (i: Insn) => ExecFn {
  return pickWithSub(sub, () => exec);
}
