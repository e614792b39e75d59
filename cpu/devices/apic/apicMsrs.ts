/**
 * The local APIC's MSRs: IA32_APIC_BASE (1BH, SDM Vol. 3A §11.4.4, Figure
 * 11-5, and §11.12.1 for EXTD), IA32_TSC_DEADLINE (6E0H, §11.5.4.1) and
 * the x2APIC register range (x2apicMsrs.ts).
 */
import type { Cpu } from '../../cpu.ts';
import { fault, Vector } from '../../exceptions.ts';
import type { MsrDef } from '../../msr/msrDef.ts';
import { TWO32 } from '../../registers.ts';
import { ApicMode } from './localApic.ts';
import { requireLocalApic } from './registry.ts';
import { X2APIC_MSRS } from './x2apicMsrs.ts';

const BSP = 1 << 8, EXTD = 1 << 10, EN = 1 << 11;
/** Bits 7:0 and 9 are reserved. */
const RESERVED_LO = 0x2ff;

const apicBase: MsrDef = {
  index: 0x1b,
  name: 'IA32_APIC_BASE',
  read(c) {
    const a = requireLocalApic(c);
    c.opHi = Math.floor(a.base / TWO32);
    return (a.base % TWO32) | (a.bsp ? BSP : 0) | (a.mode === ApicMode.X2Apic ? EXTD : 0) | (a.mode !== ApicMode.Disabled ? EN : 0);
  },
  /** Reserved: bits 7:0, 9, MAXPHYADDR and up, and EXTD without x2APIC support (#GP(0)). */
  write(c, lo, hi) {
    const a = requireLocalApic(c);
    const hiBits = c.model.physAddrBits - 32;
    if ((lo & RESERVED_LO) !== 0 || (hi >>> hiBits) !== 0) fault(Vector.GP, 0);
    if ((lo & EXTD) !== 0 && !c.model.has('x2apic')) fault(Vector.GP, 0);
    const base = (hi >>> 0) * TWO32 + ((lo & 0xfffff000) >>> 0);
    a.setApicBase(base, (lo & BSP) !== 0, (lo & EN) !== 0, (lo & EXTD) !== 0);
  },
};

function deadlineApic(c: Cpu) {
  if (!c.model.has('tscDeadline')) fault(Vector.GP, 0);
  return requireLocalApic(c);
}

const tscDeadline: MsrDef = {
  index: 0x6e0,
  name: 'IA32_TSC_DEADLINE',
  read: (c) => deadlineApic(c).timer.readDeadline(c),
  write: (c, lo, hi) => deadlineApic(c).timer.writeDeadline(lo, hi),
};

export const APIC_MSRS: MsrDef[] = [apicBase, tscDeadline, ...X2APIC_MSRS];
