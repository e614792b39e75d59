/**
 * What the core reads from the task-state segment TR names (SDM Vol. 3A
 * ch. 7): the stack pointers for inner privilege levels (16-bit TSS
 * Figure 7-11, 32-bit TSS Figure 7-2, 64-bit TSS Figure 7-11 with the IST)
 * and the I/O permission bitmap (Vol. 1 §19.5.2). Task switching itself is
 * not modelled (see farTransfer.ts and delivery.ts for what raises instead).
 */
import type { Cpu } from '../cpu.ts';
import { fault, Vector } from '../exceptions.ts';
import { selectorError } from './descriptor.ts';
import { sysRead16, sysRead32, tableLinear } from './sysMemory.ts';

/** TR's type: 1/3 a 16-bit TSS, 9/11 a 32-bit TSS (64-bit in IA-32e mode). */
function is16BitTss(c: Cpu): boolean {
  return (c.sys.trAttr & 0x8) === 0;
}

function tssLinear(c: Cpu, offset: number, size: number, ext: number): number {
  if (offset + size - 1 > c.sys.trLimit) fault(Vector.TS, selectorError(c.sys.trSel, ext));
  return tableLinear(c, c.sys.trBase, offset);
}

/** An inner stack read from the TSS: selector (legacy TSS only) and stack pointer. */
export class TssStack {
  ss = 0;
  sp = 0;
}

/**
 * SS:ESP (or SS:SP) for privilege level `dpl` from a 32-bit (16-bit) TSS;
 * #TS(TR selector + EXT) when it lies beyond the TSS limit.
 */
export function legacyTssStack(c: Cpu, dpl: number, ext: number, out: TssStack): TssStack {
  if (is16BitTss(c)) {
    const la = tssLinear(c, 2 + 4 * dpl, 4, ext);
    out.sp = sysRead16(c, la);
    out.ss = sysRead16(c, tableLinear(c, la, 2));
  } else {
    const la = tssLinear(c, 4 + 8 * dpl, 6, ext);
    out.sp = sysRead32(c, la) >>> 0;
    out.ss = sysRead16(c, tableLinear(c, la, 4));
  }
  return out;
}

/** RSPn (ist = 0, n = dpl) or ISTn from the 64-bit TSS (SDM Vol. 3A §7.7, §6.14.5). */
export function longTssStack(c: Cpu, dpl: number, ist: number, ext: number): number {
  const la = tssLinear(c, ist !== 0 ? 0x24 + 8 * (ist - 1) : 4 + 8 * dpl, 8, ext);
  const lo = sysRead32(c, la);
  const hi = sysRead32(c, tableLinear(c, la, 4));
  return hi * 4294967296 + (lo >>> 0);
}

/**
 * The I/O permission bitmap allows the `size` ports from `port` when all
 * their bits are 0. TR must name a 32/64-bit TSS; the bitmap base is the
 * word at offset 66H; both bytes read must lie within the TSS limit.
 * Anything else denies (#GP(0) at the caller).
 */
export function ioBitmapAllows(c: Cpu, port: number, size: number): boolean {
  if (is16BitTss(c) || c.sys.trLimit < 0x67) return false;
  const mapBase = sysRead16(c, tableLinear(c, c.sys.trBase, 0x66));
  const off = mapBase + (port >>> 3);
  if (off + 1 > c.sys.trLimit) return false;
  const bits = sysRead16(c, tableLinear(c, c.sys.trBase, off));
  return (bits & (((1 << size) - 1) << (port & 7))) === 0;
}
