/**
 * The local APIC register map as data (SDM Vol. 3A §11.4.1 Table 11-1 for
 * xAPIC MMIO offsets, §11.12.1.2 Table 11-6 for the x2APIC MSRs). A
 * register is named by its index: the xAPIC MMIO offset divided by 16, which
 * is also the x2APIC MSR address minus 800H.
 */

export const enum ApicReg {
  ID = 0x02, VERSION = 0x03, TPR = 0x08, APR = 0x09, PPR = 0x0a, EOI = 0x0b, RRD = 0x0c,
  LDR = 0x0d, DFR = 0x0e, SVR = 0x0f, ISR = 0x10, TMR = 0x18, IRR = 0x20, ESR = 0x28,
  LVT_CMCI = 0x2f, ICR_LO = 0x30, ICR_HI = 0x31, LVT_TIMER = 0x32, LVT_THERMAL = 0x33,
  LVT_PERF = 0x34, LVT_LINT0 = 0x35, LVT_LINT1 = 0x36, LVT_ERROR = 0x37,
  TIMER_INITIAL = 0x38, TIMER_CURRENT = 0x39, TIMER_DIVIDE = 0x3e, SELF_IPI = 0x3f,
}

/** The xAPIC page is 4 KiB at the APIC base; x2APIC registers are MSRs 800H-8FFH. */
export const X2APIC_MSR_BASE = 0x800;
export const DEFAULT_APIC_BASE = 0xfee00000;

/**
 * Version register (§11.4.8, Figure 11-7): version 14H (an integrated
 * xAPIC), max LVT entry 6 (timer, thermal, perf, LINT0, LINT1, error,
 * CMCI: seven entries), bit 24 (EOI-broadcast suppression) clear: the
 * 82093AA-style IOAPIC has no EOI register, so suppression would strand
 * level-triggered interrupts.
 */
export const APIC_VERSION = 0x14 | (6 << 16);

// LVT fields (§11.5.1, Figure 11-8).
export const LVT_VECTOR = 0xff;
export const LVT_DELIVERY_MODE = 0x700;
export const LVT_DELIVERY_STATUS = 1 << 12;
export const LVT_POLARITY_LOW = 1 << 13;
export const LVT_REMOTE_IRR = 1 << 14;
export const LVT_LEVEL = 1 << 15;
export const LVT_MASKED = 1 << 16;
export const LVT_TIMER_MODE_SHIFT = 17;

/** Delivery modes of LVT entries, ICR and IOAPIC redirection entries (§11.5.1, §11.6.1). */
export const enum DeliveryMode { Fixed = 0, LowestPriority = 1, Smi = 2, Nmi = 4, Init = 5, StartUp = 6, ExtInt = 7 }

/** Timer modes, LVT timer bits 18:17 (§11.5.4, Table 11-2); 11b is reserved. */
export const enum TimerMode { OneShot = 0, Periodic = 1, TscDeadline = 2 }

// Spurious-interrupt vector register (§11.9, Figure 11-23): vector, APIC software enable, focus checking.
export const SVR_ENABLE = 1 << 8;
export const SVR_WRITABLE = 0x3ff;

// Error status register bits the model raises (§11.5.3, Figure 11-9).
export const ESR_SEND_ILLEGAL_VECTOR = 1 << 5;
export const ESR_RECEIVE_ILLEGAL_VECTOR = 1 << 6;
export const ESR_ILLEGAL_REGISTER = 1 << 7;

// Interrupt command register (§11.6.1, Figure 11-12); delivery status (bit 12) always reads idle.
export const ICR_DEST_LOGICAL = 1 << 11;
export const ICR_ASSERT = 1 << 14;
export const ICR_LEVEL = 1 << 15;
export const ICR_SHORTHAND_SHIFT = 18;
/** Writable ICR low bits: vector, delivery mode, destination mode, level, trigger mode, shorthand. */
export const ICR_LO_WRITABLE = 0x000ccfff;

export const enum Shorthand { None = 0, Self = 1, AllIncludingSelf = 2, AllExcludingSelf = 3 }

/**
 * Per-register bits: `defined` are the bits the register has (x2APIC
 * WRMSR of any other bit raises #GP, §11.12.1.3), `writable` those software
 * can change (the rest of `defined` are read-only: delivery status, remote IRR).
 */
export interface RegBits { defined: number; writable: number }

const lvt = (writable: number, readOnly: number): RegBits => ({ defined: (writable | readOnly) >>> 0, writable });

/** LVT entries, with their fields per Figure 11-8. Timer bit 18 exists only with TSC-deadline support. */
export const LVT_BITS: Readonly<Record<number, RegBits>> = {
  [ApicReg.LVT_TIMER]: lvt(0x700ff, LVT_DELIVERY_STATUS),
  [ApicReg.LVT_THERMAL]: lvt(0x107ff, LVT_DELIVERY_STATUS),
  [ApicReg.LVT_PERF]: lvt(0x107ff, LVT_DELIVERY_STATUS),
  [ApicReg.LVT_CMCI]: lvt(0x107ff, LVT_DELIVERY_STATUS),
  [ApicReg.LVT_LINT0]: lvt(0x1a7ff, LVT_DELIVERY_STATUS | LVT_REMOTE_IRR),
  [ApicReg.LVT_LINT1]: lvt(0x1a7ff, LVT_DELIVERY_STATUS | LVT_REMOTE_IRR),
  [ApicReg.LVT_ERROR]: lvt(0x100ff, LVT_DELIVERY_STATUS),
};

export const TIMER_DEADLINE_BIT = 1 << 18;

export function isLvt(reg: number): boolean {
  return LVT_BITS[reg] !== undefined;
}

/**
 * The divide configuration register (§11.5.4, Figure 11-10): bits 0, 1
 * and 3 select divide by 2, 4, 8, 16, 32, 64, 128 or (111b) 1.
 */
export const DIVIDE_WRITABLE = 0xb;
export function divisorOf(divideConfig: number): number {
  const v = ((divideConfig >> 1) & 4) | (divideConfig & 3);
  return v === 7 ? 1 : 2 << v;
}
