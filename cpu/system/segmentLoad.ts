/**
 * Loading segment registers (SDM Vol. 3A §3.4.3, §5.5-§5.7; Vol. 2B MOV,
 * POP, LDS/LES/LFS/LGS/LSS "Operation"). In real-address and virtual-8086
 * mode a load sets the selector and base = selector × 16. In protected mode
 * the selector names a descriptor, checked for type and privilege, then
 * copied into the hidden part (c.segBase/segLimit/segAttr, VMX access-rights
 * format) with its accessed bit set in memory. Every check happens before
 * any state changes.
 */
import type { Cpu } from '../cpu.ts';
import { fault, Vector } from '../exceptions.ts';
import { VM } from '../flags.ts';
import { pagingStateChanged } from '../memory/paging.ts';
import { Seg } from '../registers.ts';
import { AR_DPL, AR_P, AR_S, AR_UNUSABLE, Descriptor, selectorError, TYPE_CODE, TYPE_CONFORMING } from './descriptor.ts';
import { isNullSelector, markAccessed, readDescriptor } from './descriptorTable.ts';
import { inProtectedMode, setSegmentBase, updateMode, updateSegmentRange } from './mode.ts';

const scratch = new Descriptor();
const DATA_SEGMENTS = [Seg.ES, Seg.DS, Seg.FS, Seg.GS] as const;

/** Copies a checked descriptor into segment register s (its hidden part) with selector sel. */
export function loadSegmentCache(c: Cpu, s: number, sel: number, d: Descriptor): void {
  c.segSel[s] = sel;
  c.segLimit[s] = d.limit;
  c.segAttr[s] = d.attr;
  setSegmentBase(c, s, d.base);
  updateSegmentRange(c, s);
}

/**
 * A null selector makes the register unusable (SDM Vol. 3A §3.4.2; VMX
 * "unusable" bit). Intel processors also clear base and limit. A null SS
 * keeps its DPL = CPL (64-bit mode, §6.14.4), which VMX reads as the CPL.
 */
export function loadNullSegment(c: Cpu, s: number, sel: number, dpl = 0): void {
  c.segSel[s] = sel;
  c.segLimit[s] = 0;
  c.segAttr[s] = AR_UNUSABLE | (dpl << 5);
  setSegmentBase(c, s, 0);
  updateSegmentRange(c, s);
}

/**
 * Real-address mode: selector and base only; the limit and attributes in
 * the cache stay (which is what "unreal mode" relies on), except that an
 * unusable cache becomes a present read/write data segment. Virtual-8086
 * mode forces a 64-KByte DPL-3 data segment (SDM Vol. 3A §20.1.1, §3.4.3).
 */
export function loadRealSegment(c: Cpu, s: number, sel: number): void {
  c.segSel[s] = sel;
  if ((c.eflags & VM) !== 0) {
    c.segLimit[s] = 0xffff;
    c.segAttr[s] = 0xf3;
  } else if ((c.segAttr[s]! & AR_UNUSABLE) !== 0) {
    c.segLimit[s] = 0xffff;
    c.segAttr[s] = 0x93;
  }
  setSegmentBase(c, s, sel * 16);
  updateSegmentRange(c, s);
}

/**
 * MOV/POP/LxS to ES, DS, FS or GS in protected mode (SDM Vol. 2B MOV
 * "Operation"): a null selector loads an unusable segment; otherwise the
 * descriptor must be data or readable code (#GP(sel)), data and
 * non-conforming code need DPL >= max(CPL, RPL) (#GP(sel)), and it must be
 * present (#NP(sel)).
 */
function loadDataSegment(c: Cpu, s: number, sel: number): void {
  if (isNullSelector(sel)) {
    loadNullSegment(c, s, sel);
    return;
  }
  const d = readDescriptor(c, sel, scratch);
  if (!d.readable) fault(Vector.GP, selectorError(sel, 0));
  if (!d.conforming && ((sel & 3) > d.dpl || c.cpl > d.dpl)) fault(Vector.GP, selectorError(sel, 0));
  if (!d.present) fault(Vector.NP, selectorError(sel, 0));
  markAccessed(c, sel, d);
  loadSegmentCache(c, s, sel, d);
}

/**
 * MOV/POP/LSS to SS in protected mode: RPL = CPL, a writable data segment
 * with DPL = CPL (#GP(sel)), present (#SS(sel)). A null selector is #GP(0),
 * except in 64-bit mode at CPL < 3 with RPL = CPL (SDM Vol. 2B MOV, 64-bit
 * mode "Operation").
 */
function loadStackSegment(c: Cpu, sel: number): void {
  if (isNullSelector(sel)) {
    if (c.codeSize !== 64 || c.cpl === 3 || (sel & 3) !== c.cpl) fault(Vector.GP, 0);
    loadNullSegment(c, Seg.SS, sel, c.cpl);
    return;
  }
  const d = readDescriptor(c, sel, scratch);
  if ((sel & 3) !== c.cpl || !d.writableData || d.dpl !== c.cpl) fault(Vector.GP, selectorError(sel, 0));
  if (!d.present) fault(Vector.SS, selectorError(sel, 0));
  markAccessed(c, sel, d);
  loadSegmentCache(c, Seg.SS, sel, d);
  updateMode(c);
}

/** Loads ES, SS, DS, FS or GS as MOV Sreg, POP Sreg and LxS do, in any mode. */
export function loadSegment(c: Cpu, s: number, sel: number): void {
  if (!inProtectedMode(c)) {
    loadRealSegment(c, s, sel);
    if (s === Seg.SS) updateMode(c);
  } else if (s === Seg.SS) {
    loadStackSegment(c, sel);
  } else {
    loadDataSegment(c, s, sel);
  }
}

/**
 * Loads CS from a checked code descriptor with RPL = the new CPL, and
 * makes that the CPL (SDM Vol. 3A §5.8.1-§5.8.6: far transfers). Telling
 * the paging unit when the CPL changes (U/S checks, SMAP).
 */
export function loadCodeSegment(c: Cpu, sel: number, d: Descriptor, cpl: number): void {
  markAccessed(c, sel, d);
  loadSegmentCache(c, Seg.CS, (sel & 0xfffc) | cpl, d);
  setCpl(c, cpl);
  updateMode(c);
}

export function setCpl(c: Cpu, cpl: number): void {
  if (c.cpl === cpl) return;
  c.cpl = cpl;
  pagingStateChanged(c);
}

/**
 * After a return to an outer privilege level (RET far, IRET), ES, DS, FS
 * and GS holding data or non-conforming code segments more privileged than
 * the new CPL become null (SDM Vol. 2B RET "Operation", Vol. 2A IRET):
 * selector 0, unusable.
 */
export function invalidateOuterSegments(c: Cpu): void {
  for (const s of DATA_SEGMENTS) {
    const attr = c.segAttr[s]!;
    if ((attr & AR_UNUSABLE) !== 0 || (attr & (AR_S | AR_P)) !== (AR_S | AR_P)) continue;
    const conformingCode = (attr & (TYPE_CODE | TYPE_CONFORMING)) === (TYPE_CODE | TYPE_CONFORMING);
    if (!conformingCode && ((attr & AR_DPL) >> 5) < c.cpl) {
      c.segSel[s] = 0;
      c.segAttr[s] = attr | AR_UNUSABLE;
      updateSegmentRange(c, s);
    }
  }
}
