/**
 * The operating mode and what derives from it (SDM Vol. 3A §2.2, Figure 2-3;
 * §5.2.1): real mode (CR0.PE = 0), protected mode, virtual-8086 mode
 * (EFLAGS.VM = 1), and IA-32e mode (EFER.LMA = 1) with its 64-bit
 * (CS.L = 1) and compatibility sub-modes. The code size comes from CS.L and
 * CS.D, the stack-pointer width from SS.B; in 64-bit mode the ES, CS, SS and
 * DS bases read as 0 (§3.4.4) and segment limits are not checked.
 */
import type { Cpu } from '../cpu.ts';
import { VM } from '../flags.ts';
import { Seg } from '../registers.ts';
import { AR_DB, AR_L, AR_S, AR_UNUSABLE, TYPE_CODE, TYPE_EXPAND_DOWN } from './descriptor.ts';

export const CR0_PE = 0x1, CR0_MP = 0x2, CR0_EM = 0x4, CR0_TS = 0x8, CR0_ET = 0x10, CR0_NE = 0x20,
  CR0_WP = 0x10000, CR0_AM = 0x40000, CR0_NW = 0x20000000, CR0_CD = 0x40000000, CR0_PG = 0x80000000;
export const EFER_SCE = 0x1, EFER_LME = 0x100, EFER_LMA = 0x400, EFER_NXE = 0x800;

/** CR0.PE = 1 and not virtual-8086 mode: descriptor-based segment loads and privilege checks apply. */
export function inProtectedMode(c: Cpu): boolean {
  return (c.cr0 & CR0_PE) !== 0 && (c.eflags & VM) === 0;
}

export function inLongMode(c: Cpu): boolean {
  return (c.efer & EFER_LMA) !== 0;
}

/**
 * The range of valid offsets for data accesses through segment s (SDM
 * Vol. 3A §5.3): [0, limit] for expand-up segments, [limit + 1, 0xFFFF or
 * 0xFFFFFFFF by B] for expand-down data segments, and none for a segment
 * made unusable by a null selector in protected mode (§3.4.2: #GP(0)).
 */
export function updateSegmentRange(c: Cpu, s: number): void {
  const attr = c.segAttr[s]!, limit = c.segLimit[s]!;
  let lo = 0, hi = limit;
  if ((attr & AR_UNUSABLE) !== 0 && inProtectedMode(c)) {
    lo = 1;
    hi = 0;
  } else if ((attr & (AR_S | TYPE_CODE | TYPE_EXPAND_DOWN)) === (AR_S | TYPE_EXPAND_DOWN)) {
    lo = limit + 1;
    hi = (attr & AR_DB) !== 0 ? 0xffffffff : 0xffff;
  }
  c.sys.segLo[s] = lo;
  c.sys.segHi[s] = hi;
}

/** Sets the descriptor-cache base of segment s and the effective base address computation uses. */
export function setSegmentBase(c: Cpu, s: number, base: number): void {
  c.sys.descBase[s] = base;
  c.segBase[s] = c.codeSize === 64 && s < Seg.FS ? 0 : base;
}

/**
 * Derives code size, stack-pointer width, effective bases and limit ranges
 * from CR0, EFER, EFLAGS.VM, CS and SS. Called after every change of any
 * of them; drops the jump cache when the code size or the CS base changed.
 */
export function updateMode(c: Cpu): void {
  const oldSize = c.codeSize, oldCsBase = c.segBase[Seg.CS];
  if (inLongMode(c) && (c.segAttr[Seg.CS]! & AR_L) !== 0) {
    c.codeSize = 64;
    c.stackSize = 8;
  } else if ((c.eflags & VM) !== 0) {
    c.codeSize = 16;
    c.stackSize = 2;
  } else {
    c.codeSize = (c.segAttr[Seg.CS]! & AR_DB) !== 0 ? 32 : 16;
    c.stackSize = (c.segAttr[Seg.SS]! & AR_DB) !== 0 ? 4 : 2;
  }
  for (let s = 0; s < 6; s++) {
    setSegmentBase(c, s, c.sys.descBase[s]!);
    updateSegmentRange(c, s);
  }
  if (c.codeSize !== oldSize || c.segBase[Seg.CS] !== oldCsBase) c.flushJumpCache();
}
