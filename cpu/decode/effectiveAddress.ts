/**
 * Effective-address functions, one per addressing form, chosen at decode
 * time (SDM Vol. 2A §2.1.5, Tables 2-1 to 2-3; §2.2.1.6 RIP-relative).
 * Each returns the linear address: segment base + offset, wrapped to the
 * address size, and in 64-bit mode checked for canonical form (SDM Vol. 1
 * §3.3.7.1: #SS(0) for stack references, else #GP(0)). In 16- and 32-bit
 * modes the offset is checked against the segment limit instead (SDM
 * Vol. 3A §5.3), for the first byte of the operand: an access that
 * straddles the limit is not caught, nor a write to a read-only segment.
 */
import type { Cpu } from '../cpu.ts';
import { fault, Vector } from '../exceptions.ts';
import { checkCanonical } from '../memory/canonical.ts';
import { Seg, TWO32 } from '../registers.ts';
import type { EaFn, Insn } from './insn.ts';

function canonical(i: Insn, la: number): number {
  return checkCanonical(la, i.seg);
}

/**
 * seg:off in 16- and 32-bit modes: base + offset after the limit check
 * (SDM Vol. 3A §5.3): #SS(0) through SS, else #GP(0), also for a null
 * segment. Shared by the EA functions and the string instructions.
 */
export function limitCheckedLinear(c: Cpu, seg: number, off: number): number {
  if (off < c.sys.segLo[seg]! || off > c.sys.segHi[seg]!) fault(seg === Seg.SS ? Vector.SS : Vector.GP, 0);
  return (c.segBase[seg]! + off) >>> 0;
}

function segmented(c: Cpu, i: Insn, off: number): number {
  return limitCheckedLinear(c, i.seg, off);
}

/** Joins a 64-bit offset given as (hi, unsigned lo sum that may exceed 32 bits). */
function offset64(hi: number, loSum: number): number {
  return ((hi + (loSum >= TWO32 ? Math.floor(loSum / TWO32) : 0)) | 0) * TWO32 + (loSum >>> 0);
}

// ---- 64-bit address size --------------------------------------------------

const ea64Base: EaFn = (c, i) => {
  const r = c.r, b = i.base << 1;
  return canonical(i, offset64(r[b + 1]! + i.dispHi, (r[b]! >>> 0) + i.dispLo) + c.segBase[i.seg]!);
};

const ea64BaseIndex: EaFn = (c, i) => {
  const r = c.r, b = i.base << 1, x = i.index << 1, s = i.scale;
  const lo = (r[b]! >>> 0) + (r[x]! >>> 0) * s + i.dispLo;
  const hi = r[b + 1]! + r[x + 1]! * s + i.dispHi;
  return canonical(i, offset64(hi, lo) + c.segBase[i.seg]!);
};

const ea64Index: EaFn = (c, i) => {
  const r = c.r, x = i.index << 1, s = i.scale;
  return canonical(i, offset64(r[x + 1]! * s + i.dispHi, (r[x]! >>> 0) * s + i.dispLo) + c.segBase[i.seg]!);
};

const ea64Disp: EaFn = (c, i) => canonical(i, offset64(i.dispHi, i.dispLo) + c.segBase[i.seg]!);

/** RIP-relative: relative to the next instruction, which is where RIP points during exec. */
const ea64Rip: EaFn = (c, i) => canonical(i, c.rip + (i.dispLo | 0) + c.segBase[i.seg]!);

// ---- 32-bit address size ----------------------------------------------------

/** In 64-bit mode a 32-bit offset is zero-extended before the segment base is added. */
function finish32(c: Cpu, i: Insn, off: number): number {
  return i.mode === 64 ? canonical(i, off + c.segBase[i.seg]!) : segmented(c, i, off);
}

const ea32Base: EaFn = (c, i) => finish32(c, i, (c.r[i.base << 1]! + i.dispLo) >>> 0);
const ea32BaseIndex: EaFn = (c, i) =>
  finish32(c, i, (c.r[i.base << 1]! + Math.imul(c.r[i.index << 1]!, i.scale) + i.dispLo) >>> 0);
const ea32Index: EaFn = (c, i) => finish32(c, i, (Math.imul(c.r[i.index << 1]!, i.scale) + i.dispLo) >>> 0);
const ea32Disp: EaFn = (c, i) => finish32(c, i, i.dispLo >>> 0);
/** RIP-relative with a 67 prefix: EIP-relative, truncated to 32 bits. */
const ea32Rip: EaFn = (c, i) => finish32(c, i, (c.rip + (i.dispLo | 0)) >>> 0);

// ---- 16-bit address size ------------------------------------------------------

const ea16Base: EaFn = (c, i) => segmented(c, i, (c.r[i.base << 1]! + i.dispLo) & 0xffff);
const ea16BaseIndex: EaFn = (c, i) => segmented(c, i, (c.r[i.base << 1]! + c.r[i.index << 1]! + i.dispLo) & 0xffff);
const ea16Disp: EaFn = (c, i) => segmented(c, i, i.dispLo & 0xffff);

export const EA = {
  ea64Base, ea64BaseIndex, ea64Index, ea64Disp, ea64Rip,
  ea32Base, ea32BaseIndex, ea32Index, ea32Disp, ea32Rip,
  ea16Base, ea16BaseIndex, ea16Disp,
};

/** The EA function for a decoded memory operand. */
export function selectEa(addrSize: number, base: number, index: number, ripRel: boolean): EaFn {
  if (addrSize === 8) {
    if (ripRel) return ea64Rip;
    if (base >= 0) return index >= 0 ? ea64BaseIndex : ea64Base;
    return index >= 0 ? ea64Index : ea64Disp;
  }
  if (addrSize === 4) {
    if (ripRel) return ea32Rip;
    if (base >= 0) return index >= 0 ? ea32BaseIndex : ea32Base;
    return index >= 0 ? ea32Index : ea32Disp;
  }
  if (base >= 0) return index >= 0 ? ea16BaseIndex : ea16Base;
  return ea16Disp;
}

/** Placeholder EA for instructions without a memory operand; never called by a correct handler. */
export const noEa: EaFn = () => {
  throw new Error('instruction has no memory operand');
};
