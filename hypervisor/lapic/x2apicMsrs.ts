/**
 * The virtual APIC's MSRs as the guest's RDMSR and WRMSR see them (the MSR
 * bitmaps make them exit, exits/msrPassthrough.ts): the x2APIC registers
 * 800H-8FFH (SDM Vol. 3A §11.12.1, Table 11-6) and IA32_TSC_DEADLINE
 * (6E0H, §11.5.4.1). IA32_APIC_BASE is exits/virtualMsrs.ts's: the
 * x2APIC registers exist only while its EXTD bit (x2APIC mode) is set,
 * and raise #GP(0) otherwise (§11.12.2). L1 does not emulate the xAPIC
 * page: a guest switches to x2APIC mode to reach its APIC.
 *
 * The x2APIC rules (§11.12.1.2, §11.12.1.3): RDMSR of a write-only
 * register (EOI, SELF IPI) and WRMSR of a read-only one raise #GP(0), as do
 * an index with no register, a set reserved bit, a non-zero write to EOI or
 * ESR, and bits 63:32 of any register but the ICR.
 *
 * Every access first takes the timer's expiries up to now, so that a read
 * or a reprogramming sees them in order.
 */
import {
  APIC_VERSION, ApicReg, DIVIDE_WRITABLE, ICR_LO_WRITABLE, isLvt, LVT_BITS, SVR_WRITABLE, TIMER_DEADLINE_BIT, X2APIC_MSR_BASE,
} from '../../cpu/devices/apic/registers.ts';
import type { Vcpu } from '../vcpu.ts';
import { selfIpi, sendIpi } from './ipi.ts';
import type { VirtualLapic } from './virtualLapic.ts';

const IA32_TSC_DEADLINE = 0x6e0;
const X2APIC_LAST = 0x8ff;
/** IA32_APIC_BASE bit 10, EXTD: x2APIC mode (§11.12.1). */
const APIC_EXTD = 1n << 10n;
const TWO32 = 2 ** 32;

/** An MSR value as two 32-bit halves. */
export interface MsrValue { lo: number; hi: number }

/** The processor offers TSC-deadline mode (CPUID.01H:ECX[24], which the guest's CPUID passes on): IA32_TSC_DEADLINE and LVT timer bit 18 exist. */
function hasTscDeadline(v: Vcpu): boolean {
  return v.host.c.model.has('tscDeadline');
}

/** The MSRs the virtual APIC of `v` answers for. */
export function isApicMsr(v: Vcpu, index: number): boolean {
  return (index === IA32_TSC_DEADLINE && hasTscDeadline(v)) || (index >= X2APIC_MSR_BASE && index <= X2APIC_LAST);
}

/** The x2APIC registers are there: IA32_APIC_BASE.EXTD is set. */
function inX2apicMode(v: Vcpu): boolean {
  return (v.virtualMsrs.apicBase & APIC_EXTD) !== 0n;
}

/** A readable x2APIC register `reg`, or undefined (no register, or write-only). */
function readRegister(a: VirtualLapic, reg: number, now: number): number | undefined {
  switch (reg) {
    case ApicReg.ID: return a.id;
    case ApicReg.VERSION: return APIC_VERSION;
    case ApicReg.TPR: return a.tpr;
    case ApicReg.PPR: return a.ppr();
    case ApicReg.LDR: return a.ldr;
    case ApicReg.SVR: return a.svr;
    case ApicReg.ESR: return a.esr;
    case ApicReg.TIMER_INITIAL: return a.timer.initial;
    case ApicReg.TIMER_CURRENT: return a.timer.currentCount(now);
    case ApicReg.TIMER_DIVIDE: return a.timer.divideConfig;
  }
  if (reg >= ApicReg.ISR && reg < ApicReg.ISR + 8) return a.isr[reg - ApicReg.ISR]!;
  if (reg >= ApicReg.TMR && reg < ApicReg.TMR + 8) return a.tmr[reg - ApicReg.TMR]!;
  if (reg >= ApicReg.IRR && reg < ApicReg.IRR + 8) return a.irr[reg - ApicReg.IRR]!;
  if (isLvt(reg)) return a.lvt[reg]!;
  return undefined;
}

/** RDMSR of APIC MSR `index` at TSC `now`: the value, or null for #GP(0). */
export function readApicMsr(v: Vcpu, index: number, now: number): MsrValue | null {
  const a = v.lapic;
  a.pollTimer(now);
  if (index === IA32_TSC_DEADLINE) {
    const d = a.timer.readDeadline();
    return { lo: d % TWO32, hi: Math.floor(d / TWO32) };
  }
  if (!inX2apicMode(v)) return null;
  const reg = index - X2APIC_MSR_BASE;
  if (reg === ApicReg.ICR_LO) return { lo: a.icrLo, hi: a.icrHi };
  const value = readRegister(a, reg, now);
  return value === undefined ? null : { lo: value >>> 0, hi: 0 };
}

/** The 32-bit x2APIC register `reg` takes `lo` at TSC `now`; false for #GP(0). */
function writeRegister(v: Vcpu, reg: number, lo: number, now: number): boolean {
  const a = v.lapic;
  const fits = (mask: number): boolean => (lo & ~mask) === 0;
  if (isLvt(reg)) {
    const defined = reg === ApicReg.LVT_TIMER && !hasTscDeadline(v) ? LVT_BITS[reg]!.defined & ~TIMER_DEADLINE_BIT : LVT_BITS[reg]!.defined;
    if (!fits(defined)) return false;
    a.setLvt(reg, lo & LVT_BITS[reg]!.writable);
    return true;
  }
  switch (reg) {
    case ApicReg.TPR: if (!fits(0xff)) return false; a.tpr = lo; return true;
    case ApicReg.EOI: if (lo !== 0) return false; a.eoi(); return true;
    case ApicReg.SVR: if (!fits(SVR_WRITABLE)) return false; a.setSvr(lo); return true;
    case ApicReg.ESR: if (lo !== 0) return false; a.writeEsr(); return true;
    case ApicReg.TIMER_INITIAL: a.timer.writeInitial(lo, now); return true;
    case ApicReg.TIMER_DIVIDE: if (!fits(DIVIDE_WRITABLE)) return false; a.timer.writeDivide(lo, now); return true;
    case ApicReg.SELF_IPI: if (!fits(0xff)) return false; selfIpi(v, lo); return true;
    default: return false; // ID, version, PPR, LDR, ISR/TMR/IRR, current count, and no register at all
  }
}

/** WRMSR of hi:lo to APIC MSR `index` at TSC `now`; false for #GP(0). */
export function writeApicMsr(v: Vcpu, index: number, lo: number, hi: number, now: number): boolean {
  v.lapic.pollTimer(now);
  if (index === IA32_TSC_DEADLINE) {
    v.lapic.timer.writeDeadline(lo, hi);
    return true;
  }
  if (!inX2apicMode(v)) return false;
  const reg = index - X2APIC_MSR_BASE;
  if (reg === ApicReg.ICR_LO) {
    if ((lo & ~ICR_LO_WRITABLE) !== 0) return false;
    sendIpi(v, lo, hi);
    return true;
  }
  return hi === 0 && writeRegister(v, reg, lo, now);
}
