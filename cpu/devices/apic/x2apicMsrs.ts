/**
 * The x2APIC interface (SDM Vol. 3A §11.12.1): the registers as MSRs
 * 800H + index (Table 11-6), reachable only in x2APIC mode (#GP(0)
 * otherwise, §11.12.2). The x2APIC-only rules: RDMSR of a write-only
 * register (EOI, SELF IPI) or WRMSR of a read-only one raises #GP(0); a
 * non-zero write to a reserved bit raises #GP(0) (§11.12.1.3), and so
 * does a non-zero write to EOI or ESR; the ICR is one 64-bit register
 * (destination in bits 63:32); there is no DFR, APR or RRD (those indices
 * are not in the table, so they #GP as unknown MSRs); the LDR is read-only.
 */
import type { Cpu } from '../../cpu.ts';
import { fault, Vector } from '../../exceptions.ts';
import type { MsrDef } from '../../msr/msrDef.ts';
import { ApicMode, type LocalApic } from './localApic.ts';
import { ApicReg, DIVIDE_WRITABLE, ICR_LO_WRITABLE, isLvt, LVT_BITS, SVR_WRITABLE, TIMER_DEADLINE_BIT, X2APIC_MSR_BASE } from './registers.ts';
import { requireLocalApic } from './registry.ts';

function x2apic(c: Cpu): LocalApic {
  const a = requireLocalApic(c);
  if (a.mode !== ApicMode.X2Apic) fault(Vector.GP, 0);
  return a;
}

function gpUnless(ok: boolean): void {
  if (!ok) fault(Vector.GP, 0);
}

function read(c: Cpu, reg: number): number {
  const a = x2apic(c);
  if (reg === ApicReg.ICR_LO) {
    c.opHi = a.icrHi;
    return a.icrLo;
  }
  const v = a.readRegister(reg);
  if (v === undefined) return fault(Vector.GP, 0); // EOI and SELF IPI are write-only
  c.opHi = 0;
  return v | 0;
}

function write(c: Cpu, reg: number, lo: number, hi: number): void {
  const a = x2apic(c);
  if (reg === ApicReg.ICR_LO) {
    gpUnless((lo & ~ICR_LO_WRITABLE) === 0);
    a.writeIcr(lo, hi);
    return;
  }
  gpUnless(hi === 0); // every other x2APIC register is 32 bits wide
  if (isLvt(reg)) {
    let defined = LVT_BITS[reg]!.defined;
    if (reg === ApicReg.LVT_TIMER && !a.tscDeadlineSupported) defined &= ~TIMER_DEADLINE_BIT;
    gpUnless((lo & ~defined) === 0);
    a.setLvt(reg, lo);
    return;
  }
  switch (reg) {
    case ApicReg.TPR: gpUnless((lo & ~0xff) === 0); a.setTpr(lo); return;
    case ApicReg.EOI: gpUnless(lo === 0); a.eoi(); return;
    case ApicReg.SVR: gpUnless((lo & ~SVR_WRITABLE) === 0); a.setSvr(lo); return;
    case ApicReg.ESR: gpUnless(lo === 0); a.writeEsr(); return;
    case ApicReg.TIMER_INITIAL: a.timer.writeInitial(lo); return;
    case ApicReg.TIMER_DIVIDE: gpUnless((lo & ~DIVIDE_WRITABLE) === 0); a.timer.writeDivide(lo); return;
    case ApicReg.SELF_IPI: gpUnless((lo & ~0xff) === 0); a.selfIpi(lo); return;
    default: fault(Vector.GP, 0); // ID, version, PPR, LDR, ISR/TMR/IRR, current count: read-only
  }
}

/** Table 11-6: the x2APIC registers and their MSR names. */
const REGISTERS: [number, string][] = [
  [ApicReg.ID, 'APICID'], [ApicReg.VERSION, 'VERSION'], [ApicReg.TPR, 'TPR'], [ApicReg.PPR, 'PPR'],
  [ApicReg.EOI, 'EOI'], [ApicReg.LDR, 'LDR'], [ApicReg.SVR, 'SIVR'],
  ...[0, 1, 2, 3, 4, 5, 6, 7].flatMap((k): [number, string][] => [
    [ApicReg.ISR + k, `ISR${k}`], [ApicReg.TMR + k, `TMR${k}`], [ApicReg.IRR + k, `IRR${k}`],
  ]),
  [ApicReg.ESR, 'ESR'], [ApicReg.LVT_CMCI, 'LVT_CMCI'], [ApicReg.ICR_LO, 'ICR'], [ApicReg.LVT_TIMER, 'LVT_TIMER'],
  [ApicReg.LVT_THERMAL, 'LVT_THERMAL'], [ApicReg.LVT_PERF, 'LVT_PMI'], [ApicReg.LVT_LINT0, 'LVT_LINT0'],
  [ApicReg.LVT_LINT1, 'LVT_LINT1'], [ApicReg.LVT_ERROR, 'LVT_ERROR'], [ApicReg.TIMER_INITIAL, 'INIT_COUNT'],
  [ApicReg.TIMER_CURRENT, 'CUR_COUNT'], [ApicReg.TIMER_DIVIDE, 'DIV_CONF'], [ApicReg.SELF_IPI, 'SELF_IPI'],
];

export const X2APIC_MSRS: MsrDef[] = REGISTERS.map(([reg, name]) => ({
  index: X2APIC_MSR_BASE + reg,
  name: `IA32_X2APIC_${name}`,
  read: (c: Cpu) => read(c, reg),
  write: (c: Cpu, lo: number, hi: number) => write(c, reg, lo, hi),
}));
