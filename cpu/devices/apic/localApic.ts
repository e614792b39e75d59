/**
 * One core's local APIC (SDM Vol. 3A ch. 11): its registers in the form
 * both interfaces share (the xAPIC page, xapicMmio.ts, and the x2APIC
 * MSRs, x2apicMsrs.ts), interrupt acceptance and priorities (§11.8), the
 * local interrupt pins LINT0/LINT1, and the InterruptSource the core asks
 * for maskable interrupts.
 *
 * Raising an event on the core: a deliverable interrupt sets
 * cpu.eventsPending (and exitBlock, as the raise may come from inside an
 * instruction); NMI, INIT and SIPI set the core's nmiPending, initPending
 * and sipiVector. The core's serviceEvents takes them from there.
 */
import { Activity, type Cpu } from '../../cpu.ts';
import { fault, Vector } from '../../exceptions.ts';
import type { InterruptSource } from '../../interrupts/source.ts';
import type { ApicBus } from './apicBus.ts';
import { ApicTimer } from './apicTimer.ts';
import { LintPins } from './lintPins.ts';
import {
  APIC_VERSION, ApicReg, DEFAULT_APIC_BASE, DeliveryMode, ESR_RECEIVE_ILLEGAL_VECTOR, ESR_SEND_ILLEGAL_VECTOR,
  ICR_ASSERT, ICR_DEST_LOGICAL, ICR_LEVEL, ICR_LO_WRITABLE, ICR_SHORTHAND_SHIFT, isLvt, LVT_BITS, LVT_DELIVERY_MODE,
  LVT_MASKED, LVT_REMOTE_IRR, LVT_VECTOR, SVR_ENABLE, SVR_WRITABLE,
  TIMER_DEADLINE_BIT,
} from './registers.ts';
import { clearVector, hasVector, highestVector, newVectorSet, setVector } from './vectorSet.ts';

/** IA32_APIC_BASE states (§11.12.5.1). */
export const enum ApicMode { Disabled = 0, XApic = 1, X2Apic = 2 }

/** An 8259-compatible controller behind LINT0 in ExtINT mode (§11.5.1): its INTR output and its INTA cycle. */
export interface ExtIntController {
  intr(): boolean;
  inta(): number;
}

export class LocalApic implements InterruptSource {
  /** The x2APIC ID, fixed by hardware: the core's index. */
  readonly x2apicId: number;
  /** The 8-bit xAPIC ID (APIC ID register bits 31:24, writable in xAPIC mode). */
  xapicId: number;
  mode = ApicMode.XApic;
  /** IA32_APIC_BASE fields: the 4-KiB-aligned base, the BSP flag. */
  base = DEFAULT_APIC_BASE;
  bsp: boolean;
  readonly irr = newVectorSet();
  readonly isr = newVectorSet();
  readonly tmr = newVectorSet();
  tpr = 0;
  ldr = 0;
  dfr = 0xffffffff;
  svr = 0xff;
  /** The ESR as last updated by a write, and the errors logged since (§11.5.3). */
  esr = 0;
  private errors = 0;
  private errorArmed = true;
  /** LVT registers by register index (writable bits; remote IRR is composed on read). */
  private readonly lvt = new Uint32Array(0x40);
  icrLo = 0;
  icrHi = 0;
  /** LINT0 and LINT1. */
  readonly lint: LintPins = new LintPins(this);
  /** An ExtINT message from an I/O APIC or ICR waits for its INTA. */
  private extIntRequested = false;
  /** The 8259 on LINT0 (the BSP's, in virtual-wire mode). */
  extInt: ExtIntController | null = null;
  readonly timer: ApicTimer;
  /** Told when the base or the mode changes (the xAPIC page follows the base). */
  onBaseChange: ((a: LocalApic) => void) | null = null;

  constructor(readonly cpu: Cpu, readonly bus: ApicBus, bsp: boolean) {
    this.x2apicId = cpu.id;
    this.xapicId = cpu.id & 0xff;
    this.bsp = bsp;
    this.timer = new ApicTimer(this);
    this.resetRegisters();
  }

  get enabled(): boolean {
    return this.mode !== ApicMode.Disabled;
  }

  get isX2(): boolean {
    return this.mode === ApicMode.X2Apic;
  }

  /** The APIC ID destinations are matched against in the current mode. */
  get apicId(): number {
    return this.isX2 ? this.x2apicId : this.xapicId;
  }

  get softwareEnabled(): boolean {
    return (this.svr & SVR_ENABLE) !== 0;
  }

  get lvtTimer(): number {
    return this.lvt[ApicReg.LVT_TIMER]!;
  }

  get tscDeadlineSupported(): boolean {
    return this.cpu.model.has('tscDeadline');
  }

  // ---- register semantics shared by the xAPIC and x2APIC interfaces ----------

  /**
   * Reads register `reg` as the current mode presents it (32 bits, unsigned),
   * or undefined if the mode has no readable register there.
   */
  readRegister(reg: number): number | undefined {
    const x2 = this.isX2;
    switch (reg) {
      case ApicReg.ID: return x2 ? this.x2apicId : (this.xapicId << 24) >>> 0;
      case ApicReg.VERSION: return APIC_VERSION;
      case ApicReg.TPR: return this.tpr;
      case ApicReg.APR: return x2 ? undefined : this.apr();
      case ApicReg.PPR: return this.ppr();
      case ApicReg.EOI: return x2 ? undefined : 0; // write-only
      case ApicReg.RRD: return x2 ? undefined : 0; // remote read is not supported (§11.4.1)
      case ApicReg.LDR: return this.ldr >>> 0;
      case ApicReg.DFR: return x2 ? undefined : this.dfr >>> 0;
      case ApicReg.SVR: return this.svr;
      case ApicReg.ESR: return this.esr;
      case ApicReg.ICR_LO: return this.icrLo >>> 0;
      case ApicReg.ICR_HI: return x2 ? undefined : this.icrHi >>> 0;
      case ApicReg.TIMER_INITIAL: return this.timer.initial;
      case ApicReg.TIMER_CURRENT: return this.timer.currentCount();
      case ApicReg.TIMER_DIVIDE: return this.timer.divideConfig;
    }
    if (reg >= ApicReg.ISR && reg < ApicReg.ISR + 8) return this.isr[reg - ApicReg.ISR]!;
    if (reg >= ApicReg.TMR && reg < ApicReg.TMR + 8) return this.tmr[reg - ApicReg.TMR]!;
    if (reg >= ApicReg.IRR && reg < ApicReg.IRR + 8) return this.irr[reg - ApicReg.IRR]!;
    if (isLvt(reg)) return this.readLvt(reg);
    return undefined;
  }

  private readLvt(reg: number): number {
    const v = this.lvt[reg]!;
    const pin = reg === ApicReg.LVT_LINT0 ? 0 : reg === ApicReg.LVT_LINT1 ? 1 : -1;
    return (pin >= 0 && this.lint.remoteIrr[pin] ? v | LVT_REMOTE_IRR : v) >>> 0;
  }

  /** An LVT register's stored value (for the timer and the LINT pins). */
  lvtValue(reg: number): number {
    return this.lvt[reg]!;
  }

  /** TPR write (§11.8.3.1); CR8 mirrors TPR[7:4] (§11.8.6.1). */
  setTpr(v: number): void {
    this.tpr = v & 0xff;
    this.cpu.cr8 = this.tpr >>> 4;
    this.kick();
  }

  /** Bits of an LVT entry software may set (timer bit 18 only with TSC-deadline support). */
  private lvtWritable(reg: number): number {
    const w = LVT_BITS[reg]!.writable;
    return reg === ApicReg.LVT_TIMER && !this.tscDeadlineSupported ? w & ~TIMER_DEADLINE_BIT : w;
  }

  /** LVT write (§11.5.1): while software-disabled the mask bits stay set (§11.4.7.2). */
  setLvt(reg: number, v: number): void {
    let w = v & this.lvtWritable(reg);
    if (!this.softwareEnabled) w |= LVT_MASKED;
    const old = this.lvt[reg]!;
    this.lvt[reg] = w;
    if (reg === ApicReg.LVT_TIMER) this.timer.lvtChanged(old);
    else if (reg === ApicReg.LVT_LINT0) this.lint.serviceLevel(0);
    else if (reg === ApicReg.LVT_LINT1) this.lint.serviceLevel(1);
  }

  /** Spurious-interrupt vector register (§11.9): clearing the software enable masks every LVT entry (§11.4.7.2). */
  setSvr(v: number): void {
    this.svr = v & SVR_WRITABLE;
    if (this.softwareEnabled) return;
    for (const reg of Object.keys(LVT_BITS)) {
      const r = Number(reg);
      if (this.lvt[r]! & LVT_MASKED) continue;
      const old = this.lvt[r]!;
      this.lvt[r] = old | LVT_MASKED;
      if (r === ApicReg.LVT_TIMER) this.timer.lvtChanged(old);
    }
  }

  /** ESR write (§11.5.3): the ESR takes the errors logged since the last write, which also rearms the error interrupt. */
  writeEsr(): void {
    this.esr = this.errors;
    this.errors = 0;
    this.errorArmed = true;
  }

  /** Logs an error (§11.5.3) and signals it once through the LVT error entry until the ESR is next written. */
  raiseError(bit: number): void {
    this.errors |= bit;
    if (!this.errorArmed) return;
    this.errorArmed = false;
    const lvt = this.lvt[ApicReg.LVT_ERROR]!;
    if (!(lvt & LVT_MASKED)) this.acceptFixed(lvt & LVT_VECTOR, false);
  }

  /** xAPIC ICR write of the low half (sends) or a whole x2APIC ICR write. */
  writeIcr(lo: number, hi: number): void {
    this.icrLo = lo & ICR_LO_WRITABLE;
    this.icrHi = hi;
    const mode = (lo >>> 8) & 7;
    const vector = lo & 0xff;
    if ((mode === DeliveryMode.Fixed || mode === DeliveryMode.LowestPriority) && vector < 16) {
      this.raiseError(ESR_SEND_ILLEGAL_VECTOR);
      return;
    }
    this.bus.send({
      vector,
      mode,
      logical: (lo & ICR_DEST_LOGICAL) !== 0,
      dest: this.isX2 ? hi >>> 0 : hi >>> 24,
      level: (lo & ICR_LEVEL) !== 0,
      assert: (lo & ICR_ASSERT) !== 0,
      shorthand: (lo >>> ICR_SHORTHAND_SHIFT) & 3,
      x2: this.isX2,
      from: this,
    });
  }

  /** x2APIC SELF IPI register (§11.12.11): a fixed, edge-triggered IPI to this APIC. */
  selfIpi(vector: number): void {
    if (vector < 16) {
      this.raiseError(ESR_SEND_ILLEGAL_VECTOR);
      return;
    }
    this.acceptFixed(vector, false);
  }

  // ---- priorities (§11.8.3.1) ------------------------------------------------

  /** PPR: TPR if its class is at least the highest in-service class, else that class. */
  ppr(): number {
    const isrv = highestVector(this.isr);
    return this.tpr >>> 4 >= isrv >> 4 ? this.tpr : isrv & 0xf0;
  }

  /** APR, computed as the SDM gives it for the xAPIC (§11.6.2.4, Figure 11-15). */
  private apr(): number {
    const tprClass = this.tpr >>> 4;
    const irrv = Math.max(highestVector(this.irr), 0) >> 4;
    const isrv = Math.max(highestVector(this.isr), 0) >> 4;
    if (tprClass >= irrv && tprClass > isrv) return this.tpr;
    return Math.max(tprClass & isrv, irrv) << 4;
  }

  // ---- acceptance --------------------------------------------------------------

  /**
   * A fixed (or lowest-priority) interrupt arrives (§11.8.4): vectors 0-15
   * are illegal; a software-disabled APIC drops it; the TMR bit records the
   * trigger mode.
   */
  acceptFixed(vector: number, level: boolean): void {
    if (vector < 16) {
      this.raiseError(ESR_RECEIVE_ILLEGAL_VECTOR);
      return;
    }
    if (!this.softwareEnabled) return;
    setVector(this.irr, vector);
    if (level) setVector(this.tmr, vector);
    else clearVector(this.tmr, vector);
    this.kick();
  }

  acceptNmi(): void {
    const c = this.cpu;
    c.nmiPending = true;
    c.eventsPending = true;
    c.exitBlock = true;
  }

  /**
   * INIT (§11.4.7.3, §11.12.5.1): the APIC's registers return to their
   * reset values except the ID and IA32_APIC_BASE; the core's INIT handling
   * (serviceEvents) does the rest.
   */
  acceptInit(): void {
    this.resetRegisters();
    const c = this.cpu;
    c.initPending = true;
    c.eventsPending = true;
    c.exitBlock = true;
  }

  /** Start-up IPI (§11.4.4.1): taken only by a core in wait-for-SIPI (or about to enter it); otherwise dropped. */
  acceptSipi(vector: number): void {
    const c = this.cpu;
    if (c.activity !== Activity.WaitForSipi && !c.initPending) return;
    c.sipiVector = vector;
    c.eventsPending = true;
    c.exitBlock = true;
  }

  acceptExtInt(): void {
    this.extIntRequested = true;
    this.kick();
  }

  /** Tells the core when a maskable interrupt is ready. */
  kick(): void {
    if (!this.hasInterrupt()) return;
    this.cpu.eventsPending = true;
    this.cpu.exitBlock = true;
  }

  /** The level on LINT0/LINT1 (the BSP's LINT0 carries the 8259's INTR). */
  setLint(pin: 0 | 1, level: boolean): void {
    this.lint.set(pin, level);
  }

  /** Delivers through an LVT entry (timer, thermal, perf, CMCI: fixed, NMI, INIT or SMI). */
  deliverLvt(reg: number): void {
    const lvt = this.lvt[reg]!;
    if (lvt & LVT_MASKED) return;
    switch ((lvt & LVT_DELIVERY_MODE) >>> 8) {
      case DeliveryMode.Fixed: this.acceptFixed(lvt & LVT_VECTOR, false); break;
      case DeliveryMode.Nmi: this.acceptNmi(); break;
      case DeliveryMode.Init: this.acceptInit(); break;
      default: break;
    }
  }

  timerExpired(): void {
    this.deliverLvt(ApicReg.LVT_TIMER);
  }

  // ---- the core's side: InterruptSource, EOI -----------------------------------

  private lint0ExtInt(): boolean {
    const lvt = this.lvt[ApicReg.LVT_LINT0]!;
    return !(lvt & LVT_MASKED) && (lvt & LVT_DELIVERY_MODE) >>> 8 === DeliveryMode.ExtInt;
  }

  private fixedReady(): number {
    const v = highestVector(this.irr);
    return v >= 0 && (v & 0xf0) > (this.ppr() & 0xf0) ? v : -1;
  }

  private extIntReady(): boolean {
    if (this.extIntRequested) return true;
    const pic = this.extInt;
    return pic !== null && (!this.enabled || this.lint0ExtInt()) && pic.intr();
  }

  /** A maskable interrupt can be delivered: an IRR vector above the PPR's class (§11.8.3.1), or ExtINT. */
  hasInterrupt(): boolean {
    if (this.enabled && this.fixedReady() >= 0) return true;
    return this.extIntReady();
  }

  /**
   * The core takes the interrupt (its INTA cycle): the IRR bit moves to the
   * ISR (§11.8.4); an ExtINT takes its vector from the 8259. With nothing
   * deliverable any more, the spurious vector (§11.9).
   */
  acknowledge(): number {
    const v = this.enabled ? this.fixedReady() : -1;
    if (v >= 0) {
      clearVector(this.irr, v);
      setVector(this.isr, v);
      return v;
    }
    if (this.extIntReady()) {
      this.extIntRequested = false;
      if (this.extInt) return this.extInt.inta();
    }
    return this.svr & 0xff;
  }

  /**
   * EOI (§11.8.5): clears the highest in-service bit; for a level-triggered
   * vector, clears a LINT pin's remote IRR and broadcasts the EOI to the
   * I/O APICs (no EOI-broadcast suppression in this model).
   */
  eoi(): void {
    const v = highestVector(this.isr);
    if (v < 0) return;
    clearVector(this.isr, v);
    if (hasVector(this.tmr, v)) {
      this.lint.eoi(v);
      this.bus.broadcastEoi(v);
    }
    this.kick();
  }

  // ---- IA32_APIC_BASE (§11.4.4, §11.12.5) -------------------------------------

  /**
   * Applies a new enable/x2APIC state and base (already checked for reserved
   * bits by the MSR). Transitions follow Figure 11-27: x2APIC to xAPIC and
   * disabled to x2APIC raise #GP, as does EN=0 with EXTD=1.
   */
  setApicBase(base: number, bsp: boolean, en: boolean, extd: boolean): void {
    const next = en ? (extd ? ApicMode.X2Apic : ApicMode.XApic) : extd ? -1 : ApicMode.Disabled;
    if (next === -1) fault(Vector.GP, 0);
    if (this.mode === ApicMode.X2Apic && next === ApicMode.XApic) fault(Vector.GP, 0);
    if (this.mode === ApicMode.Disabled && next === ApicMode.X2Apic) fault(Vector.GP, 0);
    const old = this.mode;
    this.base = base;
    this.bsp = bsp;
    this.mode = next as ApicMode;
    if (next === ApicMode.Disabled && old !== ApicMode.Disabled) {
      // Register state does not survive the disabled state, except the IDs (§11.12.5.1).
      this.resetRegisters();
    } else if (next === ApicMode.X2Apic && old === ApicMode.XApic) {
      this.ldr = this.x2apicLdr();
    }
    this.onBaseChange?.(this);
    this.kick();
  }

  /** The logical x2APIC ID, derived from the x2APIC ID: cluster ID[19:4], member bit 1 << ID[3:0] (§11.12.10.2). */
  private x2apicLdr(): number {
    return ((this.x2apicId >>> 4) << 16) | (1 << (this.x2apicId & 0xf));
  }

  /**
   * Registers to their power-up values (§11.4.7.1, §11.12.5.1): IRR, ISR,
   * TMR, ICR, LDR, TPR, timer counts and divide zero; LVT entries masked;
   * SVR 0FFH; DFR all ones. The IDs are kept; in x2APIC mode the LDR stays
   * derived from the x2APIC ID.
   */
  private resetRegisters(): void {
    this.irr.fill(0);
    this.isr.fill(0);
    this.tmr.fill(0);
    this.tpr = 0;
    this.cpu.cr8 = 0;
    this.ldr = this.isX2 ? this.x2apicLdr() : 0;
    this.dfr = 0xffffffff;
    this.svr = 0xff;
    this.esr = this.errors = 0;
    this.errorArmed = true;
    this.lvt.fill(0);
    for (const reg of Object.keys(LVT_BITS)) this.lvt[Number(reg)] = LVT_MASKED;
    this.icrLo = this.icrHi = 0;
    this.lint.reset();
    this.extIntRequested = false;
    this.timer.reset();
  }
}
