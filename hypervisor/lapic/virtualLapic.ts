/**
 * The local APIC L1 gives each vCPU (KVM's lapic.c plays this part): an
 * x2APIC (SDM Vol. 3A §11.12) whose registers the guest reaches through
 * RDMSR/WRMSR exits (x2apicMsrs.ts), with its timer (lapicTimer.ts), the
 * IRR/ISR/TMR and priorities of §11.8, EOI, and the events that reach the
 * vCPU from other vCPUs' ICRs (ipi.ts).
 *
 * L1 offers the x2APIC only, and in x2APIC mode from the start (as firmware
 * may hand a processor over, §11.12.5): its x2APIC ID is the vCPU's index
 * and its logical ID follows from it (§11.12.10.2). Register state starts
 * at its power-up values (§11.4.7.1): software-disabled, every LVT entry
 * masked.
 *
 * Other vCPUs (on other cores too) only set bits here: a fixed interrupt in
 * the IRR, a pending NMI, INIT or SIPI (KVM's apic->pending_events), then
 * kick the target's core. The vCPU's own core takes them before its next
 * entry (l1/mpState.ts, l1/eventInjection.ts), as KVM does on the vCPU's
 * own thread.
 */
import { ApicReg, ESR_RECEIVE_ILLEGAL_VECTOR, LVT_BITS, LVT_MASKED, LVT_VECTOR, SVR_ENABLE } from '../../cpu/devices/apic/registers.ts';
import { clearVector, highestVector, newVectorSet, setVector } from '../../cpu/devices/apic/vectorSet.ts';
import { LapicTimer } from './lapicTimer.ts';

const LVT_REGISTERS = Object.keys(LVT_BITS).map(Number);
/** SVR at power-up: vector FFH, software-disabled (§11.9). */
const SVR_RESET = 0xff;

export class VirtualLapic {
  tpr = 0;
  svr = SVR_RESET;
  /** The ESR as the last write latched it, and the errors logged since (§11.5.3). */
  esr = 0;
  private errors = 0;
  private errorArmed = true;
  readonly irr = newVectorSet();
  readonly isr = newVectorSet();
  readonly tmr = newVectorSet();
  /** LVT registers by register index. */
  readonly lvt = new Uint32Array(0x40);
  icrLo = 0;
  icrHi = 0;
  readonly timer = new LapicTimer(() => this.lvt[ApicReg.LVT_TIMER]!);
  /** An NMI waits to be injected (KVM's nmi_pending). */
  nmiPending = false;
  /** An INIT waits for the vCPU's core; a SIPI's vector waits (-1: none) (KVM's KVM_APIC_INIT / KVM_APIC_SIPI). */
  initPending = false;
  sipiVector = -1;

  constructor(readonly id: number) {
    this.reset();
  }

  get softwareEnabled(): boolean {
    return (this.svr & SVR_ENABLE) !== 0;
  }

  /** The logical x2APIC ID: cluster ID[19:4] in bits 31:16, bit ID[3:0] set in 15:0 (§11.12.10.2). */
  get ldr(): number {
    return (((this.id >>> 4) << 16) | (1 << (this.id & 0xf))) >>> 0;
  }

  /** PPR: the TPR if its class is at least the highest in-service class, else that class (§11.8.3.1). */
  ppr(): number {
    const isrv = highestVector(this.isr);
    return this.tpr >>> 4 >= isrv >> 4 ? this.tpr : isrv & 0xf0;
  }

  /** The interrupt the APIC would present to the processor: the highest IRR vector above the PPR's class, or -1 (§11.8.3.1). */
  deliverable(): number {
    const v = highestVector(this.irr);
    return v >= 0 && (v & 0xf0) > (this.ppr() & 0xf0) ? v : -1;
  }

  /** The processor takes the deliverable interrupt (its INTA cycle): its IRR bit moves to the ISR (§11.8.4). */
  acknowledge(): number {
    const v = this.deliverable();
    clearVector(this.irr, v);
    setVector(this.isr, v);
    return v;
  }

  /** EOI (§11.8.5): clears the highest in-service bit. Nothing is level-triggered here (no I/O APIC), so nothing is broadcast. */
  eoi(): void {
    const v = highestVector(this.isr);
    if (v >= 0) clearVector(this.isr, v);
  }

  /**
   * A fixed interrupt arrives (§11.8.4): vectors 0-15 are illegal and log
   * a receive error; a software-disabled APIC drops it (§11.4.7.2). Every
   * interrupt L1 delivers is edge-triggered, so its TMR bit is cleared.
   */
  acceptFixed(vector: number): void {
    if (vector < 16) {
      this.logError(ESR_RECEIVE_ILLEGAL_VECTOR);
      return;
    }
    if (!this.softwareEnabled) return;
    setVector(this.irr, vector);
    clearVector(this.tmr, vector);
  }

  /** Delivers through LVT entry `reg` (the timer, the error entry): its vector as a fixed interrupt, unless masked. */
  deliverLvt(reg: number): void {
    const lvt = this.lvt[reg]!;
    if ((lvt & LVT_MASKED) === 0) this.acceptFixed(lvt & LVT_VECTOR);
  }

  /**
   * Logs an error (§11.5.3) and signals it through the LVT error entry,
   * once until the ESR is next written (as the machine's APIC does, so an
   * illegal vector in the LVT error entry cannot signal itself forever).
   */
  logError(bit: number): void {
    this.errors |= bit;
    if (!this.errorArmed) return;
    this.errorArmed = false;
    this.deliverLvt(ApicReg.LVT_ERROR);
  }

  /** ESR write: the ESR takes the errors logged since the last write, which also rearms the error interrupt (§11.5.3). */
  writeEsr(): void {
    this.esr = this.errors;
    this.errors = 0;
    this.errorArmed = true;
  }

  /** LVT write (§11.5.1) of bits already checked: while software-disabled the mask bit stays set (§11.4.7.2). */
  setLvt(reg: number, v: number): void {
    const old = this.lvt[reg]!;
    this.lvt[reg] = this.softwareEnabled ? v : v | LVT_MASKED;
    if (reg === ApicReg.LVT_TIMER) this.timer.lvtChanged(old);
  }

  /** SVR write: clearing the software enable masks every LVT entry (§11.4.7.2). */
  setSvr(v: number): void {
    this.svr = v;
    if (!this.softwareEnabled) for (const r of LVT_REGISTERS) this.lvt[r] = this.lvt[r]! | LVT_MASKED;
  }

  /** Takes the timer's expiries up to TSC `now` (lapicTimer.ts) into the IRR. */
  pollTimer(now: number): void {
    if (this.timer.poll(now)) this.deliverLvt(ApicReg.LVT_TIMER);
  }

  /**
   * Registers to their power-up values, as INIT leaves them (§11.4.7.1,
   * §11.4.7.3): IRR, ISR, TMR, ICR, TPR, the timer and the ESR cleared,
   * SVR FFH, every LVT entry masked; the ID stays. Pending events go too,
   * but for a SIPI, which the INIT's wait-for-SIPI state is there to take.
   */
  reset(): void {
    this.irr.fill(0);
    this.isr.fill(0);
    this.tmr.fill(0);
    this.tpr = 0;
    this.svr = SVR_RESET;
    this.esr = this.errors = 0;
    this.errorArmed = true;
    this.lvt.fill(0);
    for (const r of LVT_REGISTERS) this.lvt[r] = LVT_MASKED;
    this.icrLo = this.icrHi = 0;
    this.timer.reset();
    this.nmiPending = false;
    this.initPending = false;
  }
}
