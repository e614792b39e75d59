/**
 * The virtual local APIC's timer (SDM Vol. 3A §11.5.4): one-shot, periodic
 * and TSC-deadline modes, in the guest's time.
 *
 * Time base: L1 sets no TSC offsetting, so the guest's TSC is its core's
 * TSC (DESIGN decision 3: retired instructions plus halted time), and the
 * timer's input clock is that TSC, as for the machine's own APIC timer
 * (cpu/devices/apic/apicTimer.ts): a count of N with divide-by-d expires
 * N × d TSC ticks after the initial count is written.
 *
 * L1 has no interrupt of its own to run the timer by. Like KVM's
 * "hv timer" (kvm_lapic_hv_timer), the timer is a deadline: L1 polls it
 * on every exit of the vCPU's core and before every access to the APIC
 * (`poll`), and bounds the VMX-preemption timer of the core's next entries
 * by it (l1/scheduler.ts), so that an exit comes when it falls due. The
 * current count is computed from the TSC when read.
 */
import { timerModeOf } from '../../cpu/devices/apic/apicTimer.ts';
import { LVT_MASKED, TimerMode } from '../../cpu/devices/apic/registers.ts';
import { TimerCount } from '../../cpu/devices/apic/timerCount.ts';
import { TWO32 } from '../../cpu/registers.ts';

export class LapicTimer {
  /** One-shot and periodic counting, in TSC ticks. */
  private readonly count = new TimerCount();
  /** IA32_TSC_DEADLINE (armed while non-zero in TSC-deadline mode); a deadline of 2^53 or more never comes. */
  private deadline = 0;

  /** `lvt` reads the LVT timer register. */
  constructor(private readonly lvt: () => number) {}

  private get mode(): TimerMode {
    return timerModeOf(this.lvt());
  }

  /** Initial-count register. */
  get initial(): number {
    return this.count.initial;
  }

  /** Divide configuration register. */
  get divideConfig(): number {
    return this.count.divideConfig;
  }

  /** Current-count register at TSC `now`: 0 in TSC-deadline mode and once a one-shot count has run out. */
  currentCount(now: number): number {
    return this.count.current(now, this.mode);
  }

  /** Initial-count write: (re)starts counting, 0 stops the timer; ignored in TSC-deadline mode (§11.5.4.1). */
  writeInitial(v: number, now: number): void {
    if (this.mode !== TimerMode.TscDeadline) this.count.writeInitial(v, now);
  }

  /** Divide-configuration write: the count reached so far goes on at the new rate (timerCount.ts). */
  writeDivide(v: number, now: number): void {
    this.count.writeDivide(v, now, this.mode);
  }

  /** The LVT timer register changed from `old`: a change of mode disarms the timer (§11.5.4.1). */
  lvtChanged(old: number): void {
    if (timerModeOf(old) !== this.mode) this.disarm();
  }

  /** IA32_TSC_DEADLINE read: 0 outside TSC-deadline mode and once the deadline has passed (it is polled first). */
  readDeadline(): number {
    return this.mode === TimerMode.TscDeadline ? this.deadline : 0;
  }

  /** IA32_TSC_DEADLINE write (hi:lo): arms, or disarms with 0, in TSC-deadline mode; ignored in the other modes. */
  writeDeadline(lo: number, hi: number): void {
    if (this.mode === TimerMode.TscDeadline) this.deadline = (hi >>> 0) * TWO32 + (lo >>> 0);
  }

  /** Back to the reset state (INIT, §11.4.7.3). */
  reset(): void {
    this.count.reset();
    this.disarm();
  }

  private disarm(): void {
    this.count.stop();
    this.deadline = 0;
  }

  /** The TSC at which the timer next expires with its interrupt unmasked, or Infinity. */
  nextExpiry(): number {
    if ((this.lvt() & LVT_MASKED) !== 0) return Infinity;
    if (this.mode === TimerMode.TscDeadline) return this.deadline === 0 ? Infinity : this.deadline;
    return this.count.due;
  }

  /**
   * Takes the expiries up to TSC `now`: true when the timer expired since
   * the last poll (periods missed in between make one interrupt: the IRR
   * holds one bit per vector). A one-shot count stops, a periodic one
   * reloads at its expiry so that periods never drift, a TSC deadline
   * disarms itself and clears the MSR. An expiry while the LVT entry is
   * masked is lost.
   */
  poll(now: number): boolean {
    const masked = (this.lvt() & LVT_MASKED) !== 0;
    if (this.mode === TimerMode.TscDeadline) {
      if (this.deadline === 0 || now < this.deadline) return false;
      this.deadline = 0;
      return !masked;
    }
    if (now < this.count.due) return false;
    this.count.expire(now, this.mode);
    return !masked;
  }
}
