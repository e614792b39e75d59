/**
 * Puts a core into a flat execution mode without going through the boot
 * sequence: 16-bit real mode, 32-bit protected mode or 64-bit mode, all
 * segment bases 0 (real mode: selector 0), CPL 0, interrupts off. Loaders
 * of the project's own 64-bit test programs and the unit tests start here.
 *
 * 64-bit mode architecturally requires paging. Here the MMU's identity
 * translation stands in for identity-mapped page tables only until
 * something tells the paging unit about a change (pagingStateChanged: a
 * MOV CR0/CR4, an EFER write, a CPL change): from then on CR3 is walked for
 * real, so a program that does such things must first get real tables
 * (memory/identityMap.ts mapIdentity, as the loaders do).
 */
import type { Cpu } from './cpu.ts';
import { IF } from './flags.ts';
import { Seg } from './registers.ts';
import { AR_UNUSABLE } from './system/descriptor.ts';
import { updateMode } from './system/mode.ts';

/** Access rights of flat segments in the VMX format (SDM Vol. 3C §24.4.1). */
const CODE64 = 0xa09b, CODE32 = 0xc09b, DATA32 = 0xc093, REAL = 0x0093;
/** A busy 32/64-bit TSS (type 11, present). */
const TSS_BUSY = 0x8b;

/**
 * Besides the segments: no LDT, and TR names a busy TSS of limit 0 at base
 * 0, i.e. no usable TSS: a privilege change through a gate raises #TS and
 * the I/O permission bitmap denies every port, until a loader runs LTR.
 * GDTR and IDTR keep their values (INIT: base 0, limit 0xFFFF).
 */
export function enterFlatMode(c: Cpu, bits: 16 | 32 | 64): void {
  c.cpl = 0;
  c.eflags &= ~IF;
  for (let s = 0; s < 6; s++) {
    c.segSel[s] = bits === 16 ? 0 : s === Seg.CS ? 0x08 : 0x10;
    c.sys.descBase[s] = 0;
    c.segLimit[s] = bits === 16 ? 0xffff : 0xffffffff;
    c.segAttr[s] = bits === 16 ? REAL | (s === Seg.CS ? 0x8 : 0) : s === Seg.CS ? (bits === 64 ? CODE64 : CODE32) : DATA32;
  }
  c.sys.ldtrSel = 0;
  c.sys.ldtrAttr = AR_UNUSABLE;
  c.sys.trSel = 0;
  c.sys.trBase = 0;
  c.sys.trLimit = 0;
  c.sys.trAttr = TSS_BUSY;
  if (bits === 16) {
    c.cr0 = 0x60000010;
    c.efer = 0;
  } else if (bits === 32) {
    c.cr0 = 0x00000011;
    c.efer = 0;
  } else {
    c.cr0 = 0x80000011; // PE, ET, PG
    c.cr4 = 0x20; // PAE
    c.efer = 0x500; // LME, LMA
  }
  updateMode(c);
  c.flushJumpCache();
}
