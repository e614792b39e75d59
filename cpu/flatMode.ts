/**
 * Puts a core into a flat execution mode without going through the boot
 * sequence: 16-bit real mode, 32-bit protected mode or 64-bit mode, all
 * segment bases 0 (real mode: selector 0), CPL 0, interrupts off. Loaders
 * of the project's own 64-bit test programs and the unit tests start here.
 *
 * 64-bit mode architecturally requires paging. Until the paging walker
 * exists the MMU's identity translation stands in for identity-mapped page
 * tables covering all of RAM, which is what the fixture would build.
 */
import type { Cpu } from './cpu.ts';
import { IF } from './flags.ts';
import { Seg } from './registers.ts';

/** Access rights of flat segments in the VMX format (SDM Vol. 3C §24.4.1). */
const CODE64 = 0xa09b, CODE32 = 0xc09b, DATA32 = 0xc093, REAL = 0x0093;

export function enterFlatMode(c: Cpu, bits: 16 | 32 | 64): void {
  c.codeSize = bits;
  c.stackSize = bits === 64 ? 8 : bits === 32 ? 4 : 2;
  c.cpl = 0;
  c.eflags &= ~IF;
  for (let s = 0; s < 6; s++) {
    c.segSel[s] = bits === 16 ? 0 : s === Seg.CS ? 0x08 : 0x10;
    c.segBase[s] = 0;
    c.segLimit[s] = bits === 16 ? 0xffff : 0xffffffff;
    c.segAttr[s] = bits === 16 ? REAL | (s === Seg.CS ? 0x8 : 0) : s === Seg.CS ? (bits === 64 ? CODE64 : CODE32) : DATA32;
  }
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
  c.flushJumpCache();
}
