/**
 * The xAPIC interface (SDM Vol. 3A §11.4.1, Table 11-1): the 4-KiB page at
 * each core's APIC base, one MMIO device per distinct base, serving the
 * core the machine is running (phys.activeCore). Registers sit at 16-byte
 * aligned offsets and are meant to be accessed with aligned 32-bit loads and
 * stores; narrower reads see the register's bytes (bytes 4-15 of a slot read
 * as 0) and other writes are dropped (the SDM calls them model-specific).
 *
 * A core whose APIC is disabled, in x2APIC mode, or based elsewhere does not
 * decode the page (§11.12.2): its reads return all ones and its writes are
 * dropped, as for unbacked memory. Limitation: a page once used as an APIC
 * base stays MMIO for every core (PhysicalMemory cannot return it to RAM).
 */
import { cpuLog } from '../../log.ts';
import type { MmioDevice, PhysicalMemory } from '../../memory/physical.ts';
import { ApicMode, type LocalApic } from './localApic.ts';
import { ApicReg, ESR_ILLEGAL_REGISTER, isLvt } from './registers.ts';

const READ_ONLY = new Set<number>([ApicReg.VERSION, ApicReg.APR, ApicReg.PPR, ApicReg.RRD, ApicReg.TIMER_CURRENT]);

/** An xAPIC register read; an unimplemented offset logs an illegal-register-address error and reads 0. */
export function xapicRead(a: LocalApic, reg: number): number {
  const v = a.readRegister(reg);
  if (v !== undefined) return v;
  a.raiseError(ESR_ILLEGAL_REGISTER);
  return 0;
}

/** An xAPIC register write: reserved bits are ignored, read-only registers ignore writes. */
export function xapicWrite(a: LocalApic, reg: number, v: number): void {
  switch (reg) {
    case ApicReg.ID: a.xapicId = v >>> 24; return;
    case ApicReg.TPR: a.setTpr(v); return;
    case ApicReg.EOI: a.eoi(); return;
    case ApicReg.LDR: a.ldr = v & 0xff000000; return;
    case ApicReg.DFR: a.dfr = (v | 0x0fffffff) >>> 0; return; // bits 27:0 read as ones
    case ApicReg.SVR: a.setSvr(v); return;
    case ApicReg.ESR: a.writeEsr(); return;
    case ApicReg.ICR_LO: a.writeIcr(v, a.icrHi); return;
    case ApicReg.ICR_HI: a.icrHi = v & 0xff000000; return;
    case ApicReg.TIMER_INITIAL: a.timer.writeInitial(v); return;
    case ApicReg.TIMER_DIVIDE: a.timer.writeDivide(v); return;
  }
  if (isLvt(reg)) a.setLvt(reg, v);
  else if (!READ_ONLY.has(reg) && !(reg >= ApicReg.ISR && reg < ApicReg.IRR + 8)) a.raiseError(ESR_ILLEGAL_REGISTER);
}

class XapicPage implements MmioDevice {
  readonly name: string;

  constructor(private readonly phys: PhysicalMemory, private readonly apics: readonly LocalApic[], readonly base: number) {
    this.name = `local APIC page at 0x${base.toString(16)}`;
  }

  private apic(): LocalApic | undefined {
    const a = this.apics[this.phys.activeCore];
    return a && a.mode === ApicMode.XApic && a.base === this.base ? a : undefined;
  }

  read(off: number, size: number): number {
    const a = this.apic();
    if (!a) return size === 4 ? -1 : size === 2 ? 0xffff : 0xff;
    const byte = off & 0xf;
    const v = byte < 4 ? xapicRead(a, (off >>> 4) & 0xff) : 0;
    let r = 0;
    for (let k = 0; k < size; k++) {
      const b = byte + k;
      if (b < 4) r |= ((v >>> (8 * b)) & 0xff) << (8 * k);
    }
    return size === 4 ? r | 0 : r >>> 0;
  }

  write(off: number, size: number, value: number): void {
    const a = this.apic();
    if (!a || size !== 4 || (off & 0xf) !== 0) return;
    xapicWrite(a, (off >>> 4) & 0xff, value >>> 0);
  }
}

/** The xAPIC pages of one machine: one per base any core has used. */
export class XapicPages {
  private readonly pages = new Set<number>();

  constructor(private readonly phys: PhysicalMemory, private readonly apics: readonly LocalApic[]) {}

  /** Makes the page at `base` decode as an xAPIC page (once per base). */
  ensure(base: number): void {
    if (this.pages.has(base)) return;
    this.pages.add(base);
    try {
      this.phys.addMmio(base, 0x1000, new XapicPage(this.phys, this.apics, base));
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      cpuLog.warn(`APIC base 0x${base.toString(16)} overlaps another device: the xAPIC page is not reachable there`);
    }
  }
}
