/**
 * Fetching descriptors by selector from the GDT or the LDT (SDM Vol. 3A
 * §3.4.2, §3.5.1), and the descriptor bits the processor writes back: the
 * accessed bit of segment descriptors (§3.4.5.1) and the busy bit of TSS
 * descriptors (§7.2.2).
 */
import type { Cpu } from '../cpu.ts';
import { fault, Vector } from '../exceptions.ts';
import { AR_UNUSABLE, type Descriptor, selectorError, TYPE_ACCESSED, TSS_BUSY } from './descriptor.ts';
import { sysRead32, sysRead8, sysWrite8, tableLinear } from './sysMemory.ts';

/** A null selector: index 0 in the GDT, any RPL (SDM Vol. 3A §3.4.2). */
export function isNullSelector(sel: number): boolean {
  return (sel & 0xfffc) === 0;
}

/**
 * Linear address of the descriptor `sel` names, if its `size` bytes lie
 * within the table limit (and the LDT is usable for TI = 1); else raises
 * `vector` with the selector as error code.
 */
function descriptorLinear(c: Cpu, sel: number, size: number, ext: number, vector: number): number {
  let base: number, limit: number;
  if ((sel & 4) !== 0) {
    if ((c.sys.ldtrAttr & AR_UNUSABLE) !== 0) fault(vector, selectorError(sel, ext));
    base = c.sys.ldtrBase;
    limit = c.sys.ldtrLimit;
  } else {
    base = c.sys.gdtrBase;
    limit = c.sys.gdtrLimit;
  }
  const off = sel & 0xfff8;
  if (off + size - 1 > limit) fault(vector, selectorError(sel, ext));
  return tableLinear(c, base, off);
}

/** Reads the 8-byte descriptor `sel` names into d; #GP(sel) (or `vector`) when it is outside its table. */
export function readDescriptor(c: Cpu, sel: number, d: Descriptor, ext = 0, vector: number = Vector.GP): Descriptor {
  const la = descriptorLinear(c, sel, 8, ext, vector);
  return d.set(sysRead32(c, la), sysRead32(c, tableLinear(c, la, 4)));
}

/**
 * Reads a 16-byte system descriptor of IA-32e mode (LDT, TSS, call gate):
 * the upper 8 bytes must lie within the table, and their type field must
 * be 0 (SDM Vol. 3A §5.8.3.1, Figure 5-9), else #GP(sel).
 */
export function readDescriptor16(c: Cpu, sel: number, d: Descriptor, ext = 0): Descriptor {
  const la = descriptorLinear(c, sel, 16, ext, Vector.GP);
  const hi2 = sysRead32(c, tableLinear(c, la, 12));
  if ((hi2 & 0x1f00) !== 0) fault(Vector.GP, selectorError(sel, ext));
  return d.set(sysRead32(c, la), sysRead32(c, tableLinear(c, la, 4)), sysRead32(c, tableLinear(c, la, 8)));
}

/**
 * For LAR, LSL, VERR, VERW, which report instead of faulting: reads the
 * descriptor (16 bytes when `size` is 16) and returns true, or returns false
 * for a null selector or one outside its table (memory faults still raise).
 */
export function tryReadDescriptor(c: Cpu, sel: number, d: Descriptor, size = 8): boolean {
  if (isNullSelector(sel)) return false;
  const ldt = (sel & 4) !== 0;
  if (ldt && (c.sys.ldtrAttr & AR_UNUSABLE) !== 0) return false;
  if ((sel & 0xfff8) + size - 1 > (ldt ? c.sys.ldtrLimit : c.sys.gdtrLimit)) return false;
  const la = descriptorLinear(c, sel, size, 0, Vector.GP);
  const upper = size === 16 ? sysRead32(c, tableLinear(c, la, 8)) : 0;
  d.set(sysRead32(c, la), sysRead32(c, tableLinear(c, la, 4)), upper);
  return size !== 16 || (sysRead32(c, tableLinear(c, la, 12)) & 0x1f00) === 0;
}

/** Sets a bit of the descriptor's type byte (byte 5) in memory, if it is not set already. */
function setTypeBit(c: Cpu, sel: number, bit: number): void {
  const base = (sel & 4) !== 0 ? c.sys.ldtrBase : c.sys.gdtrBase;
  const la = tableLinear(c, base, (sel & 0xfff8) + 5);
  const b = sysRead8(c, la);
  if ((b & bit) === 0) sysWrite8(c, la, b | bit);
}

/** The processor sets the accessed bit when it loads a segment register (SDM Vol. 3A §3.4.5.1). */
export function markAccessed(c: Cpu, sel: number, d: Descriptor): void {
  if ((d.type & TYPE_ACCESSED) === 0) {
    setTypeBit(c, sel, TYPE_ACCESSED);
    d.hi |= TYPE_ACCESSED << 8;
  }
}

/** LTR marks the TSS busy (SDM Vol. 2A LTR). */
export function markBusy(c: Cpu, sel: number, d: Descriptor): void {
  setTypeBit(c, sel, TSS_BUSY);
  d.hi |= TSS_BUSY << 8;
}
